"""Segments: ``{"plan": ["pro"], "country": ["DE", "AT"]}`` names the users whose profile
matches every listed attribute with any of its values.

Resolution reads the segment index (wsnotify.profiles), never the profiles table as a whole: one
Query per (attribute, value) pair, a union per attribute, the intersection across attributes,
then every candidate is checked against its profile (BatchGetItem, strongly consistent), which is
the source of truth. An index item that contradicts its profile (left by a write that crashed
half-way, see wsnotify.profiles) is skipped, and deleted when it is provably stale."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from wsnotify import clients, delivery, envelope, log, profiles
from wsnotify.config import Config
from wsnotify.errors import FORBIDDEN, INVALID_REQUEST, RequestError

MAX_SEGMENT_ATTRIBUTES = 10
MAX_SEGMENT_VALUES = 50  # per attribute
# Inline delivery (the push invocation itself) takes at most this many users; larger audiences
# are refused until the sharded fan-out path (issue 12, jobs) takes them over at merge.
MAX_INLINE_SEGMENT_USERS = 1000
# Lambda's longest invocation: an index item newer than its profile and older than this was
# left by a write that crashed (a write still in flight is never that old).
STALE_AFTER_MS = 15 * 60 * 1000


def _invalid(message: str) -> RequestError:
    return RequestError(INVALID_REQUEST, message)


def parse(config: Config, value: Any, from_client: bool) -> dict[str, tuple[str, ...]]:
    """Validate a push request's ``segment``: declared attributes only, bounded sizes."""
    if from_client:
        raise RequestError(FORBIDDEN, "clients may not target segments")
    if not isinstance(value, dict) or not 1 <= len(value) <= MAX_SEGMENT_ATTRIBUTES:
        raise _invalid(
            f"segment must be an object of 1..{MAX_SEGMENT_ATTRIBUTES} attributes, "
            'each a list of values (e.g. {"plan": ["pro"]})'
        )
    declared = config.segment_attributes
    segment: dict[str, tuple[str, ...]] = {}
    for name, values in value.items():
        profiles.attribute_name(name, "segment attribute")
        if name not in declared:
            listed = ", ".join(declared) if declared else "none"
            raise _invalid(
                f"segment attribute {name!r} is not declared (segment_attributes: {listed})"
            )
        if not isinstance(values, list) or not 1 <= len(values) <= MAX_SEGMENT_VALUES:
            raise _invalid(f"segment.{name} must be a list of 1..{MAX_SEGMENT_VALUES} values")
        checked = tuple(profiles.attribute_value(v, f"segment.{name}[]") for v in values)
        if len(set(checked)) != len(checked):
            raise _invalid(f"segment.{name} must hold unique values")
        segment[name] = checked
    return segment


def _members(table: str, key: str) -> dict[str, int]:
    """The users of one index partition (``name=value``) with their items' versions."""
    found: dict[str, int] = {}
    pages = clients.dynamodb().get_paginator("query")
    for page in pages.paginate(
        TableName=table,
        KeyConditionExpression="#a = :a",
        ExpressionAttributeNames={"#a": "attribute"},
        ExpressionAttributeValues={":a": {"S": key}},
        ProjectionExpression="userId, updatedAt",
    ):
        for item in page.get("Items", []):
            found[item["userId"]["S"]] = int(item.get("updatedAt", {}).get("N", "0"))
    return found


def resolve(config: Config, segment: dict[str, Any]) -> list[str]:
    """The users matching `segment` (validated by `parse`): sorted, unique user ids."""
    index = config.require("segment_index_table")
    pairs = [(name, value) for name, values in segment.items() for value in values]
    members = delivery.map_concurrently(
        lambda pair: _members(index, profiles.index_key(*pair)), pairs, config.send_concurrency
    )
    by_pair = dict(zip(pairs, members, strict=True))
    per_attribute: dict[str, set[str]] = defaultdict(set)
    for (name, _), users in by_pair.items():
        per_attribute[name].update(users)
    candidates = set.intersection(*per_attribute.values()) if per_attribute else set()
    if not candidates:
        return []
    items = profiles.batch_get(
        config.require("profiles_table"), sorted(candidates), "userId, attributes, updatedAt"
    )
    matched: list[str] = []
    stale: list[tuple[str, tuple[str, str], int]] = []
    oldest_pending = envelope.now_ms() - STALE_AFTER_MS
    for user in sorted(candidates):
        item = items.get(user)
        attributes = {k: v["S"] for k, v in (item or {}).get("attributes", {}).get("M", {}).items()}
        if all(attributes.get(name) in values for name, values in segment.items()):
            matched.append(user)
            continue
        version = int(item["updatedAt"]["N"]) if item else None
        for pair, users in by_pair.items():
            if user in users and attributes.get(pair[0]) != pair[1]:
                written = users[user]
                if (version is not None and written <= version) or written < oldest_pending:
                    stale.append((user, pair, written))
    if stale:
        _prune(config, index, stale)
    return matched


def _prune(config: Config, index: str, stale: list[tuple[str, tuple[str, str], int]]) -> None:
    """Delete index items that contradict their profile, each only if unchanged since read.
    Best effort: a failure leaves the item for the next resolution, which skips it again."""
    try:
        removed = delivery.map_concurrently(
            lambda entry: profiles.index_delete(index, entry[0], entry[1], "=", entry[2]),
            stale,
            config.send_concurrency,
        )
        log.warning("pruned stale segment index items", pruned=sum(1 for r in removed if r))
    except Exception:
        log.exception("pruning stale segment index items failed")
