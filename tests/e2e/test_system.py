"""The deployed system end to end: `python -m local up` (terraform apply of examples/complete,
the project's handlers in workers), real WebSocket clients, a backend using plain boto3."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import boto3
import jwt
import pytest
import websockets
from botocore.config import Config
from conftest import run
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from local import tokens
from local.controlplane import aws_client


def _backend(stack: dict[str, Any]) -> Any:
    """Exactly what a backend writes, plus endpoint_url."""
    return boto3.client(
        "lambda",
        endpoint_url=stack["lambda_endpoint"],
        region_name=stack["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


def push(stack: dict[str, Any], request: Any) -> dict[str, Any]:
    out = _backend(stack).invoke(
        FunctionName=stack["push_function_name"], Payload=json.dumps(request).encode()
    )
    assert out["StatusCode"] == 200 and "FunctionError" not in out, out
    return json.load(out["Payload"])  # type: ignore[no-any-return]


def finished_job(stack: dict[str, Any], notification_id: str, timeout: float = 30) -> Any:
    """The job of a sharded push once no shard is left running (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        job = push(stack, {"job": {"action": "get", "notificationId": notification_id}})["job"]
        if job["state"] != "running" or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


async def apush(stack: dict[str, Any], request: Any) -> dict[str, Any]:
    return await asyncio.to_thread(push, stack, request)


async def connect(stack: dict[str, Any], user: str, **kwargs: Any) -> ClientConnection:
    return await websockets.connect(
        f"{stack['websocket_url']}?token={tokens.mint(stack, user)}", **kwargs
    )


async def recv(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))  # type: ignore[no-any-return]


async def silent(ws: ClientConnection, within: float = 0.8) -> bool:
    try:
        await asyncio.wait_for(ws.recv(), within)
    except TimeoutError:
        return True
    return False


def rows(stack: dict[str, Any], user: str) -> list[str]:
    ddb = aws_client("dynamodb", stack["aws_endpoint"], stack["region"])
    items = ddb.scan(TableName=stack["tables"]["connections"])["Items"]
    return [i["connectionId"]["S"] for i in items if i["userId"]["S"] == user]


async def status_of(url: str, **kwargs: Any) -> int:
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(url, **kwargs):
            pass
    return int(info.value.response.status_code)


# ----------------------------------------------------------------------------- description


def test_stack_json_describes_the_deployment(stack: dict[str, Any]) -> None:
    assert stack["websocket_url"].startswith("ws://127.0.0.1:")
    assert stack["connections_url"].endswith("/" + stack["stage"])
    assert set(stack["functions"]) == {
        *("authorizer", "connect", "disconnect", "poll", "push", "refresh", "sweeper"),
        *("users", "me"),  # the HTTP API's
        "devices",  # mobile push (platform applications passed by the local stack)
        "topics",  # topics (on by default)
        "schedules",  # scheduled sends (EventBridge Scheduler)
        "fanout",  # the shard worker of fan-out jobs
    }
    assert {
        *("$connect", "$disconnect", "$default", "poll", "push", "refresh"),
        *("subscribe", "unsubscribe"),
    } <= set(stack["routes"])
    # moto stores EventBridge rules without firing them; the local stack fires this one.
    (rule,) = stack["scheduled_rules"].values()
    assert rule["targets"] == [stack["functions"]["sweeper"]] and rule["period_s"] == 2.0
    assert stack["token"]["algorithm"] == "HS256" and stack["token"]["mode"] == "hs256"
    assert (
        stack["token"]["ssm_parameter"] == stack["terraform_outputs"]["jwt_secret_parameter_name"]
    )
    assert stack["tables"]["connections"] and stack["tables"]["notifications"]


# ----------------------------------------------------------------------------- the demo flows


def test_push_reaches_every_device_of_the_user_and_no_one_else(stack: dict[str, Any]) -> None:
    async def body() -> None:
        phone = await connect(stack, "alice")
        laptop = await connect(stack, "alice")
        bob = await connect(stack, "bob")
        result = await apush(stack, {"userId": "alice", "message": {"text": "hi"}})
        assert result["ok"] is True and result["targeted"] == 2 and result["delivered"] == 2
        for ws in (phone, laptop):
            envelope = await recv(ws)
            assert envelope["type"] == "notification" and envelope["data"] == {"text": "hi"}
            assert envelope["id"] == result["notificationId"] and envelope["sender"] == "backend"
        assert await silent(bob)
        for ws in (phone, laptop, bob):
            await ws.close()

    run(body())


def test_persisted_notification_is_polled_by_a_later_device(stack: dict[str, Any]) -> None:
    result = push(
        stack, {"userId": "carol", "message": "missed you", "persist": True, "ttlSeconds": 600}
    )
    assert result["ok"] and result["persisted"] and result["delivered"] == 0

    async def body() -> dict[str, Any]:
        async with await connect(stack, "carol") as ws:
            await ws.send(json.dumps({"action": "poll"}))
            return await recv(ws)

    history = run(body())
    assert history["type"] == "history"
    assert [item["id"] for item in history["data"]["items"]] == [result["notificationId"]]
    assert history["data"]["items"][0]["data"] == "missed you"


def test_history_pages_across_many_notifications(stack: dict[str, Any]) -> None:
    sent = [
        push(stack, {"userId": "dave", "message": {"n": n}})["notificationId"] for n in range(25)
    ]

    async def body() -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        async with await connect(stack, "dave") as ws:
            cursor = None
            for _ in range(10):
                frame: dict[str, Any] = {"action": "poll", "limit": 10}
                if cursor:
                    frame["after"] = cursor
                await ws.send(json.dumps(frame))
                page = await recv(ws)
                assert page["type"] == "history" and len(page["data"]["items"]) <= 10
                seen.extend(page["data"]["items"])
                cursor = page["data"]["next"]
                if not cursor:
                    break
        return seen

    items = run(body())
    assert [i["id"] for i in items] == sent  # oldest first, no gaps, no duplicates
    assert [i["data"]["n"] for i in items] == list(range(25))


@pytest.mark.parametrize("case", ["forged", "expired", "wrong-alg-none", "missing", "garbage"])
def test_bad_tokens_are_refused_with_401(stack: dict[str, Any], case: str) -> None:
    good = tokens.mint(stack, "mallory")
    now = int(time.time())
    token = {
        "forged": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "expired": tokens.mint(stack, "mallory", ttl_seconds=-600),
        "wrong-alg-none": jwt.encode(
            {"sub": "mallory", "exp": now + 60}, key=None, algorithm="none"
        ),
        "missing": "",
        "garbage": "not-a-token",
    }[case]
    url = stack["websocket_url"] + (f"?token={token}" if token else "")
    assert run(status_of(url)) == 401


def test_token_in_subprotocol_and_protocol_echo(stack: dict[str, Any]) -> None:
    async def body() -> tuple[str | None, dict[str, Any]]:
        token = tokens.mint(stack, "erin")
        async with websockets.connect(
            stack["websocket_url"], subprotocols=[Subprotocol("notify.v1"), Subprotocol(token)]
        ) as ws:
            result = await apush(stack, {"userId": "erin", "message": 1})
            assert result["delivered"] == 1
            return ws.subprotocol, await recv(ws)

    protocol, envelope = run(body())
    assert protocol == "notify.v1"
    assert envelope["data"] == 1


def test_default_route_and_malformed_frames(stack: dict[str, Any]) -> None:
    async def body() -> list[dict[str, Any]]:
        async with await connect(stack, "frank") as ws:
            replies = []
            for frame in (
                "not json at all",
                json.dumps({"action": "dance"}),
                "[1, 2]",
                json.dumps({"no": "action"}),
            ):
                await ws.send(frame)
                replies.append(await recv(ws))
            await ws.send(json.dumps({"action": "poll", "limit": "many"}))
            replies.append(await recv(ws))
            await ws.send(json.dumps({"action": "poll", "after": "not-a-ulid"}))
            replies.append(await recv(ws))
            return replies

    replies = run(body())
    for unknown in replies[:4]:
        assert unknown["type"] == "error" and unknown["error"]["code"] == "UNKNOWN_ACTION"
        assert isinstance(unknown["createdAt"], int) and unknown["id"]
    for invalid in replies[4:]:
        assert invalid["type"] == "error" and invalid["error"]["code"] == "INVALID_REQUEST"


def test_oversized_frame_closes_1009(stack: dict[str, Any]) -> None:
    async def body() -> int | None:
        ws = await connect(stack, "frank", max_size=None)
        await ws.send(json.dumps({"action": "poll", "pad": "x" * (130 * 1024)}))
        await asyncio.wait_for(ws.wait_closed(), 10)
        return ws.close_code

    assert run(body()) == 1009


def test_client_push_allowed_and_refused(stack: dict[str, Any]) -> None:
    async def body() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        async with await connect(stack, "gina") as gina, await connect(stack, "hank") as hank:
            await gina.send(
                json.dumps({"action": "push", "userId": "hank", "message": {"from": "gina"}})
            )
            ack = await recv(gina)
            received = await recv(hank)
            await gina.send(json.dumps({"action": "push", "broadcast": True, "message": "all"}))
            refused = await recv(gina)
            assert await silent(hank)
            return ack, received, refused

    ack, received, refused = run(body())
    assert ack["type"] == "ack" and ack["data"]["ok"] is True and ack["data"]["delivered"] == 1
    assert received["type"] == "notification" and received["data"] == {"from": "gina"}
    assert received["sender"] == "user:gina"
    assert refused["type"] == "error" and refused["error"]["code"] == "FORBIDDEN"


def test_backend_broadcast_reaches_everyone(stack: dict[str, Any]) -> None:
    async def body() -> None:
        clients = [await connect(stack, user) for user in ("ivan", "judy", "ivan")]
        result = await apush(stack, {"broadcast": True, "message": "maintenance at 22:00"})
        assert result["ok"] is True and result["persisted"] is False
        # Over LOCAL_SHARD_SIZE live connections (2 in this suite) a broadcast is a sharded job.
        if "job" in result:
            assert result["job"]["audience"] >= 3
        else:
            assert result["delivered"] >= 3
        for ws in clients:
            assert (await recv(ws))["data"] == "maintenance at 22:00"
        if "job" in result:
            # A broadcast shard reads its part of the table when it runs: wait for the last
            # one, or it reaches the connections of the tests that come next.
            job = await asyncio.to_thread(finished_job, stack, result["notificationId"])
            assert job["state"] == "done" and job["shardsDone"] == job["shards"], job
        for ws in clients:
            await ws.close()

    run(body())


CONNECT_GRACE_S = 10.0


def test_abrupt_drop_is_pruned_by_the_next_push(stack: dict[str, Any]) -> None:
    async def body() -> dict[str, Any]:
        keep = await connect(stack, "kate")
        drop = await connect(stack, "kate")
        await asyncio.sleep(0.2)
        assert len(rows(stack, "kate")) == 2
        drop.transport.abort()  # no close frame; the stack runs with $disconnect lost
        await asyncio.sleep(0.3)
        assert len(rows(stack, "kate")) == 2
        # A row younger than the connect grace (10 s) that answers 410 is kept (it may be a
        # handshake in progress): this drop is older than that when the push comes.
        await asyncio.sleep(CONNECT_GRACE_S)
        result = await apush(stack, {"userId": "kate", "message": "still there?"})
        assert (await recv(keep))["data"] == "still there?"
        await keep.close()
        return result

    result = run(body())
    assert result["delivered"] == 1 and result["stale"] == 1 and result["failed"] == []
    deadline = time.monotonic() + 5
    while len(rows(stack, "kate")) and time.monotonic() < deadline:  # clean close: $disconnect
        time.sleep(0.1)
    assert rows(stack, "kate") == []


def test_backend_invoke_with_plain_boto3(stack: dict[str, Any]) -> None:
    lam = _backend(stack)
    name = stack["push_function_name"]
    bad = lam.invoke(
        FunctionName=name,
        Payload=json.dumps({"userId": "a", "userIds": ["b"], "message": 1}).encode(),
    )
    assert "FunctionError" not in bad  # bad input is a result, never a Lambda error
    assert json.load(bad["Payload"])["error"]["code"] == "INVALID_REQUEST"
    assert (
        lam.invoke(
            FunctionName=name, InvocationType="Event", Payload=b'{"userId": "nobody", "message": 1}'
        )["StatusCode"]
        == 202
    )
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=name + "-nope", Payload=b"{}")
    arn = stack["terraform_outputs"]["push_function_arn"]
    by_arn = json.load(
        lam.invoke(FunctionName=arn, Payload=b'{"userId": "nobody", "message": 1}')["Payload"]
    )
    assert by_arn["ok"] is True and by_arn["targeted"] == 0
