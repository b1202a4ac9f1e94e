"""Shapes every emulated AWS surface shares: API Gateway ids and timestamps, AWS JSON errors
(``x-amzn-ErrorType``), IAM wildcard matching, the stage access log."""

from __future__ import annotations

import base64
import functools
import json
import re
import secrets
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from local import templates


def api_gateway_id() -> str:
    """IDs shaped like API Gateway's (16 base64 characters ending in '=')."""
    return base64.urlsafe_b64encode(secrets.token_bytes(11))[:15].decode() + "="


def now_ms() -> int:
    return int(time.time() * 1000)


def clf(ms: int) -> str:
    """``requestTime``: the Common Log Format timestamp API Gateway puts in events."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@functools.lru_cache(maxsize=256)
def iam_glob(pattern: str) -> re.Pattern[str]:
    """IAM wildcards (* and ?) as a regex; cached, because every invoke checks the same grants."""
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    )


def aws_error(
    status: int, code: str, message: str | None, *, message_key: str = "message", extra: Any = None
) -> web.Response:
    """An AWS service error as boto3 parses it: the code in ``x-amzn-ErrorType``."""
    body: dict[str, Any] = {message_key: message}
    if code in ("ResourceNotFoundException", "TooManyRequestsException"):
        body["Type"] = "User"
    if isinstance(extra, dict):
        body.update(extra)
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        headers={"x-amzn-ErrorType": code, "Content-Type": "application/json"},
    )


class AccessLog:
    """A stage's access log: one line per request in the stage's own format (``$context.*``
    variables), written to a file instead of the CloudWatch log group."""

    def __init__(self, path: Path, fmt: str | None, stage_variables: dict[str, str]) -> None:
        self.fmt = fmt
        self.stage_variables = stage_variables
        self._file = path.open("a", encoding="utf-8", buffering=1) if fmt else None

    def write(self, ctx: dict[str, Any], status: int, error: str = "", **extra: Any) -> None:
        if self._file is None or not self.fmt:
            return
        values = {
            **ctx,
            **extra,
            "status": status,
            "error": {"message": error, "messageString": json.dumps(error)},
        }
        self._file.write(templates.render(self.fmt, values, self.stage_variables) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def connect_headers(
    request: web.Request, domain_name: str
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """A WebSocket client's $connect headers as API Gateway's front end passes them on: Host and
    the X-Forwarded-* headers are its own, a trace id is added when the client sent none."""
    front_end = {
        "Host": domain_name,
        "X-Forwarded-For": request.remote or "127.0.0.1",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    replaced = {key.lower() for key in front_end}
    multi: dict[str, list[str]] = {}
    for key, value in request.headers.items():
        if key.lower() not in replaced:
            multi.setdefault(key, []).append(value)
    if not any(key.lower() == "x-amzn-trace-id" for key in multi):
        multi["X-Amzn-Trace-Id"] = [f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"]
    multi.update({key: [value] for key, value in front_end.items()})
    # The single-value map keeps the last value of a repeated header, as API Gateway does.
    return {key: values[-1] for key, values in multi.items()}, multi
