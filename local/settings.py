"""Limits and knobs of the emulated data planes, with API Gateway's and Lambda's defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's WebSocket message payload limit
MAX_FRAME_BYTES = 32 * 1024  # API Gateway's WebSocket frame limit (client frames over it: 1009)
MAX_INVOKE_PAYLOAD = 6 * 1024 * 1024  # Lambda's synchronous request payload limit


@dataclass(frozen=True)
class Settings:
    idle_timeout_s: float = 600.0  # API Gateway: 10 minutes
    max_duration_s: float = 7200.0  # API Gateway: 2 hours
    connections_latency_ms: float = 0.0  # injected per @connections call (benchmarks)
    max_message_bytes: int = MAX_MESSAGE_BYTES
    max_frame_bytes: int = MAX_FRAME_BYTES
    send_timeout_s: float = 10.0
    # API Gateway does not guarantee $disconnect: False drops it after an abrupt client drop
    # (close 1006), which leaves a stale row for the 410 pruning path to clean up.
    deliver_abnormal_disconnects: bool = True

    @staticmethod
    def from_env(**overrides: Any) -> Settings:
        values: dict[str, Any] = {}
        latency = os.environ.get("LOCAL_CONNECTIONS_LATENCY_MS", "").strip()
        if latency:
            try:
                values["connections_latency_ms"] = float(latency)
            except ValueError:
                raise ValueError(
                    f"LOCAL_CONNECTIONS_LATENCY_MS must be a number of milliseconds: {latency!r}"
                ) from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = Settings(**values)
        if settings.connections_latency_ms < 0:
            raise ValueError("the @connections latency must be >= 0 ms")
        return settings
