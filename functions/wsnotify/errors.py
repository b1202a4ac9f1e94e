"""Error codes of the client protocol and the push result document."""

from __future__ import annotations

INVALID_REQUEST = "INVALID_REQUEST"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
PUSH_DISABLED = "PUSH_DISABLED"
FORBIDDEN = "FORBIDDEN"
UNKNOWN_ACTION = "UNKNOWN_ACTION"
INTERNAL_ERROR = "INTERNAL_ERROR"
# An unknown job, schedule, profile or subscription addressed by id (HTTP 404).
NOT_FOUND = "NOT_FOUND"
# HTTP API only (docs/openapi.yaml).
UNAUTHORIZED = "UNAUTHORIZED"
# refresh: the new token was refused, or names another user than the connection's.
INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105 (an error code, not a secret)
# refresh: the connection's token expired before the refresh arrived (reconnect instead).
TOKEN_EXPIRED = "TOKEN_EXPIRED"  # noqa: S105 (an error code, not a secret)
# push from a client: the sender's per-user budget of client pushes is spent for now.
RATE_LIMITED = "RATE_LIMITED"


class RequestError(Exception):
    """A request the caller can fix: reported to it with a code, never raised to the runtime."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ConfigError(Exception):
    """The deployment is misconfigured (missing or invalid environment variable)."""
