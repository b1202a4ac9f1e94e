"""Token claims the authorizer passes on in its context, and that context's size limit.

Pure (no AWS, no configuration): the authorizer's cold start imports only this of the claim
code. The functions that read the context back (wsnotify.topics, wsnotify.client_push) take
the keys and the parser from here, so both sides agree by construction."""

from __future__ import annotations

import json
import re
from typing import Any

# Key of the client-push claim's recipients in the WebSocket authorizer's context (JSON array).
PUSH_RECIPIENTS_KEY = "pushRecipients"
# Key of the topics claim's patterns (JSON array), in the WebSocket and HTTP Lambda authorizers'
# contexts alike.
TOPIC_PATTERNS_KEY = "topicPatterns"
# The authorizer's whole response must stay under API Gateway's 8 KB: the lists share this.
MAX_CONTEXT_BYTES = 6144

# Topic names: an optional namespace and a colon, then the name proper (wsnotify.topics
# validates topics with the same patterns).
NAMESPACE_PATTERN = "[a-z0-9_-]{1,32}"
# Conservative on purpose: safe in a URL path segment, a log line and a DynamoDB key, with no
# character that needs escaping anywhere (no "/", so a topic is one path segment; no ":").
NAME_PATTERN = "[A-Za-z0-9_.@=-]+"
# A claim pattern: a topic, or a prefix of one followed by "*".
_TOPIC_PATTERN = re.compile(rf"(?:{NAMESPACE_PATTERN}:)?[A-Za-z0-9_.@=-]*\*?")


def push_recipients(claims: dict[str, Any], claim: str) -> str | None:
    """The client-push claim as a compact JSON array for the context, or None when it is
    absent, malformed or too large (the sender may then message nobody)."""
    value = claims.get(claim)
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return None
    encoded = json.dumps(sorted(set(value)), separators=(",", ":"), ensure_ascii=False)
    return encoded if len(encoded.encode()) <= MAX_CONTEXT_BYTES else None


def topic_patterns(value: Any) -> list[str] | None:
    """The topic patterns of a token claim: a JSON array of strings, a space-separated string,
    or the text API Gateway's HTTP JWT authorizer makes of an array (`[a b]`). None when the
    claim is absent or malformed."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                value = json.loads(text)
            except ValueError:
                value = text[1:-1].split()
        else:
            value = text.split()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    # Entries that are neither a topic nor a prefix pattern can match nothing: dropped.
    return sorted({v for v in value if v and _TOPIC_PATTERN.fullmatch(v)})


def topic_patterns_for_context(claims: dict[str, Any], claim: str, budget: int) -> str | None:
    """The topics claim's patterns as a compact JSON array for the context, or None when absent,
    malformed or larger than `budget` bytes (what the push recipients left of the context)."""
    patterns = topic_patterns(claims.get(claim))
    if not patterns:
        return None
    encoded = json.dumps(patterns, separators=(",", ":"), ensure_ascii=False)
    return encoded if len(encoded.encode()) <= budget else None
