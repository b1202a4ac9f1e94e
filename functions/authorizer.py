"""REQUEST authorizer, one verification for two APIs:

- WebSocket ``$connect``: the JWT from ``?token=`` or Sec-WebSocket-Protocol; an IAM policy back;
- HTTP API ``/v1/me/*`` in hs256 mode (payload format 2.0, simple responses): the JWT from
  ``Authorization: Bearer``; ``{"isAuthorized": true, "context": {"userId"}}`` back.

A refused token raises ``Unauthorized`` in both cases: API Gateway answers 401."""

from __future__ import annotations

from typing import Any

from wsnotify import auth, config, log


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    inv = log.Invocation("authorizer", event, context)
    try:
        http = event.get("version") == "2.0"
        token = auth.bearer_token(event) if http else auth.token_from_event(event)
        inv.set(tokenSource=_source(event, token))
        if token is None:
            raise auth.Unauthorized("NoToken")
        user = auth.verify(config.load(), token)
    except auth.Unauthorized as exc:
        inv.set(allowed=False, reason=str(exc))
        inv.emit()
        raise Exception("Unauthorized") from None  # the exact text API Gateway maps to 401
    except Exception as exc:
        # Misconfiguration or an unreachable key source: refuse (fail closed), log the cause.
        log.exception("authorizer error")
        inv.set(allowed=False, reason=type(exc).__name__)
        inv.emit()
        raise Exception("Unauthorized") from None
    inv.set(allowed=True, userId=user)
    inv.emit()
    if http:
        return {"isAuthorized": True, "context": {"userId": user}}
    return {
        "principalId": user,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ],
        },
        "context": {"userId": user},
    }


def _source(event: dict[str, Any], token: str | None) -> str:
    if token is None:
        return "none"
    if event.get("version") == "2.0":
        return "bearer"
    query = event.get("queryStringParameters")
    return "query" if isinstance(query, dict) and query.get("token") == token else "subprotocol"
