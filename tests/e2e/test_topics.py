"""Topics end to end (issue 12): examples/complete configures `news` (self-service) and `vip`
(by token claim only). Real WebSocket clients subscribe and poll; backends subscribe users
through the HTTP API (SigV4) and direct invoke; end users through /v1/me/subscriptions (JWT);
every HTTP request and answer is validated against docs/openapi.yaml."""

from __future__ import annotations

import json
import uuid
from typing import Any

import websockets
from conftest import run
from http_client import Answer, call
from test_system import _backend, apush, recv, silent

from local import tokens


def uid(name: str) -> str:
    return f"t-{name}-{uuid.uuid4().hex[:6]}"


async def connect(stack: dict[str, Any], user: str, topics: list[str] | None = None) -> Any:
    extra = {"topics": topics} if topics is not None else None
    token = tokens.mint(stack, user, extra=extra)
    return await websockets.connect(f"{stack['websocket_url']}?token={token}")


async def send(ws: Any, frame: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(frame))
    return await recv(ws)


def backend_http(stack: dict[str, Any], method: str, path: str, **kwargs: Any) -> Answer:
    return call(stack["http_api_url"], method, path, region=stack["region"], **kwargs)


def me_http(
    stack: dict[str, Any], user: str, method: str, path: str, topics: Any = None, **kwargs: Any
) -> Answer:
    extra = {"topics": topics} if topics is not None else None
    headers = {"authorization": f"Bearer {tokens.mint(stack, user, extra=extra)}"}
    return call(
        stack["http_api_url"], method, path, region=stack["region"], sign=None, headers=headers,
        **kwargs,
    )  # fmt: skip


def invoke_topics(stack: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    out = _backend(stack).invoke(
        FunctionName=stack["functions"]["topics"], Payload=json.dumps({"topics": request}).encode()
    )
    assert "FunctionError" not in out
    return json.loads(out["Payload"].read())  # type: ignore[no-any-return]


def test_websocket_subscribe_and_topic_push_reach_subscribers_only(stack: dict[str, Any]) -> None:
    alice, bob, vip = uid("alice"), uid("bob"), uid("vip")
    topic = f"news:{uuid.uuid4().hex[:8]}"
    gold = f"vip:{uuid.uuid4().hex[:8]}"

    async def body() -> None:
        phone, laptop = await connect(stack, alice), await connect(stack, alice)
        other = await connect(stack, bob)
        member = await connect(stack, vip, topics=["vip:*"])
        try:
            ack = await send(phone, {"action": "subscribe", "topic": topic})
            assert ack["type"] == "ack" and ack["data"]["subscribed"] is True, ack
            refused = await send(other, {"action": "subscribe", "topic": gold})
            assert refused["type"] == "error" and refused["error"]["code"] == "FORBIDDEN"
            assert (await send(member, {"action": "subscribe", "topic": gold}))["type"] == "ack"
            bad = await send(other, {"action": "subscribe", "topic": "nowhere:x"})
            assert bad["error"]["code"] == "INVALID_REQUEST"

            result = await apush(stack, {"topic": topic, "message": {"goal": 1}})
            assert result["ok"] and result["topic"] == topic and result["delivered"] == 2
            for ws in (phone, laptop):
                frame = await recv(ws)
                assert frame["data"] == {"goal": 1} and frame["topic"] == topic
            assert await silent(other) and await silent(member)

            # History: once per topic, for subscribers only.
            page = await send(laptop, {"action": "poll", "topic": topic})
            assert [i["id"] for i in page["data"]["items"]] == [result["notificationId"]]
            assert (await send(other, {"action": "poll", "topic": topic}))["error"]["code"] == (
                "FORBIDDEN"
            )
            gone = await send(phone, {"action": "unsubscribe", "topic": topic})
            assert gone["data"]["removed"] is True
            after = await apush(stack, {"topic": topic, "message": "again"})
            assert after["targeted"] == 0 and await silent(phone)
            unknown = await send(phone, {"action": "subscrib", "topic": topic})
            assert unknown["error"]["code"] == "UNKNOWN_ACTION"
            assert "subscribe, unsubscribe" in unknown["error"]["message"]
        finally:
            for ws in (phone, laptop, other, member):
                await ws.close()

    run(body())


def test_http_and_invoke_subscriptions(stack: dict[str, Any]) -> None:
    carol, dave = uid("carol"), uid("dave")
    gold = f"vip:{uuid.uuid4().hex[:8]}"
    news = f"news:{uuid.uuid4().hex[:8]}"

    # Backends: SigV4 routes, a raw ":" and a percent-encoded one alike.
    answer = backend_http(stack, "PUT", f"/v1/topics/{gold}/subscribers/{carol}")
    assert answer.status == 200 and answer.json()["created"] is True, answer.raw
    encoded = gold.replace(":", "%3A")
    answer = backend_http(stack, "PUT", f"/v1/topics/{encoded}/subscribers/{dave}")
    assert answer.status == 200 and answer.json()["topic"] == gold, answer.raw
    listing = backend_http(stack, "GET", f"/v1/topics/{gold}/subscribers", query={"limit": "1"})
    assert listing.status == 200 and listing.json()["next"] is not None
    unsigned = backend_http(stack, "GET", f"/v1/topics/{gold}/subscribers", sign=None)
    assert unsigned.status == 403
    out = invoke_topics(stack, {"action": "list", "topic": gold})
    assert sorted(s["userId"] for s in out["subscribers"]) == sorted([carol, dave])
    assert invoke_topics(stack, {"action": "unsubscribe", "topic": gold, "userId": dave})["removed"]

    # End users: their own subscriptions, by namespace or by claim.
    assert me_http(stack, dave, "PUT", f"/v1/me/subscriptions/{news}").status == 200
    assert me_http(stack, dave, "PUT", f"/v1/me/subscriptions/{gold}").status == 403
    answer = me_http(stack, dave, "PUT", f"/v1/me/subscriptions/{gold}", topics=[gold])
    assert answer.status == 200, answer.raw
    mine = me_http(stack, dave, "GET", "/v1/me/subscriptions")
    assert mine.status == 200 and sorted(mine.json()["topics"]) == sorted([news, gold])
    assert me_http(stack, carol, "GET", f"/v1/me/subscriptions/{news}").status == 404
    assert me_http(stack, dave, "GET", f"/v1/me/subscriptions/{news}").json()["source"] == "self"

    # Topic history over HTTP: subscribers only.
    pushed = backend_http(stack, "POST", "/v1/notifications", body={"topic": gold, "message": 7})
    assert pushed.status == 200 and pushed.json()["topic"] == gold
    page = me_http(stack, carol, "GET", "/v1/me/notifications", query={"topic": gold})
    assert page.status == 200
    assert [n["id"] for n in page.json()["notifications"]] == [pushed.json()["notificationId"]]
    refused = me_http(stack, uid("eve"), "GET", "/v1/me/notifications", query={"topic": gold})
    assert refused.status == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
    assert me_http(stack, dave, "DELETE", f"/v1/me/subscriptions/{news}").json()["removed"]
