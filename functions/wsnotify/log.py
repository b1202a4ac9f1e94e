"""One structured JSON line per invocation on stdout. Never tokens or message bodies."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

logger = logging.getLogger("wsnotify")
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper() or "INFO")


class Invocation:
    """Collects the fields of an invocation's log line; `emit` writes it once."""

    def __init__(self, function: str, event: Any, context: Any) -> None:
        self._start = time.perf_counter()
        rc = event.get("requestContext") if isinstance(event, dict) else None
        rc = rc if isinstance(rc, dict) else {}
        request_id = rc.get("requestId") or getattr(context, "aws_request_id", None) or ""
        self.fields: dict[str, Any] = {
            "requestId": str(request_id),
            "function": function,
            "route": rc.get("routeKey") or ("http" if "http" in rc else "invoke"),
        }

    @property
    def request_id(self) -> str:
        return str(self.fields["requestId"])

    def set(self, **fields: Any) -> None:
        self.fields.update(fields)

    def emit(self) -> None:
        self.fields["durationMs"] = round((time.perf_counter() - self._start) * 1000, 1)
        sys.stdout.write(json.dumps(self.fields, default=str) + "\n")
        sys.stdout.flush()


def exception(message: str) -> None:
    """Log the stack trace of the current exception. Callers pass a fixed message: never a body
    or token (exception text of our own code never contains either)."""
    logger.exception(message)


def warning(message: str, **fields: Any) -> None:
    """A client mistake worth seeing (a refused token): fixed text plus reason codes only."""
    logger.warning("%s %s", message, json.dumps(fields, default=str, sort_keys=True))


def error(message: str) -> None:
    """A deployment problem with a message that says what to fix; no stack trace."""
    logger.error(message)
