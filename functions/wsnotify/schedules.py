"""Scheduled sends: create (push, a publish request with a time field), fire (push, invoked by
EventBridge Scheduler), and manage (the schedules function: list, get, update, cancel).

A schedule id stands for one publish request and one or more Scheduler schedules ("parts",
wsnotify/schedule_parts.py): one per recipient time zone for `localTime`, else one. The schedules
table (wsnotify/schedule_store.py) keeps the request, the parts and what has fired."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from wsnotify import audience_zones, cron, ids, schedule_parts, schedule_store, timing
from wsnotify.config import Config
from wsnotify.errors import INVALID_REQUEST, NOT_FOUND, RequestError
from wsnotify.schedule_settings import Settings
from wsnotify.validation import push_request

RECORD_RETENTION_SECONDS = 30 * 86_400  # a finished or cancelled schedule stays listed 30 days
UPCOMING = 5  # fire times listed for a recurrence
LIST_DEFAULT_LIMIT = 20
LIST_MAX_LIMIT = 100
_TARGET_KEYS = ("userId", "userIds", "broadcast", "topic", "segment")


def _invalid(message: str) -> RequestError:
    return RequestError(INVALID_REQUEST, message)


def now_utc() -> datetime:
    return datetime.now(UTC)


def target_key(request: dict[str, Any]) -> str:
    """The value schedules are filtered by (GET /v1/schedules?target=)."""
    if "userId" in request:
        return f"user:{request['userId']}"
    if "userIds" in request:
        return "users"
    if "topic" in request:
        return f"topic:{request['topic']}"
    if "segment" in request:
        return "segment"
    return "broadcast"


def _fingerprint(request: dict[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _schedule_id(key: str | None) -> str:
    """A new ULID; with an idempotencyKey, an id derived from it (a repeat finds the first)."""
    if key is None:
        return ids.new_ulid()
    return hashlib.sha256(f"schedule\n{key}".encode()).hexdigest()[:26]


def _expires_at(when: timing.When, parts: list[schedule_parts.Part]) -> int | None:
    last = max((p.fire_at for p in parts if p.fire_at is not None), default=when.until)
    return None if last is None else int(last.timestamp()) + RECORD_RETENTION_SECONDS


def _when_fields(when: timing.When, parts: list[schedule_parts.Part]) -> dict[str, dict[str, Any]]:
    fields: dict[str, dict[str, Any]] = {
        "kind": {"S": when.field},
        "when": {"S": json.dumps(when.document(), separators=(",", ":"))},
        "parts": {"S": json.dumps([p.document() for p in parts], separators=(",", ":"))},
    }
    expires = _expires_at(when, parts)
    if expires is not None:
        fields["expiresAt"] = {"N": str(expires)}
    return fields


def create(
    cfg: Config, settings: Settings, request: dict[str, Any], field: str, now: datetime
) -> dict[str, Any]:
    """Validate a publish request with a time field and schedule it; the publish answer."""
    settings.require_enabled()
    when = timing.parse(field, request[field], now, settings.default_timezone)
    base = {k: v for k, v in request.items() if k != field}
    if base.get("dryRun") is True:
        raise _invalid(f"dryRun answers now: send it without {field}")
    key = base.pop("idempotencyKey", None)
    # The same checks as an immediate send, now rather than at fire time.
    push_request({**base, **({"idempotencyKey": key} if key is not None else {})}, cfg, False)
    parts = schedule_parts.plan(settings, base, when, now)
    schedule_id = _schedule_id(key)
    item: dict[str, Any] = {
        "scheduleId": {"S": schedule_id},
        "target": {"S": target_key(base)},
        "createdAt": {"N": str(int(now.timestamp() * 1000))},
        "state": {"S": schedule_store.SCHEDULED},
        "request": {"S": json.dumps(base, separators=(",", ":"), ensure_ascii=False)},
        "fingerprint": {"S": _fingerprint(request)},
        "fired": {"M": {}},
        "fireCount": {"N": "0"},
        **_when_fields(when, parts),
    }
    holder = schedule_store.put_new(settings.schedules_table, item)
    if holder is not None:
        if holder.get("fingerprint", {}).get("S") != item["fingerprint"]["S"]:
            raise _invalid("idempotencyKey was already used for a different scheduled request")
        return {**_answer(holder, now), "repeat": True}
    try:
        schedule_parts.create(settings, schedule_id, parts, base)
    except Exception:
        schedule_store.delete(settings.schedules_table, schedule_id)
        raise
    return _answer(item, now)


def _answer(item: dict[str, Any], now: datetime) -> dict[str, Any]:
    view = _view(item, now)
    answer = {
        "ok": True,
        "scheduled": True,
        "scheduleId": view["scheduleId"],
        "fireTimes": view["fireTimes"],
    }
    if "groups" in view:
        answer["groups"] = view["groups"]
    return answer


def _when_of(item: dict[str, Any]) -> timing.When:
    """The stored time field, re-read without the window checks (it may be past now)."""
    document = json.loads(item["when"]["S"])
    field, spec = next(iter(document.items()))
    if field != "recurrence":
        return timing.When(field, spec)
    expression = cron.parse(spec["cron"])
    until = timing.rfc3339(spec["until"], "until") if "until" in spec else None
    return timing.When(field, spec, cron=expression, timezone=spec["timezone"], until=until)


def _view(item: dict[str, Any], now: datetime) -> dict[str, Any]:
    request = json.loads(item["request"]["S"])
    parts = json.loads(item["parts"]["S"])
    fired = {k: v["S"] for k, v in item.get("fired", {}).get("M", {}).items()}
    when = _when_of(item)
    if when.recurring:
        upcoming = [timing.iso(t) for t in timing.next_fire_times(when, now, UPCOMING)]
        finished = not upcoming
    else:
        upcoming = sorted(p["fireAt"] for p in parts if p["part"] not in fired)
        finished = not upcoming
    state = item["state"]["S"]
    if state == schedule_store.SCHEDULED and finished:
        state = "completed"
    view: dict[str, Any] = {
        "scheduleId": item["scheduleId"]["S"],
        "state": state,
        "target": {k: request[k] for k in _TARGET_KEYS if k in request},
        "when": when.document(),
        "fireTimes": upcoming if state == "scheduled" else [],
        "createdAt": int(item["createdAt"]["N"]),
        "fireCount": int(item.get("fireCount", {}).get("N", "0")),
        "lastFiredAt": item.get("lastFiredAt", {}).get("S"),
        "request": request,
    }
    if when.field == "localTime":
        view["groups"] = [
            {
                "timezone": p["timezone"],
                "fireAt": p["fireAt"],
                "users": p["users"],
                "fired": p["part"] in fired,
            }
            for p in parts
        ]
    return view


def _load(settings: Settings, schedule_id: Any) -> dict[str, Any]:
    settings.require_enabled()
    if not isinstance(schedule_id, str) or not schedule_id.isalnum() or len(schedule_id) != 26:
        raise _invalid("scheduleId must be the 26-character id a scheduled publish returned")
    item = schedule_store.get(settings.schedules_table, schedule_id)
    if item is None:
        raise RequestError(NOT_FOUND, f"no schedule {schedule_id}")
    return item


def get(settings: Settings, schedule_id: Any, now: datetime) -> dict[str, Any]:
    item = _load(settings, schedule_id)
    return {"ok": True, "schedule": _view(item, now)}


def list_page(
    settings: Settings, target: Any, limit: Any, cursor: Any, now: datetime
) -> dict[str, Any]:
    settings.require_enabled()
    if target is not None and (
        not isinstance(target, str)
        or not (
            target in ("users", "broadcast", "segment")
            or (target.startswith(("user:", "topic:")) and len(target.split(":", 1)[1]) > 0)
        )
    ):
        raise _invalid("target must be user:<userId>, users, broadcast, topic:<topic> or segment")
    if limit is None:
        limit = LIST_DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= LIST_MAX_LIMIT:
        raise _invalid(f"limit must be an integer 1..{LIST_MAX_LIMIT}")
    if cursor is not None and not isinstance(cursor, str):
        raise _invalid("cursor must be a string")
    items, next_cursor = schedule_store.page(
        settings.schedules_table, settings.target_index, target, limit, cursor
    )
    return {
        "ok": True,
        "schedules": [_view(i, now) for i in items],
        "nextCursor": next_cursor,
    }


def cancel(settings: Settings, schedule_id: Any, now: datetime) -> dict[str, Any]:
    """Cancel: the table first (a fire already under way then sends nothing), then every part."""
    item = _load(settings, schedule_id)
    view = _view(item, now)
    if view["state"] == "completed":
        raise _invalid(f"schedule {schedule_id} has completed: nothing left to cancel")
    if view["state"] == schedule_store.SCHEDULED:
        expires = int(now.timestamp()) + RECORD_RETENTION_SECONDS
        schedule_store.cancel(
            settings.schedules_table, schedule_id, int(now.timestamp() * 1000), expires
        )
    names = [p["part"] for p in json.loads(item["parts"]["S"])]
    schedule_parts.delete(settings, schedule_id, names)
    return get(settings, schedule_id, now)


def update(
    cfg: Config, settings: Settings, schedule_id: Any, body: Any, now: datetime
) -> dict[str, Any]:
    """Change when a schedule fires: the body holds exactly one time field."""
    item = _load(settings, schedule_id)
    if not isinstance(body, dict):
        raise _invalid("the request must be a JSON object")
    unknown = sorted(str(k)[:20] for k in body if k not in timing.TIME_FIELDS)
    if unknown:
        raise _invalid(f"only the time can change; unknown field(s): {', '.join(unknown)}")
    field = timing.time_field(body)
    if field is None:
        raise _invalid(f"give one of {', '.join(timing.TIME_FIELDS)}")
    view = _view(item, now)
    if view["state"] != schedule_store.SCHEDULED:
        raise _invalid(f"schedule {schedule_id} is {view['state']}: it can no longer change")
    if view["fireCount"] and item["kind"]["S"] != "recurrence":
        raise _invalid("this schedule has already fired for some recipients: cancel it instead")
    when = timing.parse(field, body[field], now, settings.default_timezone)
    request = view["request"]
    parts = schedule_parts.plan(settings, request, when, now)
    old = [p["part"] for p in json.loads(item["parts"]["S"])]
    schedule_parts.replace(settings, schedule_id, old, parts, request)
    if not schedule_store.update_when(
        settings.schedules_table, schedule_id, _when_fields(when, parts)
    ):
        schedule_parts.delete(settings, schedule_id, [p.name for p in parts])
        raise _invalid(f"schedule {schedule_id} was cancelled meanwhile")
    return get(settings, schedule_id, now)


def fire(settings: Settings, event: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """A Scheduler invocation: (the request to deliver, or None when the schedule was
    cancelled meanwhile; the figures for the log line)."""
    info = event.get(schedule_parts.FIRE_KEY)
    request = event.get("request")
    if not isinstance(info, dict) or not isinstance(request, dict):
        raise _invalid("a scheduled push event has scheduledPush and request objects")
    schedule_id, part, when = info.get("scheduleId"), info.get("part"), info.get("scheduledTime")
    if not all(isinstance(v, str) and v for v in (schedule_id, part, when)):
        raise _invalid("scheduledPush needs scheduleId, part and scheduledTime")
    assert isinstance(schedule_id, str) and isinstance(part, str) and isinstance(when, str)
    figures = {"scheduleId": schedule_id, "part": part, "attempt": info.get("attempt")}
    outcome = schedule_store.mark_fired(settings.schedules_table, schedule_id, part, when)
    figures["fire"] = outcome
    if outcome == "cancelled":
        return None, figures
    zone = info.get("timezone")
    if isinstance(zone, str) and ("topic" in request or "segment" in request):
        # A localTime part of a topic or segment carries its zone, not user ids (members change
        # and a large audience would not fit Scheduler's input): the zone's members, now, each
        # reached in their own history (a topic's shared history would show it to the other
        # zones before their time).
        members = audience_zones.zone_members(
            request, zone, settings.profiles_table, settings.default_timezone
        )
        figures["zoneMembers"] = len(members)
        if not members:
            figures["skipped"] = "no recipients in this zone"
            return None, figures
        request = {k: v for k, v in request.items() if k not in ("topic", "segment")}
        request["userIds"] = members
    return request, figures
