"""Profiles, segments and dry runs end to end (issue 12, item 2): `python -m local up` applies
examples/complete (segment_attributes = ["plan", "country"]); profiles go through the HTTP API
(SigV4, every request and answer validated against docs/openapi.yaml) and the users function's
direct invoke, each function running as its own least-privilege role; real WebSocket clients
show who a segment push reaches."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from conftest import run
from http_client import Answer, call
from test_iam import without_statement
from test_system import _backend, apush, connect, recv, silent


def profile(stack: dict[str, Any], method: str, user: str, body: Any = None) -> Answer:
    return call(
        stack["http_api_url"], method, f"/v1/users/{user}", region=stack["region"], body=body
    )


def publish(stack: dict[str, Any], body: Any) -> Answer:
    return call(
        stack["http_api_url"], "POST", "/v1/notifications", region=stack["region"], body=body
    )


def invoke_users(stack: dict[str, Any], request: Any) -> dict[str, Any]:
    out = _backend(stack).invoke(
        FunctionName=stack["functions"]["users"],
        Payload=json.dumps(request).encode(),
    )
    assert out["StatusCode"] == 200 and "FunctionError" not in out, out
    return json.load(out["Payload"])  # type: ignore[no-any-return]


def test_profiles_over_http_and_direct_invoke(stack: dict[str, Any]) -> None:
    user = f"p-{uuid.uuid4().hex[:8]}"
    assert profile(stack, "GET", user).status == 404
    written = {"attributes": {"plan": "pro", "team": "core"}, "timezone": "Europe/Berlin"}
    put = profile(stack, "PUT", user, {**written, "locale": "de-DE"})
    assert put.status == 200 and put.json()["created"] is True
    got = profile(stack, "GET", user).json()
    assert got["attributes"] == {"plan": "pro", "team": "core"}
    assert (got["timezone"], got["locale"]) == ("Europe/Berlin", "de-DE")

    bad = profile(stack, "PUT", user, {"timezone": "Mars/Olympus_Mons"})
    assert bad.status == 400 and "is not an IANA time zone" in bad.json()["error"]["message"]

    replaced = invoke_users(
        stack, {"profiles": {"action": "put", "userId": user, "attributes": {"plan": "free"}}}
    )
    assert replaced["created"] is False and replaced["timezone"] is None  # full replace
    assert invoke_users(stack, {"profiles": {"action": "get", "userId": user}})["attributes"] == {
        "plan": "free"
    }
    deleted = profile(stack, "DELETE", user)
    assert deleted.status == 200 and deleted.json() == {"ok": True, "userId": user, "deleted": True}
    assert profile(stack, "DELETE", user).json()["error"]["code"] == "NOT_FOUND"


def test_segment_push_reaches_matching_sockets_only_and_dry_runs_send_nothing(
    stack: dict[str, Any],
) -> None:
    run_id = uuid.uuid4().hex[:8]
    plan = f"pro-{run_id}"  # unique to this run: the stack is shared with other tests
    anna, ben, cleo = (f"s-{n}-{run_id}" for n in ("anna", "ben", "cleo"))
    for user, attributes in (
        (anna, {"plan": plan, "country": "DE"}),
        (ben, {"plan": plan, "country": "FR"}),
        (cleo, {"plan": f"free-{run_id}", "country": "DE"}),
    ):
        assert profile(stack, "PUT", user, {"attributes": attributes}).status == 200
    segment = {"plan": [plan], "country": ["DE", "AT"]}

    async def body() -> None:
        sockets = {user: await connect(stack, user) for user in (anna, ben, cleo)}
        second = await connect(stack, anna)  # anna has two live connections
        try:
            dry = publish(stack, {"segment": segment, "message": {"sale": 1}, "dryRun": True})
            assert dry.status == 200
            assert dry.json() == {
                "ok": True, "dryRun": True, "audience": 1, "connections": 2, "devices": 0,
            }  # fmt: skip
            for dry_target in ({"userIds": [anna, ben]}, {"userId": cleo}, {"broadcast": True}):
                counted = await apush(stack, {**dry_target, "message": 1, "dryRun": True})
                assert counted["ok"] is True and counted["dryRun"] is True, counted
            counted = await apush(stack, {"userIds": [anna, ben], "message": 1, "dryRun": True})
            assert (counted["audience"], counted["connections"]) == (2, 3)
            assert all([await silent(ws) for ws in (*sockets.values(), second)])

            result = await apush(stack, {"segment": segment, "message": {"sale": 2}})
            assert result["ok"] is True and result["delivered"] == 2, result
            assert (await recv(sockets[anna]))["data"] == {"sale": 2}
            assert (await recv(second))["data"] == {"sale": 2}
            assert await silent(sockets[ben]) and await silent(sockets[cleo])
        finally:
            for ws in (*sockets.values(), second):
                await ws.close()

    run(body())


def test_undeclared_attributes_and_bad_segments_are_refused(stack: dict[str, Any]) -> None:
    undeclared = publish(stack, {"segment": {"team": ["core"]}, "message": 1})
    assert undeclared.status == 400
    assert "segment attribute 'team' is not declared" in undeclared.json()["error"]["message"]
    empty = publish(stack, {"segment": {"plan": []}, "message": 1, "dryRun": True})
    assert empty.status == 400 and "segment.plan must be a list" in empty.json()["error"]["message"]
    result = asyncio.run(apush(stack, {"segment": {"country": "DE"}, "message": 1}))
    assert result["error"]["code"] == "INVALID_REQUEST"


def test_segment_resolution_needs_its_own_statements(stack: dict[str, Any]) -> None:
    """IAM is enforced locally: without ReadSegmentProfiles push cannot check candidates, and
    without KeepSegmentIndex users cannot write a profile (each fails closed, as in AWS)."""
    user = f"i-{uuid.uuid4().hex[:8]}"
    request = {"segment": {"country": [f"X-{user}"]}, "message": 1, "dryRun": True}
    assert profile(stack, "PUT", user, {"attributes": {"country": f"X-{user}"}}).status == 200
    assert asyncio.run(apush(stack, request))["audience"] == 1
    with without_statement(stack, "push", "ReadSegmentProfiles"):
        assert asyncio.run(apush(stack, request))["error"]["code"] == "INTERNAL_ERROR"
    with without_statement(stack, "users", "KeepSegmentIndex"):
        denied = profile(stack, "PUT", user, {"attributes": {"country": "DE"}})
        assert denied.status == 500 and denied.json()["error"]["code"] == "INTERNAL_ERROR"
    # Nothing half-written: the profile is unchanged and still resolves.
    assert profile(stack, "GET", user).json()["attributes"] == {"country": f"X-{user}"}
    assert asyncio.run(apush(stack, request))["audience"] == 1
