"""The narrated scenario of ``make demo``: real WebSocket clients against the applied example."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import boto3
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from local import demo_client, demo_features, demo_segments, tokens
from local.controlplane import aws_client
from local.demo_support import WAIT_S, StepFailed, check, http_call
from local.runtime import SHARD_SIZE_OVERRIDE_ENV
from local.stack import Options, Stack

# push does not prune a connection row younger than this (CONNECT_GRACE_SECONDS default).
CONNECT_GRACE_S = 10.0


class Demo:
    def __init__(self, stack: dict[str, Any]) -> None:
        self.stack = stack
        self.lam = boto3.client(
            "lambda",
            endpoint_url=stack["lambda_endpoint"],
            region_name=stack["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106
        )
        self.ddb = aws_client("dynamodb", stack["aws_endpoint"], stack["region"])
        self.clients: dict[str, ClientConnection] = {}
        self.passed = 0
        self.failed = 0

    # -- helpers ---------------------------------------------------------------------------
    async def connect(self, name: str, user: str, *, subprotocol: bool = False) -> ClientConnection:
        token = tokens.mint(self.stack, user)
        url = self.stack["websocket_url"]
        if subprotocol:
            ws = await websockets.connect(
                url, subprotocols=[Subprotocol("notify.v1"), Subprotocol(token)]
            )
        else:
            ws = await websockets.connect(f"{url}?token={token}")
        self.clients[name] = ws
        return ws

    async def push(self, request: dict[str, Any]) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            out = self.lam.invoke(
                FunctionName=self.stack["push_function_name"], Payload=json.dumps(request).encode()
            )
            check("FunctionError" not in out, f"push failed: {out.get('FunctionError')}")
            return json.loads(out["Payload"].read())  # type: ignore[no-any-return]

        return await asyncio.to_thread(call)

    @staticmethod
    async def receive(ws: ClientConnection, timeout: float = WAIT_S) -> dict[str, Any]:
        raw = await asyncio.wait_for(ws.recv(), timeout)
        return json.loads(raw)  # type: ignore[no-any-return]

    @staticmethod
    async def nothing(ws: ClientConnection, within: float = 1.0) -> bool:
        try:
            await asyncio.wait_for(ws.recv(), within)
        except TimeoutError:
            return True
        return False

    def connection_rows(self, user: str) -> list[str]:
        table = self.stack["tables"]["connections"]
        items = self.ddb.scan(TableName=table)["Items"]
        return [i["connectionId"]["S"] for i in items if i.get("userId", {}).get("S") == user]

    async def outlive_connect_window(self, user: str) -> None:
        """Wait until the user's rows are older than push's connect grace (CONNECT_GRACE_SECONDS,
        10 s): a younger row that answers 410 is still in its handshake and is never pruned."""
        table = self.stack["tables"]["connections"]
        items = self.ddb.scan(TableName=table)["Items"]
        newest = max(
            (int(i["connectedAt"]["N"]) for i in items if i.get("userId", {}).get("S") == user),
            default=0,
        )
        await asyncio.sleep(max(0.0, newest / 1000 + CONNECT_GRACE_S + 0.5 - time.time()))

    async def step(self, title: str, body: Callable[[], Awaitable[str]]) -> None:
        started = time.monotonic()
        try:
            detail = await body()
        except (StepFailed, Exception) as exc:  # every failure is reported, none aborts the rest
            self.failed += 1
            print(f"  FAIL  {title}\n        {type(exc).__name__}: {exc}", flush=True)
            return
        self.passed += 1
        print(
            f"  ok    {title} ({(time.monotonic() - started) * 1000:.0f} ms)\n        {detail}",
            flush=True,
        )

    # -- the scenario -------------------------------------------------------------------------
    async def run(self) -> bool:
        await self.step("alice connects from her phone (JWT in ?token=)", self.alice_phone)
        await self.step(
            "alice connects from her laptop (JWT in Sec-WebSocket-Protocol)", self.alice_laptop
        )
        await self.step("bob connects", self.bob)
        await self.step(
            "a backend pushes to alice with boto3 lambda.invoke: both of her devices "
            "get it, bob does not",
            self.push_alice,
        )
        await self.step(
            "alice subscribes to news:sports over the WebSocket; a backend pushes to the topic: "
            "both of alice's devices get it, bob (not subscribed) does not; alice reads the "
            "topic's history with poll",
            self.topic_push,
        )
        await self.step(
            "a notification for carol, who is offline, is stored with a TTL", self.push_carol
        )
        await self.step("carol connects later and fetches it with poll", self.carol_polls)
        await self.step("a bad token is refused at the handshake", self.bad_token)
        await self.step(
            "alice's laptop drops without a close frame; the next push finds the "
            "connection gone (410) and prunes it",
            self.prune,
        )
        await self.step(
            "a backend publishes to alice over the HTTP API (SigV4-signed POST "
            "/v1/notifications); alice's app reads her history with GET /v1/me/notifications",
            self.http_publish,
        )
        await self.step(
            "a backend schedules a reminder for alice 3 s ahead (sendAt): EventBridge Scheduler "
            "fires it, and it arrives at its time, not before",
            self.scheduled_alice,
        )
        await self.step(
            "carol refreshes her token, then a backend revokes her: the server closes her socket",
            self.revoke_carol,
        )
        await self.step("bob closes cleanly: $disconnect removes his connection", self.bob_leaves)
        await self.step(
            "bob has no live connection: a push with mobile fallback reaches bob's registered "
            "phone (SNS) and not alice's, whose socket got it",
            self.mobile_fallback,
        )
        await self.step(
            "a backend writes profiles (PUT /v1/users/{userId}), dry-runs a push to the segment "
            "plan=pro in DE or AT, then sends it: only the matching users' sockets get it",
            lambda: demo_segments.segment_push(
                self.stack,
                self.push,
                lambda method, path, body: http_call(self.stack, method, path, body, sign=True),
                WAIT_S,
            ),
        )
        await self.step(
            "a backend pushes to 5 users (shards of 2 in the demo, 1,000 by default): push "
            "answers at once with a job; the fanout workers deliver its 3 shards from SQS; "
            "GET /v1/notifications/{id} reports it done",
            self.fanout_job,
        )
        await self.step(
            "dave's app uses the Python client (clients/python): it loses the network, "
            "reconnects with backoff and catches up with poll, without gaps or duplicates",
            lambda: demo_client.reconnect_and_catch_up(self.stack, self.push, 3 * WAIT_S),
        )
        for ws in self.clients.values():
            await ws.close()
        return self.failed == 0

    async def alice_phone(self) -> str:
        await self.connect("alice-phone", "alice")
        return f"connected to {self.stack['websocket_url']}"

    async def alice_laptop(self) -> str:
        ws = await self.connect("alice-laptop", "alice", subprotocol=True)
        check(ws.subprotocol == "notify.v1", f"subprotocol {ws.subprotocol!r}, not notify.v1")
        return "server selected subprotocol notify.v1 (the token itself is never echoed)"

    async def bob(self) -> str:
        await self.connect("bob", "bob")
        rows = self.connection_rows("alice") + self.connection_rows("bob")
        check(len(rows) == 3, f"expected 3 connection rows, found {len(rows)}")
        return f"3 rows in {self.stack['tables']['connections']}"

    async def push_alice(self) -> str:
        result = await self.push({"userId": "alice", "message": {"text": "Your order shipped"}})
        check(result.get("ok") is True, f"push result {result}")
        check(result.get("delivered") == 2, f"delivered {result.get('delivered')}, expected 2")
        for name in ("alice-phone", "alice-laptop"):
            env = await self.receive(self.clients[name])
            check(
                env.get("type") == "notification"
                and env.get("data") == {"text": "Your order shipped"},
                f"{name} got {env}",
            )
        check(await self.nothing(self.clients["bob"]), "bob received alice's notification")
        return f"push result: {json.dumps(result)}"

    async def topic_push(self) -> str:
        return await demo_features.topic_push(self)

    async def push_carol(self) -> str:
        result = await self.push(
            {
                "userId": "carol",
                "message": "Welcome back, carol",
                "persist": True,
                "ttlSeconds": 3600,
            }
        )
        check(result.get("ok") is True and result.get("persisted") is True, f"result {result}")
        check(result.get("delivered") == 0, f"delivered {result.get('delivered')} to nobody?")
        self.carol_id = str(result.get("notificationId"))
        return f"stored as {self.carol_id} (targeted {result.get('targeted')}, delivered 0)"

    async def carol_polls(self) -> str:
        ws = await self.connect("carol", "carol")
        await ws.send(json.dumps({"action": "poll", "limit": 10}))
        env = await self.receive(ws)
        check(env.get("type") == "history", f"poll answered {env}")
        items = env.get("data", {}).get("items", [])
        ids = [i.get("id") for i in items]
        check(self.carol_id in ids, f"{self.carol_id} not in history {ids}")
        return f"history: {len(items)} item(s), {items[0].get('data')!r}"

    async def bad_token(self) -> str:
        forged = tokens.mint(self.stack, "mallory")[:-4] + "AAAA"
        try:
            await websockets.connect(f"{self.stack['websocket_url']}?token={forged}")
        except websockets.InvalidStatus as exc:
            check(exc.response.status_code == 401, f"status {exc.response.status_code}")
            return "HTTP 401 for a token with a forged signature"
        raise StepFailed("the connection was accepted")

    async def prune(self) -> str:
        laptop = self.clients.pop("alice-laptop")
        laptop.transport.abort()  # no close frame: API Gateway may never send $disconnect
        await asyncio.sleep(0.3)
        check(
            len(self.connection_rows("alice")) == 2,
            "the dropped connection's row is gone already (was $disconnect delivered?)",
        )
        await self.outlive_connect_window("alice")
        result = await self.push({"userId": "alice", "message": "are you there?"})
        check(result.get("delivered") == 1 and result.get("stale") == 1, f"result {result}")
        await self.receive(self.clients["alice-phone"])
        rows = self.connection_rows("alice")
        check(len(rows) == 1, f"alice still has {len(rows)} rows")
        return f"push result: delivered 1, stale 1; alice has {len(rows)} connection row left"

    async def http_publish(self) -> str:
        url = self.stack.get("http_api_url")
        check(bool(url), "the stack serves no HTTP API (create_http_api is off?)")
        body = json.dumps({"userId": "alice", "message": {"via": "HTTP API"}}).encode()
        status, result = await asyncio.to_thread(
            http_call, self.stack, "POST", "/v1/notifications", body, sign=True
        )
        check(status == 200 and result.get("delivered") == 1, f"HTTP {status}: {result}")
        env = await self.receive(self.clients["alice-phone"])
        check(env.get("id") == result["notificationId"], f"alice's phone got {env}")
        token = tokens.mint(self.stack, "alice")
        status, page = await asyncio.to_thread(
            http_call, self.stack, "GET", "/v1/me/notifications?limit=100", b"", token=token
        )
        ids = [n["id"] for n in page.get("notifications", [])]
        check(status == 200 and result["notificationId"] in ids, f"HTTP {status}: {page}")
        return (
            f"POST {url}/v1/notifications -> 200, delivered 1; "
            f"GET /v1/me/notifications -> {len(ids)} item(s)"
        )

    async def revoke_carol(self) -> str:
        ws = self.clients["carol"]
        fresh = tokens.mint(self.stack, "carol", ttl_seconds=7200)
        await ws.send(json.dumps({"action": "refresh", "token": fresh}))
        ack = await self.receive(ws)
        check(ack.get("type") == "ack", f"refresh answered {ack}")
        result = await self.push({"disconnect": {"userId": "carol"}})
        check(result.get("closed") == 1, f"disconnect answered {result}")
        try:
            await asyncio.wait_for(ws.recv(), WAIT_S)
        except websockets.ConnectionClosed as exc:
            self.clients.pop("carol")
            code = exc.rcvd.code if exc.rcvd else None
            check(code == 1000, f"closed with {code}")
            expires = ack["data"]["expiresAt"]
            return f"refresh ack (expiresAt {expires}); disconnect: {json.dumps(result)}"
        raise StepFailed("carol's socket stayed open")

    async def scheduled_alice(self) -> str:
        return await demo_features.scheduled_alice(self)

    async def bob_leaves(self) -> str:
        await self.clients.pop("bob").close()
        deadline = time.monotonic() + WAIT_S
        while self.connection_rows("bob") and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        check(not self.connection_rows("bob"), "bob's row is still there")
        return "close 1000 -> $disconnect -> row deleted"

    async def fanout_job(self) -> str:
        return await demo_features.fanout_job(self)

    async def mobile_fallback(self) -> str:
        return await demo_features.mobile_fallback(self)


def run(options: Options) -> int:
    # AWS does not guarantee $disconnect; the demo drops it after an abrupt drop to show pruning.
    options = replace(
        options, settings=replace(options.settings, deliver_abnormal_disconnects=False)
    )
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"[demo] {text}", flush=True)

    # An emulator knob (local/README.md): a handful of sockets make a job of several shards.
    os.environ.setdefault(SHARD_SIZE_OVERRIDE_ENV, "2")
    ok = False
    try:
        with Stack(options, say) as stack:
            timings = ", ".join(f"{k} {v:.1f}s" for k, v in stack.timings.items())
            say(f"stack up ({timings}); websocket {stack.description['websocket_url']}")
            say("scenario:")
            demo = Demo(stack.description)
            ok = asyncio.run(demo.run())
            say(f"{demo.passed} step(s) passed, {demo.failed} failed")
            say("tearing down")
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except Exception as exc:
        say(f"ERROR: {type(exc).__name__}: {exc}")
        return 1
    say(f"{'done' if ok else 'FAILED'} in {time.monotonic() - started:.1f}s")
    say("stopped: every process the demo started has ended and its ports are free")
    return 0 if ok else 1
