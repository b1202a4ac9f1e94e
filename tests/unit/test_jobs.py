"""Sharded fan-out jobs (issue 12, item 3): push enqueues shards on a real (moto) SQS queue with
a dead-letter queue, the fanout worker delivers them from real SQS events."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import fanout
import push
import pytest
from conftest import LambdaContext, Transport, http_event
from test_push import ENDPOINT, add_connection, history_rows
from wsnotify import clients, jobs, jobstore, store

JOBS = "ws-jobs"
MAX_RECEIVES = 3


@pytest.fixture
def queues(aws: Any, transport: Transport, env: pytest.MonkeyPatch) -> dict[str, str]:
    aws.create_table(
        TableName=JOBS,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "jobId", "AttributeType": "S"},
            {"AttributeName": "item", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "jobId", "KeyType": "HASH"},
            {"AttributeName": "item", "KeyType": "RANGE"},
        ],
    )
    sqs = clients.sqs()
    dlq = sqs.create_queue(QueueName="ws-fanout-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName="ws-fanout",
        Attributes={
            "VisibilityTimeout": "0",  # a failed record comes back at once (the tests' clock)
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}
            ),
        },
    )["QueueUrl"]
    env.setenv("CONNECTIONS_ENDPOINT", ENDPOINT)
    env.setenv("JOBS_TABLE", JOBS)
    env.setenv("FANOUT_QUEUE_URL", queue)
    env.setenv("SHARD_SIZE", "2")
    env.setenv("MAX_RECEIVE_COUNT", str(MAX_RECEIVES))
    return {"queue": queue, "dlq": dlq}


def receive(queue_url: str, limit: int = 10) -> dict[str, Any]:
    """Lambda's SQS event for the messages ReceiveMessage returns (the real record shape)."""
    messages = (
        clients.sqs()
        .receive_message(QueueUrl=queue_url, MaxNumberOfMessages=limit, AttributeNames=["All"])
        .get("Messages", [])
    )
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {k: str(v) for k, v in m.get("Attributes", {}).items()},
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(m["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ws-fanout",
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def run_worker(queue_url: str, event: dict[str, Any]) -> dict[str, Any]:
    """One fanout invocation, then what Lambda does: delete the records not reported failed."""
    answer = fanout.handler(event, LambdaContext())
    failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
    for record in event["Records"]:
        if record["messageId"] not in failed:
            clients.sqs().delete_message(QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"])
    return answer


def drain(queue_url: str) -> None:
    while event := receive(queue_url, 1):
        if not event["Records"]:
            return
        run_worker(queue_url, event)


def users_with_connections(aws: Any, count: int) -> list[str]:
    users = [f"user-{i}" for i in range(count)]
    for user in users:
        add_connection(aws, f"c-{user}", user)
    return users


def test_a_job_spans_several_shards_and_reports_progress(
    aws: Any, transport: Transport, queues: dict[str, str]
) -> None:
    users = users_with_connections(aws, 5)
    answer = push.handler({"userIds": users, "message": {"n": 1}}, LambdaContext())
    assert answer["ok"] is True
    assert answer["job"] == {"state": "running", "shards": 3, "audience": 5}
    assert answer["persisted"] is True
    job_id = answer["notificationId"]
    # History first: every user's row exists before any shard is delivered.
    assert all(len(history_rows(aws, u)) == 1 for u in users)
    assert transport.calls == 0
    running = push.handler({"job": {"action": "get", "notificationId": job_id}}, None)
    assert running["job"]["state"] == "running"
    assert running["job"]["shardsDone"] == 0

    drain(queues["queue"])
    for user in users:
        assert [f["id"] for f in transport.frames[f"c-{user}"]] == [job_id]
    done = push.handler({"job": {"action": "get", "notificationId": job_id}}, None)["job"]
    assert (done["state"], done["shards"], done["shardsDone"]) == ("done", 3, 3)
    assert (done["targeted"], done["delivered"], done["stale"], done["failed"]) == (5, 5, 0, 0)
    shard = aws.get_item(
        TableName=JOBS, Key={"jobId": {"S": job_id}, "item": {"S": "shard#00002"}}
    )["Item"]
    assert (shard["state"]["S"], shard["delivered"]["N"]) == ("done", "1")


def test_small_audiences_stay_inline(
    aws: Any, transport: Transport, queues: dict[str, str]
) -> None:
    users = users_with_connections(aws, 2)
    answer = push.handler({"userIds": users, "message": 1}, None)
    assert "job" not in answer and answer["delivered"] == 2
    assert not receive(queues["queue"])["Records"]


def test_sqs_redelivery_sends_nothing_twice(
    aws: Any, transport: Transport, queues: dict[str, str]
) -> None:
    users = users_with_connections(aws, 3)
    job_id = push.handler({"userIds": users, "message": 1}, None)["notificationId"]
    event = receive(queues["queue"], 1)
    # The first delivery succeeds but its deletion is lost: SQS hands the same record again.
    assert fanout.handler(event, LambdaContext()) == {"batchItemFailures": []}
    sent = transport.calls
    again = receive(queues["queue"], 10)
    assert event["Records"][0]["messageId"] in {r["messageId"] for r in again["Records"]}
    run_worker(queues["queue"], again)
    drain(queues["queue"])
    assert transport.calls == sent + 1  # only the other shard's single user
    assert all(len(transport.frames[f"c-{u}"]) == 1 for u in users)
    job = jobs.get(jobs_config(), job_id)["job"]
    assert (job["state"], job["shardsDone"], job["delivered"]) == ("done", 2, 3)


def jobs_config() -> Any:
    from wsnotify import config

    return config.load()


def test_cancel_mid_job_skips_the_shards_not_started(
    aws: Any, transport: Transport, queues: dict[str, str]
) -> None:
    users = users_with_connections(aws, 6)
    job_id = push.handler({"userIds": users, "message": 1}, None)["notificationId"]
    run_worker(queues["queue"], receive(queues["queue"], 1))
    assert transport.calls == 2
    cancelled = push.handler(
        http_event(
            None,
            route_key="DELETE /v1/notifications/{notificationId}",
            path=f"/v1/notifications/{job_id}",
            path_parameters={"notificationId": job_id},
        ),
        None,
    )
    assert cancelled["statusCode"] == 200
    job = json.loads(cancelled["body"])["job"]
    assert (job["state"], job["shardsDone"]) == ("cancelled", 1)
    drain(queues["queue"])
    assert transport.calls == 2
    job = jobs.get(jobs_config(), job_id)["job"]
    assert (job["state"], job["shardsDone"], job["shardsCancelled"]) == ("cancelled", 1, 2)
    # Idempotent: a second cancel answers the same state.
    again = push.handler({"job": {"action": "cancel", "notificationId": job_id}}, None)
    assert again["job"]["state"] == "cancelled"


def test_cancelling_a_finished_job_reports_it_done(
    aws: Any, transport: Transport, queues: dict[str, str]
) -> None:
    job_id = push.handler({"userIds": users_with_connections(aws, 3), "message": 1}, None)[
        "notificationId"
    ]
    drain(queues["queue"])
    answer = push.handler({"job": {"action": "cancel", "notificationId": job_id}}, None)
    assert answer["job"]["state"] == "done" and "cancelledAt" not in answer["job"]


def test_a_poison_shard_ends_in_the_dlq_and_the_job_reports_it(
    aws: Any, transport: Transport, queues: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    users = users_with_connections(aws, 4)
    real = store.user_connections

    def broken(table: str, index: str, user: str, now_s: int | None = None) -> list[str]:
        if user == "user-3":
            raise RuntimeError("injected")
        return real(table, index, user, now_s)

    monkeypatch.setattr(store, "user_connections", broken)
    job_id = push.handler({"userIds": users, "message": 1}, None)["notificationId"]
    for receive_count in range(1, MAX_RECEIVES + 1):
        event = receive(queues["queue"])
        answer = run_worker(queues["queue"], event)
        poison = [r for r in event["Records"] if "user-3" in r["body"]]
        assert poison[0]["attributes"]["ApproximateReceiveCount"] == str(receive_count)
        assert answer["batchItemFailures"] == [{"itemIdentifier": poison[0]["messageId"]}]
        state = jobs.get(jobs_config(), job_id)["job"]
        assert state["state"] == ("failed" if receive_count == MAX_RECEIVES else "running")
    # SQS's redrive: the next receive moves the message to the dead-letter queue.
    assert receive(queues["queue"])["Records"] == []
    dead = receive(queues["dlq"])["Records"]
    assert [json.loads(r["body"])["shard"] for r in dead] == [1]
    job = jobs.get(jobs_config(), job_id)["job"]
    assert (job["shardsDone"], job["shardsFailed"], job["delivered"]) == (1, 1, 2)
    assert job["failedShards"] == [{"shard": 1, "error": "RuntimeError"}]


def test_broadcast_segments_become_shards(
    aws: Any, transport: Transport, queues: dict[str, str], env: pytest.MonkeyPatch
) -> None:
    env.setenv("ALLOW_BROADCAST", "true")
    for i in range(7):
        add_connection(aws, f"b{i}", f"user-{i}")
    add_connection(aws, "expired", "old", expires_in=-10)
    answer = push.handler({"broadcast": True, "message": "all"}, None)
    assert answer["job"] == {"state": "running", "shards": 4, "audience": 7}
    drain(queues["queue"])
    assert sorted(transport.frames) == [f"b{i}" for i in range(7)]
    assert all(len(frames) == 1 for frames in transport.frames.values())
    job = jobs.get(jobs_config(), answer["notificationId"])["job"]
    assert (job["kind"], job["state"], job["delivered"], job["shardsDone"]) == (
        "broadcast",
        "done",
        7,
        4,
    )


def test_http_publish_answers_202_and_get_reports_the_job(
    aws: Any, transport: Transport, queues: dict[str, str]
) -> None:
    body = json.dumps({"userIds": users_with_connections(aws, 3), "message": "x"})
    answer = push.handler(http_event(body), LambdaContext())
    assert answer["statusCode"] == 202
    job_id = json.loads(answer["body"])["notificationId"]

    def get(notification_id: str) -> dict[str, Any]:
        return push.handler(
            http_event(
                None,
                route_key="GET /v1/notifications/{notificationId}",
                path=f"/v1/notifications/{notification_id}",
                path_parameters={"notificationId": notification_id},
            ),
            None,
        )

    found = get(job_id)
    assert found["statusCode"] == 200
    assert json.loads(found["body"])["job"]["shards"] == 2
    missing = get("01JAAAAAAAAAAAAAAAAAAAAAAA")
    assert missing["statusCode"] == 404
    assert json.loads(missing["body"])["error"]["code"] == "NOT_FOUND"
    invalid = get("nope")
    assert invalid["statusCode"] == 400


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ("get", "job must be an object"),
        ({"action": "list", "notificationId": "x"}, "job.action must be get or cancel"),
        ({"action": "get"}, "job.notificationId is required"),
        ({"action": "get", "notificationId": 5}, "notificationId must be a notification id"),
        ({"action": "get", "notificationId": "x", "extra": 1}, "unknown field(s): extra"),
    ],
)
def test_job_requests_are_validated(queues: dict[str, str], job: Any, message: str) -> None:
    answer = push.handler({"job": job}, None)
    assert answer["error"]["code"] == "INVALID_REQUEST"
    assert message in answer["error"]["message"]


def test_backends_may_name_10000_users_clients_keep_their_cap(queues: dict[str, str]) -> None:
    many = [f"u{i}" for i in range(10_001)]
    refused = push.handler({"userIds": many, "message": 1}, None)
    assert "1..10000" in refused["error"]["message"]
    mobile = push.handler(
        {"userIds": many[:101], "message": 1, "mobile": {"mode": "never", "title": "t"}}, None
    )
    assert "mobile: at most 100 users" in mobile["error"]["message"]


def test_malformed_and_unknown_shards(aws: Any, queues: dict[str, str]) -> None:
    sqs = clients.sqs()
    sqs.send_message(QueueUrl=queues["queue"], MessageBody="not json")
    sqs.send_message(
        QueueUrl=queues["queue"],
        MessageBody=json.dumps({"jobId": "01JAAAAAAAAAAAAAAAAAAAAAAA", "shard": 0, "userIds": []}),
    )
    event = receive(queues["queue"])
    answer = fanout.handler(event, LambdaContext())
    bad = [r["messageId"] for r in event["Records"] if r["body"] == "not json"]
    assert answer["batchItemFailures"] == [{"itemIdentifier": bad[0]}]


def test_a_header_update_counts_a_shard_once(aws: Any, queues: dict[str, str]) -> None:
    header = {
        "jobId": {"S": "j"},
        "item": {"S": jobstore.HEADER},
        "shards": {"N": "2"},
        "shardErrors": {"M": {}},
    }
    assert jobstore.put_header(JOBS, header) is True
    assert jobstore.put_header(JOBS, header) is False
    assert jobstore.finish_shard(JOBS, "j", 0, "done", {"delivered": 3}, None, 1) is True
    assert jobstore.finish_shard(JOBS, "j", 0, "done", {"delivered": 3}, None, 2) is False
    item = jobstore.get_header(JOBS, "j")
    assert item is not None and item["delivered"]["N"] == "3"
    assert jobstore.finish_shard(JOBS, "missing", 0, "done", {}, None, 1) is False


def test_an_idempotent_repeat_answers_the_job_without_enqueueing_it_again(
    aws: Any, transport: Transport, queues: dict[str, str]
) -> None:
    request = {"userIds": users_with_connections(aws, 3), "message": 1, "idempotencyKey": "k"}
    first = push.handler(request, None)
    again = push.handler(request, None)
    assert again["notificationId"] == first["notificationId"] and again["repeat"] is True
    assert again["job"] == first["job"]
    drain(queues["queue"])
    assert transport.calls == 3  # two shards, enqueued once


class ShortContext(LambdaContext):
    """An invocation with less time left than SEND_TIME_MARGIN_MS (2 s)."""

    def get_remaining_time_in_millis(self) -> int:
        return 1500


def test_records_not_started_in_time_or_failing_are_retried(
    aws: Any, queues: dict[str, str], monkeypatch: pytest.MonkeyPatch, env: pytest.MonkeyPatch
) -> None:
    push.handler({"userIds": users_with_connections(aws, 3), "message": 1}, None)
    event = receive(queues["queue"])
    ids = [{"itemIdentifier": r["messageId"]} for r in event["Records"]]
    assert fanout.handler(event, ShortContext()) == {"batchItemFailures": ids}

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("jobs table unreachable")

    monkeypatch.setattr(jobstore, "get_header", broken)
    assert fanout.handler(event, LambdaContext()) == {"batchItemFailures": ids}
    with pytest.raises(ValueError, match="SQS events"):
        fanout.handler({"not": "sqs"}, None)
    env.delenv("CONNECTIONS_ENDPOINT")
    with pytest.raises(Exception, match="CONNECTIONS_ENDPOINT"):
        fanout.handler(event, None)


@pytest.mark.parametrize(
    "body",
    [
        '["a list"]',
        '{"jobId": "j", "shard": -1, "userIds": []}',
        '{"jobId": "j", "shard": 0, "userIds": [1]}',
        '{"jobId": "j", "shard": 0, "segment": 3, "totalSegments": 2}',
    ],
)
def test_malformed_shard_messages_are_refused(body: str) -> None:
    from wsnotify import shard_worker

    with pytest.raises(ValueError):
        shard_worker.parse(body)
