"""The features of issues 12 and 13 together: a `localTime` send to a topic groups the topic's
subscribers by their profile zone when it is scheduled, and each zone's schedule reaches the
subscribers of that zone at the moment it fires (not a stored user list); a topic larger than one
shard becomes a fan-out job."""

from __future__ import annotations

from typing import Any

import push
import pytest
from conftest import LambdaContext, Transport
from test_jobs import drain, queues  # noqa: F401 (fixture)
from test_push import add_connection
from test_schedules import fire, profile, sched  # noqa: F401 (fixture)
from test_topics import SUBSCRIPTIONS, TOPIC_HISTORY, topic_aws  # noqa: F401 (fixture)
from wsnotify import clients


@pytest.fixture
def both(sched: Transport, topic_aws: Any) -> Transport:  # noqa: F811 (the imported fixtures)
    return sched


def subscribe(user: str, topic: str) -> None:
    clients.dynamodb().put_item(
        TableName=SUBSCRIPTIONS,
        Item={"topic": {"S": topic}, "userId": {"S": user}, "createdAt": {"N": "1"}},
    )


def test_local_time_to_a_topic_reaches_each_zone_s_current_subscribers(both: Transport) -> None:
    ddb = clients.dynamodb()
    profile(ddb, "anna", "Europe/Berlin")
    profile(ddb, "bert", "America/New_York")
    for user, cid in (("anna", "c-anna"), ("bert", "c-bert"), ("carl", "c-carl")):
        subscribe(user, "news:webinar")
        add_connection(ddb, cid, user)
    out = push.handler(
        {"topic": "news:webinar", "message": "starts soon", "localTime": {"time": "09:00"}}, None
    )
    assert out["ok"] is True, out
    names = {g["timezone"]: str(n) for n, g in enumerate(out["groups"])}
    assert set(names) == {"Europe/Berlin", "America/New_York", "UTC"}  # carl: no profile

    # Berlin's part: only anna, although the request names the whole topic.
    result = fire(out["scheduleId"], names["Europe/Berlin"])
    assert result["ok"] is True and result["delivered"] == 1, result
    assert set(both.frames) == {"c-anna"}

    # bert leaves before New York's 09:00: that zone's part finds nobody and sends nothing.
    ddb.delete_item(
        TableName=SUBSCRIPTIONS,
        Key={"topic": {"S": "news:webinar"}, "userId": {"S": "bert"}},
    )
    skipped = fire(out["scheduleId"], names["America/New_York"])
    assert skipped == {"ok": True, "skipped": "no recipients in this zone"}
    assert "c-bert" not in both.frames

    # The default zone's part reaches carl, in his own history (not the topic's shared one).
    result = fire(out["scheduleId"], names["UTC"])
    assert result["delivered"] == 1 and "c-carl" in both.frames
    rows = ddb.query(
        TableName="ws-notifications",
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": "carl"}},
    )["Items"]
    assert len(rows) == 1


@pytest.fixture
def topic_jobs(topic_aws: Any, queues: dict[str, str]) -> dict[str, str]:  # noqa: F811
    return queues


def test_a_topic_larger_than_one_shard_becomes_a_job_that_reaches_subscribers_only(
    aws: Any, transport: Transport, topic_jobs: dict[str, str]
) -> None:
    """SHARD_SIZE is 2 (the jobs fixture): 3 subscribers make a 2-shard job; the history row is
    stored once, for the topic; the workers reach the subscribers' connections, not others'."""
    for user in ("sub-1", "sub-2", "sub-3", "outsider"):
        add_connection(aws, f"c-{user}", user)
        if user != "outsider":
            subscribe(user, "news:big")
    answer = push.handler({"topic": "news:big", "message": {"n": 1}}, LambdaContext())
    assert answer["ok"] is True, answer
    assert answer["job"] == {"state": "running", "shards": 2, "audience": 3}
    assert answer["topic"] == "news:big" and answer["persisted"] is True
    assert transport.calls == 0  # nothing sent before the workers run
    drain(topic_jobs["queue"])
    assert set(transport.frames) == {"c-sub-1", "c-sub-2", "c-sub-3"}
    assert all(f[0]["topic"] == "news:big" for f in transport.frames.values())
    rows = aws.query(
        TableName=TOPIC_HISTORY,
        KeyConditionExpression="topic = :t",
        ExpressionAttributeValues={":t": {"S": "news:big"}},
    )["Items"]
    assert [r["notificationId"]["S"] for r in rows] == [answer["notificationId"]]
    job = push.handler(
        {"job": {"action": "get", "notificationId": answer["notificationId"]}}, None
    )["job"]
    assert (job["state"], job["delivered"]) == ("done", 3)
