"""Injected faults against the local stack (local/faults.py), each with the result that
docs/protocol.md ("Backend push", "Delivery guarantees") promises."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from conftest import Faults, run
from test_system import _backend, apush, connect, recv, rows, silent
from websockets.asyncio.client import ClientConnection

from local.controlplane import aws_client


async def devices(
    stack: dict[str, Any], user: str, count: int
) -> list[tuple[ClientConnection, str]]:
    """`count` connections of `user`, each with its connection id (from the new row)."""
    out: list[tuple[ClientConnection, str]] = []
    for _ in range(count):
        before = set(rows(stack, user))
        ws = await connect(stack, user)
        deadline = time.monotonic() + 5
        while not (new := set(rows(stack, user)) - before) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert len(new) == 1
        out.append((ws, new.pop()))
    return out


def history(stack: dict[str, Any], user: str) -> list[str]:
    ddb = aws_client("dynamodb", stack["aws_endpoint"], stack["region"])
    items = ddb.query(
        TableName=stack["tables"]["notifications"],
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": user}},
    )["Items"]
    return [i["notificationId"]["S"] for i in items]


def invoke(stack: dict[str, Any], request: Any) -> tuple[dict[str, Any], str | None]:
    """The push function's payload and FunctionError (a crashed worker), without asserting."""
    out = _backend(stack).invoke(
        FunctionName=stack["push_function_name"], Payload=json.dumps(request).encode()
    )
    return json.load(out["Payload"]), out.get("FunctionError")


async def received_ids(ws: ClientConnection, within: float = 1.5) -> list[str]:
    ids = []
    while True:
        try:
            ids.append(json.loads(await asyncio.wait_for(ws.recv(), within))["id"])
        except TimeoutError:
            return ids


def test_429_bursts_are_retried_and_persistent_throttling_is_reported(
    stack: dict[str, Any], faults: Faults
) -> None:
    async def body() -> None:
        (burst, burst_id), (throttled, throttled_id), (fine, _) = await devices(stack, "tom", 3)
        faults.set(
            connections=[
                {"connectionId": burst_id, "status": 429, "times": 2},
                {"connectionId": throttled_id, "status": 429},
            ]
        )
        result = await apush(stack, {"userId": "tom", "message": "burst"})
        assert result["ok"] and result["delivered"] == 2 and result["failedCount"] == 1
        assert result["failed"] == [
            {"connectionId": throttled_id, "error": "LimitExceededException"}
        ]
        assert (await recv(burst))["data"] == "burst"  # after two 429s, with backoff
        assert (await recv(fine))["data"] == "burst"
        assert await silent(throttled)
        assert throttled_id in rows(stack, "tom")  # throttling never prunes
        for ws in (burst, throttled, fine):
            await ws.close()

    run(body())


def test_5xx_and_slow_connections_do_not_hold_back_the_others(
    stack: dict[str, Any], faults: Faults
) -> None:
    async def body() -> None:
        (broken, broken_id), (slow, slow_id), (fine, _) = await devices(stack, "uma", 3)
        faults.set(
            connections=[
                {"connectionId": broken_id, "status": 500},
                {"connectionId": slow_id, "delayMs": 2000},
            ]
        )
        pushing = asyncio.create_task(apush(stack, {"userId": "uma", "message": "m"}))
        started = time.monotonic()
        assert (await recv(fine))["data"] == "m"
        assert time.monotonic() - started < 1.8  # not behind the slow connection
        result = await pushing
        assert (await recv(slow))["data"] == "m"
        assert result["delivered"] == 2
        assert result["failed"] == [
            {"connectionId": broken_id, "error": "InternalServerErrorException"}
        ]
        assert await silent(broken)
        assert broken_id in rows(stack, "uma")  # a 5xx is not a 410: the row stays
        for ws in (broken, slow, fine):
            await ws.close()

    run(body())


def test_worker_killed_mid_fanout_then_retried_with_the_same_key(
    stack: dict[str, Any], faults: Faults
) -> None:
    request = {"userId": "vic", "message": {"order": 7}, "idempotencyKey": "order-7-shipped"}

    async def body() -> None:
        conns = await devices(stack, "vic", 3)
        faults.set(connections=[{"connectionId": conns[1][1], "kill": stack["push_function_name"]}])
        payload, error = await asyncio.to_thread(invoke, stack, request)
        assert error is not None, payload  # the worker died: Lambda reports a function error
        assert "Runtime exited" in payload["errorMessage"]
        faults.clear()
        result, error = await asyncio.to_thread(invoke, stack, request)
        assert error is None and result["ok"] is True, result
        assert result["repeat"] is True and result["delivered"] == 3
        for ws, _ in conns:
            ids = await received_ids(ws)
            # At least once, always with the one id (the first attempt may have reached it).
            assert ids and set(ids) == {result["notificationId"]}, ids
            await ws.close()
        assert history(stack, "vic") == [result["notificationId"]]  # one row, not two

    run(body())


def test_dynamodb_errors_during_persist_send_nothing_and_the_retry_completes(
    stack: dict[str, Any], faults: Faults
) -> None:
    request = {"userIds": ["wes", "xan"], "message": "both", "idempotencyKey": "k-persist"}

    async def body() -> None:
        [(wes, _)] = await devices(stack, "wes", 1)
        [(xan, _)] = await devices(stack, "xan", 1)
        faults.set(
            dynamodb=[
                {
                    "operation": "PutItem",
                    "table": stack["tables"]["notifications"],
                    "userId": "xan",
                    "code": "ProvisionedThroughputExceededException",
                    "status": 400,
                }
            ]
        )
        failed = await apush(stack, request)
        assert failed["ok"] is False and failed["error"]["code"] == "INTERNAL_ERROR"
        assert await silent(wes) and await silent(xan)  # nothing sent
        assert len(history(stack, "wes")) == 1 and history(stack, "xan") == []
        faults.clear()
        result = await apush(stack, request)
        assert result["ok"] and result["repeat"] is True and result["delivered"] == 2
        for user, ws in (("wes", wes), ("xan", xan)):
            assert (await recv(ws))["id"] == result["notificationId"]
            assert history(stack, user) == [result["notificationId"]]
            await ws.close()
        again = await apush(stack, request)  # completed: answered from the record, not re-sent
        assert again == {**result, "repeat": True}

    run(body())


def test_a_connection_in_its_connect_window_is_retried_not_pruned(
    stack: dict[str, Any], faults: Faults
) -> None:
    async def body() -> None:
        [(ws, cid)] = await devices(stack, "yara", 1)
        faults.set(connections=[{"connectionId": cid, "status": 410, "times": 1}])
        result = await apush(stack, {"userId": "yara", "message": "hello"})
        assert (result["delivered"], result["stale"]) == (1, 0)
        assert (await recv(ws))["data"] == "hello"
        assert rows(stack, "yara") == [cid]
        await ws.close()

    run(body())
