"""localTime: the recipients of a request grouped by their time zone (one schedule per zone).

A user's zone is the `timezone` attribute of their profile (`<prefix>-profiles`, partition key
`userId`; env PROFILES_TABLE), read with BatchGetItem; users without a profile, without a
timezone or with one that is not a valid IANA name get the deployment's default zone
(`scheduling.default_timezone`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wsnotify import log, profiles
from wsnotify.errors import INVALID_REQUEST, RequestError


def audience(request: dict[str, Any]) -> list[str]:
    """The user ids a localTime request reaches, to group them by zone: when it is created and,
    for a topic or segment (whose members change), again when each zone's part fires
    (`zone_members`)."""
    if "userId" in request:
        return [request["userId"]]
    if "userIds" in request:
        return list(request["userIds"])
    if "topic" in request or "segment" in request:
        # The same resolution as a push (wsnotify.audience), from the validated target.
        from wsnotify import audience as push_audience
        from wsnotify import config
        from wsnotify.validation import push_request

        cfg = config.load()
        target: dict[str, Any] = {k: request[k] for k in ("topic", "segment") if k in request}
        valid = push_request({**target, "message": None}, cfg, from_client=False)
        return list(push_audience.users(cfg, valid) or ())
    raise RequestError(
        INVALID_REQUEST,
        "localTime needs a known audience (userId or userIds): a broadcast reaches "
        "connections, not users with a time zone",
    )


def valid_zone(name: Any) -> bool:
    if not isinstance(name, str) or not name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def timezones(table: str, user_ids: Iterable[str]) -> dict[str, str | None]:
    """Each user's profile timezone (None without one): wsnotify.profiles' reader; everyone is
    in the default zone when the deployment has no profiles table."""
    if not table:
        return dict.fromkeys(user_ids)
    return profiles.timezones(table, user_ids)


def zone_members(
    request: dict[str, Any], zone: str, profiles_table: str, default_zone: str
) -> list[str]:
    """The users of a topic or segment request whose zone (profile, else the default) is
    `zone`, resolved now: a localTime part delivers to them only."""
    zones = timezones(profiles_table, audience(request))
    return group_by_zone(zones, default_zone).get(zone, [])


def group_by_zone(zones: dict[str, str | None], default_zone: str) -> dict[str, list[str]]:
    """zone -> its user ids (in the order given); invalid or missing zones -> the default."""
    groups: dict[str, list[str]] = {}
    for user, zone in zones.items():
        if zone is not None and not valid_zone(zone):
            log.warning(f"profile of {user[:40]} has an invalid timezone; using {default_zone}")
            zone = None
        groups.setdefault(zone or default_zone, []).append(user)
    return groups
