"""Gateway semantics against a purpose-built API (see sample_api.py): events field for field,
the authorizer contract, $connect responses, routing, MOCK replies, limits, @connections and the
Lambda Invoke endpoint."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import boto3
import pytest
import websockets
from botocore.config import Config
from conftest import SAMPLE_IDLE_S, SAMPLE_MAX_DURATION_S, Sample, run
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

TOKEN = "user-alice"


async def _recv(ws: ClientConnection, timeout: float = 10.0) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def _connection_id(ws: ClientConnection) -> str:
    await ws.send(json.dumps({"action": "echo"}))
    return str((await _recv(ws))["event"]["requestContext"]["connectionId"])


async def _status_of(url: str, **kwargs: Any) -> int:
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(url, **kwargs):
            pass
    return int(info.value.response.status_code)


def _lambda(sample: Sample) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=sample.endpoints.lambda_endpoint,
        region_name="eu-central-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=30),
    )


# ------------------------------------------------------------------------------- events


def test_connect_message_disconnect_events_match_api_gateway(sample: Sample) -> None:
    async def body() -> tuple[str, dict[str, Any]]:
        async with websockets.connect(
            f"{sample.url}?token={TOKEN}&lang=en&lang=fr", user_agent_header="e2e-agent/1"
        ) as ws:
            await ws.send(json.dumps({"action": "echo", "n": 1}))
            reply = await _recv(ws)
            await ws.close(code=4000, reason="bye now")
        return str(reply["event"]["requestContext"]["connectionId"]), reply

    connection_id, reply = run(body())
    api = sample.runtime.runtime.api
    assert api is not None

    message = reply["event"]
    assert set(message) == {"requestContext", "body", "isBase64Encoded"}  # no headers, no query
    assert message["body"] == '{"action": "echo", "n": 1}'
    assert message["isBase64Encoded"] is False
    rc = message["requestContext"]
    assert rc["eventType"] == "MESSAGE" and rc["routeKey"] == "echo"
    assert rc["apiId"] == api.id and rc["stage"] == "test"
    assert rc["domainName"] == f"{api.id}.execute-api.eu-central-1.amazonaws.com"
    assert rc["messageId"] and rc["requestId"] and rc["extendedRequestId"]
    assert rc["messageDirection"] == "IN"
    assert rc["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "e2e-agent/1"}
    assert rc["authorizer"] == {"principalId": TOKEN, "userId": "alice", "tier": 3, "admin": False}
    assert abs(rc["requestTimeEpoch"] - time.time() * 1000) < 30_000
    assert rc["connectedAt"] <= rc["requestTimeEpoch"]
    assert reply["remainingMs"] > 2000  # context.get_remaining_time_in_millis() of a 3 s function

    connect = sample.recorded("connect", connection_id)["event"]
    assert connect["queryStringParameters"] == {"token": TOKEN, "lang": "fr"}
    assert connect["multiValueQueryStringParameters"]["lang"] == ["en", "fr"]
    assert "body" not in connect
    crc = connect["requestContext"]
    assert crc["eventType"] == "CONNECT" and crc["routeKey"] == "$connect"
    assert "messageId" not in crc
    assert crc["authorizer"]["userId"] == "alice"
    assert crc["connectedAt"] == rc["connectedAt"]
    assert connect["headers"]["Host"] == rc["domainName"]
    assert connect["headers"]["X-Forwarded-Proto"] == "https"
    assert "Sec-WebSocket-Key" in connect["headers"]
    assert connect["multiValueHeaders"]["Sec-WebSocket-Version"] == ["13"]

    authorizer = sample.recorded("auth", connection_id)["event"]
    assert authorizer["type"] == "REQUEST"
    assert authorizer["methodArn"] == (
        f"arn:aws:execute-api:eu-central-1:123456789012:{api.id}/test/$connect"
    )
    assert authorizer["stageVariables"] == {"flavour": "sample"}
    assert authorizer["requestContext"]["connectionId"] == connection_id
    assert "authorizer" not in authorizer["requestContext"]

    disconnect = sample.recorded("disconnect", connection_id)
    drc = disconnect["event"]["requestContext"]
    assert drc["eventType"] == "DISCONNECT"
    assert drc["disconnectStatusCode"] == 4000 and drc["disconnectReason"] == "bye now"
    assert drc["authorizer"]["userId"] == "alice"
    assert disconnect["event"]["headers"]["Host"] == rc["domainName"]
    # The function's own environment plus the emulator's documented substitution.
    env = disconnect["env"]
    assert env["SAMPLE_SETTING"] == "setting-of-disconnect"
    assert env["CONNECTIONS_ENDPOINT"] == sample.endpoints.connections_url
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == sample.api.functions["disconnect"]


def test_abrupt_drop_sends_disconnect_1006(sample: Sample) -> None:
    async def body() -> str:
        ws = await websockets.connect(f"{sample.url}?token={TOKEN}")
        connection_id = await _connection_id(ws)
        ws.transport.abort()
        return connection_id

    connection_id = run(body())
    rc = sample.recorded("disconnect", connection_id)["event"]["requestContext"]
    assert rc["disconnectStatusCode"] == 1006


# ------------------------------------------------------------------------------- $connect


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 401),  # identity source missing: the authorizer is not even called
        ("?token=", 401),
        ("?token=nobody", 401),  # raise Exception("Unauthorized")
        ("?token=deny", 403),  # Deny policy
        ("?token=wildcard", 403),  # /stage/*/* does not match /stage/$connect
        ("?token=boom", 500),  # any other authorizer error
        ("?token=malformed", 500),  # output without policyDocument
        (f"?token={TOKEN}&reject=403", 403),  # the $connect integration's statusCode
        (f"?token={TOKEN}&reject=429", 429),
    ],
)
def test_handshake_refusals(sample: Sample, query: str, status: int) -> None:
    assert run(_status_of(sample.url + query)) == status


def test_missing_identity_source_does_not_call_the_authorizer(sample: Sample) -> None:
    before = sample.pool("authorizer").invocations
    assert run(_status_of(sample.url)) == 401
    assert sample.pool("authorizer").invocations == before


def test_connect_response_selects_the_subprotocol(sample: Sample) -> None:
    async def body() -> str | None:
        async with websockets.connect(
            f"{sample.url}?token={TOKEN}",
            subprotocols=[Subprotocol("chat.v2"), Subprotocol("other")],
        ) as ws:
            return ws.subprotocol

    assert run(body()) == "chat.v2"


# ------------------------------------------------------------------------------- messages


def test_default_route_mock_template_is_rendered(sample: Sample) -> None:
    async def body() -> tuple[dict[str, Any], dict[str, Any]]:
        async with websockets.connect(f"{sample.url}?token={TOKEN}") as ws:
            await ws.send("this is not json")
            first = await _recv(ws)
            await ws.send(json.dumps({"action": "no-such-route"}))
            return first, await _recv(ws)

    first, second = run(body())
    for reply in (first, second):
        assert reply["type"] == "error" and reply["error"] == {"code": "UNKNOWN_ACTION"}
        assert reply["route"] == "$default" and reply["user"] == "alice"
        assert len(reply["id"]) == 16 and isinstance(reply["createdAt"], int)
    assert first["id"] != second["id"]
    assert first["connectionId"] == second["connectionId"]


def test_route_without_route_response_sends_nothing_back(sample: Sample) -> None:
    async def body() -> None:
        async with websockets.connect(f"{sample.url}?token={TOKEN}") as ws:
            await ws.send(json.dumps({"action": "quiet"}))
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.recv(), 1.0)

    run(body())


def test_handler_error_and_timeout_answer_internal_server_error(sample: Sample) -> None:
    async def body() -> list[dict[str, Any]]:
        async with websockets.connect(f"{sample.url}?token={TOKEN}") as ws:
            await ws.send(json.dumps({"action": "fail"}))
            failed = await _recv(ws)
            await ws.send(json.dumps({"action": "slow", "seconds": 3}))  # function timeout: 1 s
            timed_out = await _recv(ws)
            await ws.send(json.dumps({"action": "slow", "seconds": 0}))  # a fresh worker
            return [failed, timed_out, {"after": await asyncio.wait_for(ws.recv(), 10)}]

    failed, timed_out, after = run(body())
    for reply in (failed, timed_out):
        assert reply["message"] == "Internal server error"
        assert set(reply) == {"message", "connectionId", "requestId"}
    assert after == {"after": "done"}
    log = sample.runtime.runtime.work_dir / "logs" / f"lambda-{sample.api.functions['slow']}.log"
    assert "Task timed out after 1.00 seconds" in log.read_text()


def test_function_without_lambda_permission_is_not_invoked(sample: Sample) -> None:
    before = sample.pool("direct").invocations

    async def body() -> dict[str, Any]:
        async with websockets.connect(f"{sample.url}?token={TOKEN}") as ws:
            await ws.send(json.dumps({"action": "noperm"}))
            return await _recv(ws)

    assert run(body())["message"] == "Internal server error"
    assert sample.pool("direct").invocations == before


def test_message_over_128_kb_closes_1009(sample: Sample) -> None:
    async def body() -> int | None:
        ws = await websockets.connect(f"{sample.url}?token={TOKEN}", max_size=None)
        await ws.send(json.dumps({"action": "echo", "pad": "x" * (128 * 1024)}))
        await asyncio.wait_for(ws.wait_closed(), 10)
        return ws.close_code

    assert run(body()) == 1009


def test_binary_frame_closes_1003(sample: Sample) -> None:
    async def body() -> int | None:
        ws = await websockets.connect(f"{sample.url}?token={TOKEN}")
        await ws.send(b"\x00\x01")
        await asyncio.wait_for(ws.wait_closed(), 10)
        return ws.close_code

    assert run(body()) == 1003


def test_idle_and_duration_limits_close_with_1001(sample: Sample) -> None:
    async def body() -> tuple[float, float]:
        started = time.monotonic()
        idle = await websockets.connect(f"{sample.url}?token={TOKEN}")
        await asyncio.wait_for(idle.wait_closed(), SAMPLE_IDLE_S * 4)
        idle_after = time.monotonic() - started
        assert idle.close_code == 1001

        started = time.monotonic()
        busy = await websockets.connect(f"{sample.url}?token={TOKEN}")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:  # keep it active: only the maximum duration can close it
                await busy.send(json.dumps({"action": "quiet"}))
                await asyncio.sleep(SAMPLE_IDLE_S / 4)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        return idle_after, time.monotonic() - started

    idle_after, busy_after = run(body())
    assert SAMPLE_IDLE_S * 0.9 <= idle_after < SAMPLE_IDLE_S * 3
    assert SAMPLE_MAX_DURATION_S * 0.9 <= busy_after < SAMPLE_MAX_DURATION_S * 2


# ------------------------------------------------------------------------------- @connections


def test_connections_api_post_get_gone_and_delete(sample: Sample) -> None:
    async def body() -> tuple[Any, ...]:
        async with (
            websockets.connect(f"{sample.url}?token={TOKEN}") as a,
            websockets.connect(f"{sample.url}?token=user-bob") as b,
        ):
            b_id = await _connection_id(b)
            await a.send(json.dumps({"action": "tell", "to": b_id, "text": "hi bob"}))
            told = await _recv(b)
            ok = await _recv(a)
            await a.send(json.dumps({"action": "tell", "to": "AAAAAAAAAAAAAAA=", "text": "x"}))
            gone = await _recv(a)
            await b.send(json.dumps({"action": "kick"}))
            await asyncio.wait_for(b.wait_closed(), 10)
            return told, ok, gone, b.close_code

    told, ok, gone, kicked = run(body())
    assert told == {"told": "hi bob"}
    assert ok == {"ok": True, "sourceIp": "127.0.0.1"}
    assert gone == {"ok": False, "error": "GoneException"}
    assert kicked == 1000


def test_connections_api_limits_with_boto3(sample: Sample) -> None:
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=sample.endpoints.connections_url,
        region_name="eu-central-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )

    async def body() -> None:
        async with websockets.connect(f"{sample.url}?token={TOKEN}", max_size=None) as ws:
            connection_id = await _connection_id(ws)
            big = b"x" * (128 * 1024 + 1)
            with pytest.raises(client.exceptions.PayloadTooLargeException):
                await asyncio.to_thread(
                    client.post_to_connection, ConnectionId=connection_id, Data=big
                )
            await asyncio.to_thread(
                client.post_to_connection, ConnectionId=connection_id, Data=b"x" * (128 * 1024)
            )
            assert len(await asyncio.wait_for(ws.recv(), 10)) == 128 * 1024
            info = await asyncio.to_thread(client.get_connection, ConnectionId=connection_id)
            assert info["Identity"]["SourceIp"] == "127.0.0.1"
            assert info["ConnectedAt"] <= info["LastActiveAt"]

    run(body())
    with pytest.raises(client.exceptions.GoneException):
        client.get_connection(ConnectionId="AAAAAAAAAAAAAAA=")
    with pytest.raises(client.exceptions.GoneException):
        client.delete_connection(ConnectionId="AAAAAAAAAAAAAAA=")


# ------------------------------------------------------------------------------- Lambda Invoke


def test_invoke_request_response_errors_and_warm_worker(sample: Sample) -> None:
    lam = _lambda(sample)
    name = sample.api.functions["direct"]
    out = lam.invoke(FunctionName=name, Payload=b'{"hello": 1}')
    assert out["StatusCode"] == 200 and "FunctionError" not in out
    assert json.load(out["Payload"]) == {
        "got": {"hello": 1},
        "function": name,
        "memory": "256",
        "env": "setting-of-direct",
    }

    by_arn = lam.invoke(
        FunctionName=f"arn:aws:lambda:eu-central-1:123456789012:function:{name}", Payload=b"{}"
    )
    assert json.load(by_arn["Payload"])["got"] == {}

    failed = lam.invoke(FunctionName=name, Payload=b'{"fail": "nope"}')
    assert failed["FunctionError"] == "Unhandled"
    error = json.load(failed["Payload"])
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "bad request: nope"
    assert error["stackTrace"]

    marshal = json.load(lam.invoke(FunctionName=name, Payload=b'{"unserializable": 1}')["Payload"])
    assert marshal["errorType"] == "Runtime.MarshalError"

    timed_out = lam.invoke(FunctionName=name, Payload=b'{"sleep": 3}')
    assert timed_out["FunctionError"] == "Unhandled"
    assert "Task timed out after 2.00 seconds" in json.load(timed_out["Payload"])["errorMessage"]

    assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    assert lam.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204

    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName=name, Payload=b"{not json")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="no-such-function", Payload=b"{}")


@pytest.mark.parametrize(
    ("role", "error_type"),
    [("broken", "Runtime.HandlerNotFound"), ("unimportable", "Runtime.ImportModuleError")],
)
def test_init_errors_are_function_errors(sample: Sample, role: str, error_type: str) -> None:
    out = _lambda(sample).invoke(FunctionName=sample.api.functions[role], Payload=b"{}")
    assert out["FunctionError"] == "Unhandled"
    assert json.load(out["Payload"])["errorType"] == error_type


def test_echo_runs_in_a_warm_worker(sample: Sample) -> None:
    async def body() -> list[int]:
        async with websockets.connect(f"{sample.url}?token={TOKEN}") as ws:
            pids = []
            for _ in range(3):
                await ws.send(json.dumps({"action": "echo"}))
                pids.append((await _recv(ws))["pid"])
            return pids

    pids = run(body())
    assert len(set(pids)) == 1  # module imported once, reused across invocations


def test_reserved_concurrency_throttles(sample: Sample) -> None:
    lam = _lambda(sample)
    name = sample.api.functions["direct"]  # reserved concurrency 2
    deadline = time.monotonic() + 15
    while sample.pool("direct").in_use and time.monotonic() < deadline:
        time.sleep(0.1)  # earlier Event invocations still count against the concurrency
    assert sample.pool("direct").in_use == 0

    def call() -> str:
        try:
            lam.invoke(FunctionName=name, Payload=b'{"sleep": 1}')
            return "ok"
        except lam.exceptions.TooManyRequestsException:
            return "throttled"

    async def body() -> list[str]:
        return list(await asyncio.gather(*(asyncio.to_thread(call) for _ in range(4))))

    outcomes = run(body())
    assert outcomes.count("ok") == 2 and outcomes.count("throttled") == 2


def test_access_log_renders_the_stage_format(sample: Sample) -> None:
    lines = (sample.runtime.runtime.work_dir / "logs" / "access.log").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert {"$connect", "echo", "$disconnect", "$default"} <= {r["routeKey"] for r in records}
    assert {"200", "401", "403", "500"} <= {r["status"] for r in records}


def test_moto_extensions_for_deployments_and_stages(sample: Sample) -> None:
    from local.controlplane import aws_client

    apigw = aws_client("apigatewayv2", sample.aws_endpoint, "eu-central-1")
    api_id = sample.api.api_id
    deployment = apigw.create_deployment(ApiId=api_id, Description="second")
    ids = {d["DeploymentId"] for d in apigw.get_deployments(ApiId=api_id)["Items"]}
    assert deployment["DeploymentId"] in ids and len(ids) >= 2
    stage = apigw.update_stage(
        ApiId=api_id,
        StageName="test",
        DeploymentId=deployment["DeploymentId"],
        DefaultRouteSettings={"ThrottlingBurstLimit": 7, "ThrottlingRateLimit": 3.0},
    )
    assert stage["DeploymentId"] == deployment["DeploymentId"]
    assert stage["StageVariables"] == {"flavour": "sample"}  # untouched settings are kept
    assert (
        apigw.get_stage(ApiId=api_id, StageName="test")["DefaultRouteSettings"][
            "ThrottlingBurstLimit"
        ]
        == 7
    )
    apigw.delete_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.get_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.update_stage(ApiId=api_id, StageName="nope", Description="x")
    assert len(apigw.get_authorizers(ApiId=api_id)["Items"]) == 1
