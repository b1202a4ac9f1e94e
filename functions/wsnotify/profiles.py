"""User profiles (PROFILES_TABLE) and the segment index of their declared attributes
(SEGMENT_INDEX_TABLE).

Profile item (docs/architecture.md, "Data model"): ``userId`` (partition key), ``attributes``
(M of S), ``timezone`` (S, IANA; absent when unset), ``locale`` (S; absent when unset),
``updatedAt`` (N, epoch ms). ``updatedAt`` is also the profile's version: every write makes it
strictly greater than the one it read (``max(now, previous + 1)``) and is conditioned on that
value, so concurrent writers never lose an update silently (the loser re-reads and retries).

Index item: ``attribute`` (partition key, ``<name>=<value>``), ``userId`` (sort key),
``updatedAt`` (N: the version of the profile write that put it). One item per declared
attribute value of a profile (SEGMENT_ATTRIBUTES); undeclared attributes are stored in the
profile and never indexed.

Consistency (no transaction: two tables, up to 2 x 50 index writes). A write puts the new index
items BEFORE the profile and removes the superseded ones AFTER it, each removal conditioned on
the item being older than the new version. Hence, whatever crashes when: every declared value
of a stored profile has its index item (a segment push never misses a matching user), and an
index item may contradict its profile (a crash after the index write). Such an item never
causes a delivery, because resolution (wsnotify.segments) checks every candidate against its
profile, and resolution deletes it once it is no newer than the profile or older than
``segments.STALE_AFTER_MS`` (an in-flight write is never mistaken for a crashed one)."""

from __future__ import annotations

import functools
import re
import time
import zoneinfo
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from wsnotify import clients, delivery, envelope, log, store
from wsnotify.config import Config
from wsnotify.errors import INVALID_REQUEST, RequestError

MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_NAME_LENGTH = 64
MAX_ATTRIBUTE_VALUE_LENGTH = 256
MAX_TIMEZONE_LENGTH = 64
MAX_LOCALE_LENGTH = 35
# Letters, digits, '_', '.', '-': never '=', which separates name and value in the index key.
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# BCP 47 in practice: a 2-8 letter language, then subtags of 1-8 letters or digits (de-DE,
# zh-Hant-TW, es-419). Shape only: the registry of subtags is not consulted.
_LOCALE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
# IANA names when the runtime has no time zone database at all (see valid_timezone).
_TIMEZONE_SHAPE = re.compile(r"^(UTC|[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){1,2})$")
# In the system database but not time zone names a profile should hold.
_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})
_BODY_FIELDS = frozenset({"attributes", "timezone", "locale"})
_WRITE_ATTEMPTS = 5
# BatchGetItem takes at most 100 keys; unprocessed keys are retried a few times with backoff.
_BATCH_GET_KEYS = 100
_BATCH_GET_ATTEMPTS = 6


def _invalid(message: str) -> RequestError:
    return RequestError(INVALID_REQUEST, message)


@dataclass(frozen=True)
class Profile:
    attributes: dict[str, str]
    timezone: str | None
    locale: str | None


def attribute_value(value: Any, where: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ATTRIBUTE_VALUE_LENGTH:
        raise _invalid(f"{where} must be a string of 1..{MAX_ATTRIBUTE_VALUE_LENGTH} characters")
    if not value.isprintable():
        raise _invalid(f"{where} must hold printable characters only")
    return value


def attribute_name(value: Any, where: str = "attribute name") -> str:
    if not isinstance(value, str) or not ATTRIBUTE_NAME.match(value):
        raise _invalid(
            f"{where} {str(value)[:70]!r} must be 1..{MAX_ATTRIBUTE_NAME_LENGTH} letters, "
            "digits, '_', '.' or '-'"
        )
    return value


@functools.lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    """The IANA names of the runtime's database (the system's, or the `tzdata` package's)."""
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def valid_timezone(value: Any) -> str:
    """An IANA time zone name, checked against the runtime's time zone database. A runtime
    without any database (none is guaranteed in every Lambda image) falls back to the name's
    shape, and says so in the log: the value is then stored unchecked against the database."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TIMEZONE_LENGTH:
        raise _invalid(f"timezone must be an IANA name of 1..{MAX_TIMEZONE_LENGTH} characters")
    zones = _zones()
    if zones:
        if value not in zones:
            raise _invalid(f"timezone {value!r} is not an IANA time zone (e.g. Europe/Berlin)")
    elif _TIMEZONE_SHAPE.match(value):
        log.warning("no time zone database in this runtime: timezone checked by shape only")
    else:
        raise _invalid(f"timezone {value!r} is not an IANA time zone name (e.g. Europe/Berlin)")
    return value


def valid_locale(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_LOCALE_LENGTH or not _LOCALE.match(value):
        raise _invalid(
            f"locale must be a BCP 47 language tag of at most {MAX_LOCALE_LENGTH} characters "
            "(e.g. de-DE)"
        )
    return value


def profile_body(body: Any) -> Profile:
    """Validate ``{"attributes": {...}, "timezone": ..., "locale": ...}`` (every field optional:
    a PUT replaces the whole profile, so an omitted field is unset)."""
    if not isinstance(body, dict):
        raise _invalid("the profile must be a JSON object")
    unknown = sorted(str(k)[:40] for k in body if k not in _BODY_FIELDS)
    if unknown:
        raise _invalid(f"unknown field(s): {', '.join(unknown[:5])}")
    raw = body.get("attributes")
    attributes: dict[str, str] = {}
    if raw is not None:
        if not isinstance(raw, dict):
            raise _invalid("attributes must be an object of string values")
        if len(raw) > MAX_ATTRIBUTES:
            raise _invalid(f"attributes may hold at most {MAX_ATTRIBUTES} attributes")
        for name, value in raw.items():
            attributes[attribute_name(name)] = attribute_value(value, f"attributes.{name}")
    timezone = body.get("timezone")
    locale = body.get("locale")
    return Profile(
        attributes,
        None if timezone is None else valid_timezone(timezone),
        None if locale is None else valid_locale(locale),
    )


def document(user_id: str, item: dict[str, Any]) -> dict[str, Any]:
    """The profile as the API answers it (docs/openapi.yaml, Profile)."""
    return {
        "ok": True,
        "userId": user_id,
        "attributes": {k: v["S"] for k, v in item.get("attributes", {}).get("M", {}).items()},
        "timezone": item["timezone"]["S"] if "timezone" in item else None,
        "locale": item["locale"]["S"] if "locale" in item else None,
        "updatedAt": int(item["updatedAt"]["N"]),
    }


def _get(table: str, user_id: str) -> dict[str, Any] | None:
    response = clients.dynamodb().get_item(
        TableName=table, Key={"userId": {"S": user_id}}, ConsistentRead=True
    )
    item = response.get("Item")
    return item if isinstance(item, dict) else None


def get(config: Config, user_id: str) -> dict[str, Any] | None:
    item = _get(config.require("profiles_table"), user_id)
    return None if item is None else document(user_id, item)


def _declared(config: Config, attributes: dict[str, str]) -> set[tuple[str, str]]:
    return {(n, v) for n, v in attributes.items() if n in config.segment_attributes}


def _stored_attributes(item: dict[str, Any] | None) -> dict[str, str]:
    if item is None:
        return {}
    return {k: v["S"] for k, v in item.get("attributes", {}).get("M", {}).items()}


def index_key(name: str, value: str) -> str:
    return f"{name}={value}"


def _index_put(table: str, user_id: str, pair: tuple[str, str], version: int) -> None:
    """Put (or refresh) one index item; never lowers the version a newer write put."""
    try:
        clients.dynamodb().put_item(
            TableName=table,
            Item={
                "attribute": {"S": index_key(*pair)},
                "userId": {"S": user_id},
                "updatedAt": {"N": str(version)},
            },
            ConditionExpression="attribute_not_exists(userId) OR updatedAt < :v",
            ExpressionAttributeValues={":v": {"N": str(version)}},
        )
    except ClientError as exc:
        if not store.condition_failed(exc):
            raise


def index_delete(
    table: str, user_id: str, pair: tuple[str, str], condition: str, version: int
) -> bool:
    """Delete one index item if ``updatedAt <condition> version`` still holds (a newer write's
    item is kept); whether it was deleted."""
    try:
        clients.dynamodb().delete_item(
            TableName=table,
            Key={"attribute": {"S": index_key(*pair)}, "userId": {"S": user_id}},
            ConditionExpression=f"updatedAt {condition} :v",
            ExpressionAttributeValues={":v": {"N": str(version)}},
        )
    except ClientError as exc:
        if store.condition_failed(exc):
            return False
        raise
    return True


def _index(
    config: Config, user_id: str, pairs: set[tuple[str, str]], version: int, put: bool
) -> None:
    if not pairs:
        return
    table = config.require("segment_index_table")

    def work(pair: tuple[str, str]) -> None:
        if put:
            _index_put(table, user_id, pair, version)
        else:
            index_delete(table, user_id, pair, "<", version)

    delivery.map_concurrently(work, sorted(pairs), config.send_concurrency)


def put(config: Config, user_id: str, profile: Profile) -> dict[str, Any]:
    """Replace a user's profile (PUT semantics) and keep the index consistent (module doc)."""
    table = config.require("profiles_table")
    new_pairs = _declared(config, profile.attributes)
    for _ in range(_WRITE_ATTEMPTS):
        old = _get(table, user_id)
        old_version = int(old["updatedAt"]["N"]) if old else None
        version = max(envelope.now_ms(), (old_version or 0) + 1)
        # Every declared value, unchanged ones included: a re-PUT indexes attributes declared
        # after the profile was written (the backfill path, docs/architecture.md).
        _index(config, user_id, new_pairs, version, put=True)
        if _write(table, user_id, profile, version, old_version):
            stale = _declared(config, _stored_attributes(old)) - new_pairs
            _index(config, user_id, stale, version, put=False)
            item = _item(user_id, profile, version)
            return {**document(user_id, item), "created": old is None}
    raise RuntimeError(f"profile of {user_id!r} kept changing under {_WRITE_ATTEMPTS} writes")


def _item(user_id: str, profile: Profile, version: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "userId": {"S": user_id},
        "attributes": {"M": {k: {"S": v} for k, v in profile.attributes.items()}},
        "updatedAt": {"N": str(version)},
    }
    if profile.timezone is not None:
        item["timezone"] = {"S": profile.timezone}
    if profile.locale is not None:
        item["locale"] = {"S": profile.locale}
    return item


def _write(
    table: str, user_id: str, profile: Profile, version: int, old_version: int | None
) -> bool:
    """The conditional profile write: False when another writer got there first."""
    if old_version is None:
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(userId)"}
    else:
        condition = {
            "ConditionExpression": "updatedAt = :old",
            "ExpressionAttributeValues": {":old": {"N": str(old_version)}},
        }
    try:
        clients.dynamodb().put_item(
            TableName=table, Item=_item(user_id, profile, version), **condition
        )
    except ClientError as exc:
        if store.condition_failed(exc):
            return False
        raise
    return True


def delete(config: Config, user_id: str) -> bool:
    """Remove a profile, then its index items; False when there was none."""
    table = config.require("profiles_table")
    for _ in range(_WRITE_ATTEMPTS):
        old = _get(table, user_id)
        if old is None:
            return False
        old_version = int(old["updatedAt"]["N"])
        try:
            clients.dynamodb().delete_item(
                TableName=table,
                Key={"userId": {"S": user_id}},
                ConditionExpression="updatedAt = :old",
                ExpressionAttributeValues={":old": {"N": str(old_version)}},
            )
        except ClientError as exc:
            if store.condition_failed(exc):
                continue
            raise
        pairs = _declared(config, _stored_attributes(old))
        _index(config, user_id, pairs, old_version + 1, put=False)
        return True
    raise RuntimeError(f"profile of {user_id!r} kept changing under {_WRITE_ATTEMPTS} deletes")


def batch_get(
    table: str, user_ids: list[str], projection: str, names: dict[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """The profile items of `user_ids` (strongly consistent), by user id; users without a
    profile are absent. BatchGetItem by 100 keys, unprocessed keys retried with backoff."""
    found: dict[str, dict[str, Any]] = {}
    unique = sorted(set(user_ids))
    for start in range(0, len(unique), _BATCH_GET_KEYS):
        request: dict[str, Any] = {
            "Keys": [{"userId": {"S": u}} for u in unique[start : start + _BATCH_GET_KEYS]],
            "ProjectionExpression": projection,
            "ConsistentRead": True,
        }
        if names:
            request["ExpressionAttributeNames"] = names
        pending: dict[str, Any] = {table: request}
        for attempt in range(_BATCH_GET_ATTEMPTS):
            response = clients.dynamodb().batch_get_item(RequestItems=pending)
            for item in response.get("Responses", {}).get(table, []):
                found[item["userId"]["S"]] = item
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
            time.sleep(min(0.05 * 2**attempt, 1.0))
        else:
            raise RuntimeError("BatchGetItem left keys unprocessed after retries (throttled)")
    return found


def timezones(table: str, user_ids: Any) -> dict[str, str | None]:
    """Each user's profile timezone, None without a profile or a timezone (the scheduler's
    "local time" grouping reads this)."""
    ids = list(user_ids)
    items = batch_get(table, ids, "userId, #tz", {"#tz": "timezone"})
    return {u: items[u]["timezone"]["S"] if "timezone" in items.get(u, {}) else None for u in ids}
