"""REQUEST authorizer, one verification for two APIs:

- WebSocket ``$connect``: the JWT from ``?token=`` or Sec-WebSocket-Protocol; an IAM policy back;
- HTTP API ``/v1/me/*`` in hs256 mode (payload format 2.0, simple responses): the JWT from
  ``Authorization: Bearer``; ``{"isAuthorized": true, "context": {"userId"}}`` back.

A refused token raises ``Unauthorized`` in both cases: API Gateway answers 401."""

from __future__ import annotations

from typing import Any

from wsnotify import auth, claims, config, log
from wsnotify.errors import ConfigError


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    inv = log.Invocation("authorizer", event, context)
    try:
        http = event.get("version") == "2.0"
        token = auth.bearer_token(event) if http else auth.token_from_event(event)
        inv.set(tokenSource=_source(event, token))
        if token is None:
            raise auth.Unauthorized("NoToken")
        cfg = config.load()
        identity = auth.verify(cfg, token)
    except auth.Unauthorized as exc:
        # A bad token is the client's mistake: a warning with a reason code, no stack trace and
        # never the token itself.
        log.warning("token refused", reason=str(exc))
        inv.set(allowed=False, reason=str(exc))
        inv.emit()
        raise Exception("Unauthorized") from None  # the exact text API Gateway maps to 401
    except ConfigError as exc:
        # The deployment cannot authenticate anyone (fail closed); the message says what to fix.
        log.error(f"authorizer misconfigured: {exc}")
        inv.set(allowed=False, reason="ConfigError")
        inv.emit()
        raise Exception("Unauthorized") from None
    except Exception as exc:
        # An unexpected failure of ours or of a key source: refuse, log the cause.
        log.exception("authorizer error")
        inv.set(allowed=False, reason=type(exc).__name__)
        inv.emit()
        raise Exception("Unauthorized") from None
    inv.set(allowed=True, userId=identity.user_id)
    # Values must be strings, numbers or booleans (API Gateway); connect stores the expiry.
    passed_on: dict[str, Any] = {"userId": identity.user_id, "tokenExpiresAt": identity.expires_at}
    if cfg.client_push_claim:
        recipients = claims.push_recipients(identity.claims, cfg.client_push_claim)
        if recipients is None:
            inv.set(pushRecipients="absent, malformed or too large: may message nobody")
        else:
            passed_on[claims.PUSH_RECIPIENTS_KEY] = recipients
    http_context: dict[str, Any] = {"userId": identity.user_id}
    if cfg.topics_claim:
        # What is left of the context budget after pushRecipients (API Gateway's 8 KB).
        used = len(str(passed_on.get(claims.PUSH_RECIPIENTS_KEY, "")).encode())
        patterns = claims.topic_patterns_for_context(
            identity.claims, cfg.topics_claim, claims.MAX_CONTEXT_BYTES - used
        )
        if patterns is None:
            inv.set(topicPatterns="absent, malformed or too large: no topic by claim")
        else:
            passed_on[claims.TOPIC_PATTERNS_KEY] = patterns
            http_context[claims.TOPIC_PATTERNS_KEY] = patterns
    inv.emit()
    if http:
        return {"isAuthorized": True, "context": http_context}
    return {
        "principalId": identity.user_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ],
        },
        "context": passed_on,
    }


def _source(event: dict[str, Any], token: str | None) -> str:
    if token is None:
        return "none"
    if event.get("version") == "2.0":
        return "bearer"
    query = event.get("queryStringParameters")
    return "query" if isinstance(query, dict) and query.get("token") == token else "subprotocol"
