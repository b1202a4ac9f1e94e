"""Settings of scheduled sends (docs/architecture.md, "Environment variables"), read apart from
wsnotify.config so that scheduling stays one self-contained feature: push (creating and firing
schedules) and the schedules function (managing them) read them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wsnotify.config import _int, _str
from wsnotify.errors import INVALID_REQUEST, ConfigError, RequestError


@dataclass(frozen=True)
class Settings:
    schedules_table: str
    target_index: str
    group: str  # the Scheduler schedule group; empty: scheduling is off
    role_arn: str  # the role Scheduler assumes to invoke push
    target_arn: str  # the push function's ARN
    dlq_arn: str
    retry_attempts: int
    maximum_event_age_seconds: int
    default_timezone: str
    profiles_table: str  # user profiles (timezone), when the deployment has them

    def require_enabled(self) -> None:
        if not (self.group and self.schedules_table and self.role_arn and self.target_arn):
            raise RequestError(
                INVALID_REQUEST,
                "scheduled sends are not enabled on this deployment (scheduling.enabled)",
            )


def load() -> Settings:
    default_timezone = _str("DEFAULT_TIMEZONE", "UTC")
    try:
        ZoneInfo(default_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"DEFAULT_TIMEZONE {default_timezone!r} is not an IANA zone") from None
    return Settings(
        schedules_table=_str("SCHEDULES_TABLE"),
        target_index=_str("SCHEDULES_TARGET_INDEX", "target-index"),
        group=_str("SCHEDULE_GROUP"),
        role_arn=_str("SCHEDULER_ROLE_ARN"),
        target_arn=_str("SCHEDULE_TARGET_ARN"),
        dlq_arn=_str("SCHEDULE_DLQ_ARN"),
        # Scheduler's own bounds (RetryPolicy).
        retry_attempts=_int("SCHEDULE_RETRY_ATTEMPTS", 3, 0, 185),
        maximum_event_age_seconds=_int("SCHEDULE_MAX_EVENT_AGE_SECONDS", 3600, 60, 86_400),
        default_timezone=default_timezone,
        profiles_table=os.environ.get("PROFILES_TABLE", "").strip(),
    )
