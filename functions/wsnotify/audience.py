"""Who a push request reaches: the users of its target, and the figures of a dry run.

`users` is the one place a target kind turns into user ids (topic subscribers, segment members,
named users); a dry run and a real push share it, so a dry run counts what a push would reach."""

from __future__ import annotations

from typing import Any

from wsnotify import clients, delivery
from wsnotify.config import Config
from wsnotify.validation import PushRequest

# Subscribers read per Query page when a topic's audience is resolved inline.
SUBSCRIBER_PAGE_SIZE = 1000


def users(config: Config, request: PushRequest) -> tuple[str, ...] | None:
    """The users a validated request targets; None for a broadcast (no user list: its audience
    is the live connections)."""
    if request.broadcast:
        return None
    if request.segment is not None:
        from wsnotify import segments  # each target's code loads with the first push using it

        return tuple(segments.resolve(config, request.segment))
    if request.topic is not None:
        return _subscribers(config, request.topic.name)
    return request.user_ids


def _subscribers(config: Config, topic: str) -> tuple[str, ...]:
    """A topic's subscribers, every page."""
    from wsnotify import subscriptions

    table = config.require("subscriptions_table")
    return tuple(
        user
        for page in subscriptions.subscriber_pages(table, topic, SUBSCRIBER_PAGE_SIZE)
        for user in page
    )


def _user_devices(config: Config, user_id: str) -> int:
    """How many devices a user registered (Select COUNT on the devices' userId index)."""
    total = 0
    pages = clients.dynamodb().get_paginator("query")
    for page in pages.paginate(
        TableName=config.require("devices_table"),
        IndexName=config.devices_user_index,
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": user_id}},
        Select="COUNT",
    ):
        total += int(page.get("Count", 0))
    return total


def dry_run(
    config: Config, targeted_users: tuple[str, ...] | None, connections: int
) -> dict[str, Any]:
    """The dry-run answer: the audience (users; live connections for a broadcast), the live
    connections a push would target, and, with mobile push on, the audience's registered
    devices (what `mobile: {"mode": "always"}` would address; broadcasts reach no device)."""
    document: dict[str, Any] = {
        "ok": True,
        "dryRun": True,
        "audience": connections if targeted_users is None else len(targeted_users),
        "connections": connections,
    }
    if config.devices_table:
        counts = delivery.map_concurrently(
            lambda user: _user_devices(config, user),
            list(targeted_users or ()),
            config.send_concurrency,
        )
        document["devices"] = sum(counts)
    return document
