"""Safeguards of client push (the `push` route): who may message whom, and how often.

Backends are trusted and skip all of this; a client is one user among many, so a deployment
that switches client push on chooses a policy (CLIENT_PUSH_POLICY):

- `anybody`: any authenticated user may message any user;
- `claim`: only the users listed in a claim of the sender's token, which the authorizer copies
  into its context at $connect (`pushRecipients`, a JSON array);
- `lambda`: the consumer's function (CLIENT_PUSH_POLICY_FUNCTION) receives
  {"sender", "recipients", "messageBytes"} and answers {"allow": true|false}.

Every client push, allowed or not, counts against the sender's rate limit: a fixed window per
user kept in DynamoDB (RATE_LIMIT_TABLE, TTL on expiresAt)."""

from __future__ import annotations

import json
import time
from typing import Any

from wsnotify import claims, clients, events
from wsnotify.config import Config
from wsnotify.errors import FORBIDDEN, RATE_LIMITED, RequestError
from wsnotify.validation import PushRequest

# Key of the claim's recipients in the authorizer's context (the authorizer writes it with
# wsnotify.claims.push_recipients).
CONTEXT_KEY = claims.PUSH_RECIPIENTS_KEY


def _allowed_by_claim(event: Any) -> set[str]:
    auth = events.request_context(event).get("authorizer")
    raw = auth.get(CONTEXT_KEY) if isinstance(auth, dict) else None
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()


def _allowed_by_function(cfg: Config, sender: str, request: PushRequest) -> bool:
    payload = {
        "sender": sender,
        "recipients": list(request.user_ids),
        "messageBytes": len(json.dumps(request.message, separators=(",", ":")).encode()),
    }
    out = clients.lambda_().invoke(
        FunctionName=cfg.require("client_push_policy_function"),
        InvocationType="RequestResponse",
        Payload=json.dumps(payload).encode(),
    )
    if out.get("FunctionError"):
        raise RuntimeError("the client push policy function failed")
    answer = json.loads(out["Payload"].read() or b"null")
    if not isinstance(answer, dict) or not isinstance(answer.get("allow"), bool):
        raise RuntimeError('the client push policy function must answer {"allow": true|false}')
    return bool(answer["allow"])


def count(cfg: Config, sender: str, now_s: int | None = None) -> None:
    """One more client push of `sender` in the current window; RATE_LIMITED beyond the limit."""
    table = cfg.require("rate_limit_table")
    now = int(time.time()) if now_s is None else now_s
    window = cfg.client_push_rate_window
    start = now - now % window
    ddb = clients.dynamodb()
    try:
        ddb.update_item(
            TableName=table,
            Key={"bucket": {"S": f"push#{sender}#{start}"}},
            UpdateExpression="ADD hits :one SET expiresAt = :exp",
            ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":limit": {"N": str(cfg.client_push_rate_limit)},
                ":exp": {"N": str(start + window + 60)},
            },
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        retry = start + window - now
        raise RequestError(
            RATE_LIMITED,
            f"more than {cfg.client_push_rate_limit} pushes in {window} s; retry in {retry} s",
        ) from None


def authorize(cfg: Config, event: Any, sender: str, request: PushRequest) -> None:
    """Raise RequestError unless `sender` may send `request` now."""
    count(cfg, sender)
    if cfg.client_push_policy == "claim":
        refused = sorted(set(request.user_ids) - _allowed_by_claim(event))
        if refused:
            shown = ", ".join(u[:40] for u in refused[:3])
            raise RequestError(FORBIDDEN, f"your token does not allow messaging: {shown}")
    elif cfg.client_push_policy == "lambda" and not _allowed_by_function(cfg, sender, request):
        raise RequestError(FORBIDDEN, "the push policy does not allow this message")
