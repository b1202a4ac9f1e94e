"""Sharded fan-out jobs end to end (issue 12, items 3-4): the stack runs with LOCAL_SHARD_SIZE=2
and LOCAL_SQS_VISIBILITY_S=5 (conftest), so a handful of real sockets make a job of several
shards; the shards travel through the emulated SQS queue Terraform created and reach the fanout
function through its event source mapping (local/sqs_esm.py). Job answers are validated
against docs/openapi.yaml."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from conftest import Faults, run
from http_client import Answer, call
from test_faults import received_ids
from test_system import apush, connect
from websockets.asyncio.client import ClientConnection

from local.controlplane import aws_client


def api(stack: dict[str, Any], method: str, path: str, **kwargs: Any) -> Answer:
    return call(stack["http_api_url"], method, path, region=stack["region"], **kwargs)


def job(stack: dict[str, Any], notification_id: str) -> dict[str, Any]:
    answer = api(stack, "GET", f"/v1/notifications/{notification_id}")
    assert answer.status == 200, answer.raw
    return answer.json()["job"]  # type: ignore[no-any-return]


def until(stack: dict[str, Any], notification_id: str, states: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        found = job(stack, notification_id)
        if found["state"] in states or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


async def sockets(stack: dict[str, Any], users: list[str]) -> list[ClientConnection]:
    return [await connect(stack, user) for user in users]


def mapping(stack: dict[str, Any]) -> tuple[Any, str]:
    lam = aws_client("lambda", stack["aws_endpoint"], stack["region"])
    return lam, stack["terraform_outputs"]["fanout_event_source_mapping_uuid"]


def message_counts(sqs: Any, queue: str) -> tuple[int, int]:
    """The queue's (visible, in flight) message counts."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    counts = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=names)["Attributes"]
    return int(counts[names[0]]), int(counts[names[1]])


def drained(sqs: Any, queue: str, timeout: float = 30) -> None:
    """Wait until the queue holds no message, visible or in flight."""
    deadline = time.monotonic() + timeout
    while (counts := message_counts(sqs, queue)) != (0, 0):
        assert time.monotonic() < deadline, f"the queue was not drained: {counts}"
        time.sleep(0.2)


async def arrived(ws: ClientConnection, first_within: float = 10.0) -> list[str]:
    """The ids of the frames a socket receives: the first may take a while (SQS, the poller and
    the worker's cold start on a busy machine), the rest follow it closely."""
    first = json.loads(await asyncio.wait_for(ws.recv(), first_within))["id"]
    return [first, *await received_ids(ws, within=1.0)]


def pause_polling(stack: dict[str, Any], lam: Any, uuid: str, **update: Any) -> None:
    """Disable the mapping, then wait until the emulator's poller has stopped (it re-reads the
    mappings every 2 s, later on a busy machine): a probe message that stays on the queue,
    untouched, for longer than one long poll means nobody is receiving. The probe (a shard of
    a job that does not exist, which the worker would drop) is then taken off the queue."""
    lam.update_event_source_mapping(UUID=uuid, Enabled=False, **update)
    sqs = aws_client("sqs", stack["aws_endpoint"], stack["region"])
    queue = stack["terraform_outputs"]["fanout_queue_url"]
    probe = json.dumps({"jobId": "probe-paused", "shard": 0, "userIds": []})
    deadline = time.monotonic() + 30
    while True:
        sqs.send_message(QueueUrl=queue, MessageBody=probe)
        time.sleep(3.0)
        visible, in_flight = counts = message_counts(sqs, queue)
        if visible >= 1 and not in_flight:
            break
        assert time.monotonic() < deadline, f"the poller did not stop: {counts}"
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


def test_a_job_spans_several_shards_and_a_redelivered_shard_sends_nothing(
    stack: dict[str, Any],
) -> None:
    users = [f"job-{i}" for i in range(5)]

    async def body() -> None:
        clients = await sockets(stack, users)
        answer = await asyncio.to_thread(
            api, stack, "POST", "/v1/notifications", body={"userIds": users, "message": "big"}
        )
        assert answer.status == 202
        started = answer.json()
        assert started["job"] == {"state": "running", "shards": 3, "audience": 5}
        for ws in clients:
            assert await arrived(ws) == [started["notificationId"]]
        done = await asyncio.to_thread(until, stack, started["notificationId"], {"done"})
        assert (done["shardsDone"], done["delivered"], done["targeted"]) == (3, 5, 5)

        # SQS may deliver a message twice: the same shard again sends nothing, counts nothing.
        sqs = aws_client("sqs", stack["aws_endpoint"], stack["region"])
        duplicate = {"jobId": started["notificationId"], "shard": 1, "userIds": users[2:4]}
        queue = stack["terraform_outputs"]["fanout_queue_url"]
        await asyncio.to_thread(sqs.send_message, QueueUrl=queue, MessageBody=json.dumps(duplicate))
        await asyncio.to_thread(drained, sqs, queue)  # the worker has handled (deleted) it
        quiet = await asyncio.gather(*(received_ids(ws, within=1.0) for ws in clients))
        assert quiet == [[] for _ in clients]
        for ws in clients:
            await ws.close()
        again = await asyncio.to_thread(job, stack, started["notificationId"])
        assert (again["shardsDone"], again["delivered"]) == (3, 5)

    run(body())


def test_cancel_mid_job_with_the_mapping_paused_then_throttled(
    stack: dict[str, Any], faults: Faults
) -> None:
    users = [f"cancel-{i}" for i in range(12)]
    lam, uuid = mapping(stack)

    async def body() -> None:
        clients = await sockets(stack, users)
        # Disabled: Lambda stops polling; the job waits on the queue.
        await asyncio.to_thread(
            pause_polling, stack, lam, uuid, ScalingConfig={"MaximumConcurrency": 2}
        )
        result = await apush(stack, {"userIds": users, "message": "slow"})
        assert result["job"]["shards"] == 6
        assert await received_ids(clients[0], within=2.0) == []
        assert (await asyncio.to_thread(job, stack, result["notificationId"]))["state"] == "running"
        # Every send takes 2 s; two shards at a time (maximum concurrency), so the shards go out
        # in three waves 2 s apart and the cancel lands during the first or second. (A shard
        # takes less than the emulated visibility timeout, 5 s: SQS does not hand it out twice.)
        ddb = aws_client("dynamodb", stack["aws_endpoint"], stack["region"])
        table = stack["tables"]["connections"]
        connection_ids = [i["connectionId"]["S"] for i in ddb.scan(TableName=table)["Items"]]
        faults.set(connections=[{"connectionId": cid, "delayMs": 2000} for cid in connection_ids])
        lam.update_event_source_mapping(UUID=uuid, Enabled=True)
        # The first frame: shards are under way. Cancel: the ones not yet started are skipped.
        first = json.loads(await asyncio.wait_for(clients[0].recv(), 20))
        assert first["id"] == result["notificationId"]
        cancelled = await asyncio.to_thread(
            api, stack, "DELETE", f"/v1/notifications/{result['notificationId']}"
        )
        assert cancelled.status == 200 and cancelled.json()["job"]["state"] == "cancelled"
        deadline = time.monotonic() + 20
        while True:
            state = await asyncio.to_thread(job, stack, result["notificationId"])
            if state["shardsDone"] + state["shardsCancelled"] == 6 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        assert state["state"] == "cancelled"
        assert state["shardsDone"] + state["shardsCancelled"] == 6
        assert 1 <= state["shardsDone"] < 6 and state["shardsCancelled"] >= 1
        frames = [
            len(ids) for ids in await asyncio.gather(*(received_ids(ws, 0.5) for ws in clients))
        ]
        frames[0] += 1  # the first socket's frame was read above
        assert set(frames) <= {0, 1} and sum(frames) == 2 * state["shardsDone"]
        for ws in clients:
            await ws.close()

    try:
        run(body())
    finally:
        lam.update_event_source_mapping(
            UUID=uuid, Enabled=True, ScalingConfig={"MaximumConcurrency": 10}
        )


def test_a_poison_shard_ends_in_the_dlq_and_the_job_reports_it(
    stack: dict[str, Any], faults: Faults
) -> None:
    users = ["poison-a", "poison-user", "poison-b", "poison-c"]

    async def body() -> None:
        clients = await sockets(stack, users)
        faults.set(
            dynamodb=[
                {"operation": "Query", "userId": "poison-user", "code": "InternalServerError"}
            ]
        )
        result = await apush(stack, {"userIds": users, "message": "poison"})
        assert result["job"]["shards"] == 2
        assert await arrived(clients[2]) == [result["notificationId"]]
        assert await arrived(clients[3]) == [result["notificationId"]]
        failed = await asyncio.to_thread(until, stack, result["notificationId"], {"failed"})
        assert (failed["state"], failed["shardsDone"], failed["shardsFailed"]) == ("failed", 1, 1)
        assert failed["failedShards"] == [{"shard": 0, "error": "InternalServerError"}]
        assert await received_ids(clients[0], within=0.5) == []
        sqs = aws_client("sqs", stack["aws_endpoint"], stack["region"])
        dlq = stack["terraform_outputs"]["fanout_dead_letter_queue_url"]
        # moto moves the message on the receive after its last one: one visibility timeout on.
        deadline = time.monotonic() + 20
        dead: list[dict[str, Any]] = []
        while not dead and time.monotonic() < deadline:
            messages = sqs.receive_message(
                QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            bodies = [json.loads(m["Body"]) for m in messages]
            dead = [b for b in bodies if b.get("jobId") == result["notificationId"]]
        assert [body["shard"] for body in dead] == [0]
        for ws in clients:
            await ws.close()

    run(body())


def test_job_ids_unknown_and_invalid(stack: dict[str, Any]) -> None:
    missing = api(stack, "GET", "/v1/notifications/01JAAAAAAAAAAAAAAAAAAAAAAA")
    assert missing.status == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    cancel = api(stack, "DELETE", "/v1/notifications/01JAAAAAAAAAAAAAAAAAAAAAAA")
    assert cancel.status == 404
    invalid = api(stack, "GET", "/v1/notifications/not-a-ulid")
    assert invalid.status == 400 and invalid.json()["error"]["code"] == "INVALID_REQUEST"
