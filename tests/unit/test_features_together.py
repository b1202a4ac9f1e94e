"""The features of issues 12 and 13 together: a `localTime` send to a topic groups the topic's
subscribers by their profile zone when it is scheduled, and each zone's schedule reaches the
subscribers of that zone at the moment it fires (not a stored user list)."""

from __future__ import annotations

from typing import Any

import push
import pytest
from conftest import Transport
from test_push import add_connection
from test_schedules import fire, profile, sched  # noqa: F401 (fixture)
from test_topics import SUBSCRIPTIONS, topic_aws  # noqa: F401 (fixture)
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
