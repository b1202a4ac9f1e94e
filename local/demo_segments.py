"""The demo step of profiles and segments (issue 12): a backend writes profiles through the HTTP
API (SigV4), dry-runs a segment push, then sends it: only the matching users' sockets get it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import websockets

from local import tokens

Push = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
# (status, document) of one HTTP API call: demo_support.http_call bound to the stack, signed.
HttpCall = Callable[[str, str, bytes], tuple[int, dict[str, Any]]]

PROFILES = {
    "erin": {"plan": "pro", "country": "DE"},
    "frank": {"plan": "pro", "country": "AT"},
    "gina": {"plan": "free", "country": "DE"},
}
SEGMENT = {"plan": ["pro"], "country": ["DE", "AT"]}


class SegmentStepFailed(AssertionError):
    pass


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SegmentStepFailed(message)


async def segment_push(stack: dict[str, Any], push: Push, http: HttpCall, wait_s: float) -> str:
    for user, attributes in PROFILES.items():
        body = json.dumps({"attributes": attributes, "timezone": "Europe/Berlin"}).encode()
        status, answer = await asyncio.to_thread(http, "PUT", f"/v1/users/{user}", body)
        _check(status == 200, f"PUT /v1/users/{user}: HTTP {status}: {answer}")
    sockets = {
        user: await websockets.connect(f"{stack['websocket_url']}?token={tokens.mint(stack, user)}")
        for user in PROFILES
    }
    try:
        request: dict[str, Any] = {"segment": SEGMENT, "message": {"text": "20% off for pro"}}
        body = json.dumps({**request, "dryRun": True}).encode()
        status, dry = await asyncio.to_thread(http, "POST", "/v1/notifications", body)
        _check(status == 200 and dry.get("audience") == 2, f"dry run: HTTP {status}: {dry}")
        result = await push(request)
        _check(result.get("delivered") == 2, f"segment push answered {result}")
        for user in ("erin", "frank"):
            envelope = json.loads(await asyncio.wait_for(sockets[user].recv(), wait_s))
            _check(envelope.get("id") == result["notificationId"], f"{user} got {envelope}")
        try:
            await asyncio.wait_for(sockets["gina"].recv(), 1.0)
        except TimeoutError:
            pass
        else:
            raise SegmentStepFailed(f"gina received a push meant for {SEGMENT}")
    finally:
        for ws in sockets.values():
            await ws.close()
    return (
        f"3 profiles PUT; dry run {json.dumps(dry)}; push delivered {result['delivered']}: "
        "erin (pro, DE) and frank (pro, AT) got it, gina (free, DE) did not"
    )
