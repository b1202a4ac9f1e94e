"""Error codes of the client protocol and the push result document."""

from __future__ import annotations

INVALID_REQUEST = "INVALID_REQUEST"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
PUSH_DISABLED = "PUSH_DISABLED"
FORBIDDEN = "FORBIDDEN"
UNKNOWN_ACTION = "UNKNOWN_ACTION"
INTERNAL_ERROR = "INTERNAL_ERROR"
# HTTP API only (docs/openapi.yaml).
UNAUTHORIZED = "UNAUTHORIZED"


class RequestError(Exception):
    """A request the caller can fix: reported to it with a code, never raised to the runtime."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ConfigError(Exception):
    """The deployment is misconfigured (missing or invalid environment variable)."""
