"""What the client shares with its users: the error type, and the pure rules it follows (token
expiry, reconnect backoff, what a refused handshake means)."""

from __future__ import annotations

import base64
import json
import random
from typing import Any


class NotifyError(Exception):
    """An ``error`` envelope (``code``, ``message``), a refused handshake (``code`` is
    ``HTTP_<status>``) or a client-side failure (``code`` is ``CLIENT_*``)."""

    def __init__(self, code: str, message: str, frame: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.frame = frame


def token_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (read, not verified: the server verifies), or None."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp: object = claims["exp"]
        return float(exp) if isinstance(exp, int | float) else None
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Capped exponential backoff with "equal jitter": half fixed, half random."""
    ceiling = min(maximum, initial * 2.0 ** min(attempt, 30))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not crypto


def status_hint(status: int) -> str:
    """What a refused handshake's HTTP status means, for the ``error`` event."""
    return {
        400: "handshake refused: offer notify.v1 next to the token (docs/protocol.md)",
        401: "token refused: invalid, expired, wrong issuer/audience (docs/protocol.md)",
        403: "forbidden by the API (authorizer Deny or a wrong URL/stage)",
        429: "throttled: retrying with backoff",
    }.get(status, f"handshake answered HTTP {status}")
