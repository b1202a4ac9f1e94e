"""API Gateway HTTP API (payload format 2.0) adapters: the caller, the parameters, and the
answers in the project's conventions (docs/openapi.yaml): JSON bodies, the error document
``{"ok": false, "error": {"code", "message"}}`` with its HTTP status, the request id in an
``x-request-id`` header. Handlers stay thin: they parse with these helpers and call the domain."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from wsnotify import config, events, log
from wsnotify.errors import (
    FORBIDDEN,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    UNAUTHORIZED,
    RequestError,
)

STATUS = {
    INVALID_REQUEST: 400,
    UNAUTHORIZED: 401,
    FORBIDDEN: 403,
    PAYLOAD_TOO_LARGE: 413,
    INTERNAL_ERROR: 500,
    NOT_FOUND: 404,
}

Handler = Callable[[config.Config, dict[str, Any], log.Invocation], dict[str, Any]]


def answer(status: int, document: dict[str, Any], request_id: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", "x-request-id": request_id},
        "body": json.dumps(document, separators=(",", ":"), ensure_ascii=False),
    }


def failure(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


def status_of(document: dict[str, Any]) -> int:
    if document.get("ok"):
        return 200
    return STATUS.get(document.get("error", {}).get("code", ""), 400)


def run(function: str, event: dict[str, Any], context: Any, handle: Handler) -> dict[str, Any]:
    """One HTTP request: the handler's document (or the error document) as a proxy answer, and
    one log line with the route, the outcome and no body."""
    inv = log.Invocation(function, event, context)
    try:
        document = handle(config.load(), event, inv)
    except RequestError as exc:
        document = failure(exc.code, exc.message)
    except Exception:
        log.exception(f"{function} failed")
        document = failure(INTERNAL_ERROR, f"internal error (request id: {inv.request_id or '-'})")
    status = status_of(document)
    inv.set(status=status, **({} if document.get("ok") else {"error": document["error"]["code"]}))
    inv.emit()
    return answer(status, document, inv.request_id)


def path_parameter(event: dict[str, Any], name: str) -> str:
    params = event.get("pathParameters")
    value = params.get(name) if isinstance(params, dict) else None
    if not isinstance(value, str) or not value:
        raise RequestError(INVALID_REQUEST, f"the path has no {name}")
    return value


def query_parameter(event: dict[str, Any], name: str) -> str | None:
    """A query string value; API Gateway joins a repeated key's values with commas."""
    params = event.get("queryStringParameters")
    value = params.get(name) if isinstance(params, dict) else None
    return value if isinstance(value, str) else None


def iam_caller(event: dict[str, Any]) -> str | None:
    """The SigV4 caller of an AWS_IAM route: the user or role ARN API Gateway verified."""
    auth = events.request_context(event).get("authorizer")
    iam = auth.get("iam") if isinstance(auth, dict) else None
    arn = iam.get("userArn") if isinstance(iam, dict) else None
    return arn if isinstance(arn, str) and arn else None


def token_user(event: dict[str, Any]) -> str:
    """The end user of a /v1/me route: the JWT authorizer's ``sub`` claim (jwks mode) or the
    Lambda authorizer's ``userId`` context (hs256 mode). Never a parameter of the request."""
    auth = events.request_context(event).get("authorizer")
    auth = auth if isinstance(auth, dict) else {}
    jwt = auth.get("jwt")
    claims = jwt.get("claims") if isinstance(jwt, dict) else None
    user = claims.get("sub") if isinstance(claims, dict) else None
    if user is None:
        lam = auth.get("lambda")
        user = lam.get("userId") if isinstance(lam, dict) else None
    if not isinstance(user, str) or not user:
        raise RequestError(UNAUTHORIZED, "no authenticated user on this request")
    return user
