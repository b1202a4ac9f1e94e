"""The data plane: WebSocket gateway, @connections API and Lambda Invoke API in one event loop.

The gateway serves the API read from the control plane (local.controlplane.Api): it builds
events field for field like API Gateway, runs the REQUEST authorizer, honours the ``$connect``
response, routes frames with the route selection expression, answers MOCK integrations from their
templates, and enforces the message size, idle and duration limits. No Lambda call ever blocks
the loop: each runs in a worker process (local.lambdas).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fnmatch
import functools
import json
import logging
import os
import re
import secrets
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from local import faults, templates
from local.controlplane import Api, Integration, Route
from local.lambdas import FunctionPool, InvokeResult

log = logging.getLogger("local.gateway")

MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's WebSocket message payload limit
MAX_INVOKE_PAYLOAD = 6 * 1024 * 1024  # Lambda's synchronous request payload limit
_CONNECT_STATUS = {401: "Unauthorized", 403: "Forbidden", 500: "Internal server error"}


@dataclass(frozen=True)
class Settings:
    idle_timeout_s: float = 600.0  # API Gateway: 10 minutes
    max_duration_s: float = 7200.0  # API Gateway: 2 hours
    connections_latency_ms: float = 0.0  # injected per @connections call (benchmarks)
    max_message_bytes: int = MAX_MESSAGE_BYTES
    send_timeout_s: float = 10.0
    # API Gateway does not guarantee $disconnect: False drops it after an abrupt client drop
    # (close 1006), which leaves a stale row for the 410 pruning path to clean up.
    deliver_abnormal_disconnects: bool = True

    @staticmethod
    def from_env(**overrides: Any) -> Settings:
        values: dict[str, Any] = {}
        latency = os.environ.get("LOCAL_CONNECTIONS_LATENCY_MS", "").strip()
        if latency:
            try:
                values["connections_latency_ms"] = float(latency)
            except ValueError:
                raise ValueError(
                    f"LOCAL_CONNECTIONS_LATENCY_MS must be a number of milliseconds: {latency!r}"
                ) from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = Settings(**values)
        if settings.connections_latency_ms < 0:
            raise ValueError("the @connections latency must be >= 0 ms")
        return settings


def _api_gateway_id() -> str:
    """IDs shaped like API Gateway's (16 base64 characters ending in '=')."""
    return base64.urlsafe_b64encode(secrets.token_bytes(11))[:15].decode() + "="


def _now_ms() -> int:
    return int(time.time() * 1000)


def _clf(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Connection:
    id: str
    connected_at: int
    source_ip: str
    user_agent: str | None
    authorizer: dict[str, Any] | None
    ws: web.WebSocketResponse | None = None
    last_active: float = field(default_factory=time.monotonic)
    last_active_ms: int = field(default_factory=_now_ms)
    started: float = field(default_factory=time.monotonic)
    server_close: tuple[int, str] | None = None


class Gateway:
    def __init__(
        self,
        api: Api,
        functions: dict[str, FunctionPool],
        settings: Settings,
        log_dir: Path,
    ) -> None:
        self.api = api
        self.functions = functions
        self.settings = settings
        self.connections: dict[str, Connection] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._access_log = (log_dir / "access.log").open("a", encoding="utf-8", buffering=1)
        self._sweeper: asyncio.Task[None] | None = None
        self.faults = faults.FaultFile.from_env()

    # ---------------------------------------------------------------- applications

    def websocket_app(self) -> web.Application:
        # Larger than the limit, so oversized posts get the AWS-shaped 413 below.
        app = web.Application(client_max_size=8 * MAX_MESSAGE_BYTES)
        stage = self.api.stage.name
        app.router.add_get(f"/{stage}", self._handle_upgrade)
        app.router.add_get(f"/{stage}/", self._handle_upgrade)
        app.router.add_route("*", "/{stage}/@connections/{connection_id}", self._handle_management)
        app.on_startup.append(self._start_sweeper)
        return app

    def lambda_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_INVOKE_PAYLOAD + 1024)
        app.router.add_post("/2015-03-31/functions/{function}/invocations", self._handle_invoke)
        return app

    async def _start_sweeper(self, _app: web.Application) -> None:
        self._sweeper = asyncio.create_task(self._sweep())

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Close every client (1001 Going away, like a deploy), then wait for the $disconnects."""
        if self._sweeper:
            self._sweeper.cancel()
        for conn in list(self.connections.values()):
            await self._server_close(conn, WSCloseCode.GOING_AWAY, "Going away")
        deadline = time.monotonic() + 10
        while self._tasks and time.monotonic() < deadline:
            await asyncio.wait(set(self._tasks), timeout=deadline - time.monotonic())
        self._access_log.close()

    # ---------------------------------------------------------------- events

    def _context(
        self,
        conn: Connection,
        route_key: str,
        event_type: str,
        request_id: str,
        now: int,
    ) -> dict[str, Any]:
        identity: dict[str, Any] = {"sourceIp": conn.source_ip}
        if conn.user_agent:
            identity["userAgent"] = conn.user_agent
        ctx: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": _clf(now),
            "messageDirection": "IN",
            "stage": self.api.stage.name,
            "connectedAt": conn.connected_at,
            "requestTimeEpoch": now,
            "identity": identity,
            "requestId": request_id,
            "domainName": self.api.domain_name,
            "connectionId": conn.id,
            "apiId": self.api.id,
        }
        if conn.authorizer is not None:
            ctx["authorizer"] = dict(conn.authorizer)
        return ctx

    async def _invoke(self, function_name: str | None, event: Any, source_arn: str) -> InvokeResult:
        """API Gateway invoking a function: only with a resource-policy grant for this source."""
        pool = self.functions.get(function_name or "")
        if pool is None:
            log.error("integration targets unknown function %s", function_name)
            return InvokeResult(
                {"errorMessage": f"Function not found: {function_name}"}, function_error=True
            )
        if not self._permitted(pool, source_arn):
            message = (
                f"API Gateway may not invoke {function_name}: no lambda permission for "
                f"apigateway.amazonaws.com matching {source_arn}"
            )
            log.error(message)
            return InvokeResult({"errorMessage": message}, function_error=True)
        return await pool.invoke(event)

    def _permitted(self, pool: FunctionPool, source_arn: str) -> bool:
        for principal, action, pattern in pool.spec.invoke_grants:
            if principal != "apigateway.amazonaws.com" or not fnmatch.fnmatchcase(
                "lambda:InvokeFunction", action
            ):
                continue
            if pattern is None or _glob(self._with_account(pattern)).fullmatch(source_arn):
                return True
        return False

    def _with_account(self, arn: str) -> str:
        # Applied with skip_requesting_account_id, the provider leaves the account out of the
        # execute-api ARNs it builds; AWS would have put the caller's account there.
        parts = arn.split(":", 5)
        if len(parts) == 6 and parts[4] == "":
            parts[4] = self.api.account_id
        return ":".join(parts)

    def _access(self, ctx: dict[str, Any], status: int, error: str = "") -> None:
        fmt = self.api.stage.access_log_format
        if not fmt:
            return
        values = {
            **ctx,
            "status": status,
            "error": {"message": error, "messageString": json.dumps(error)},
        }
        self._access_log.write(templates.render(fmt, values, self.api.stage.variables) + "\n")

    # ---------------------------------------------------------------- $connect

    async def _handle_upgrade(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.json_response({"message": "Forbidden"}, status=403)
        now = _now_ms()
        request_id = _api_gateway_id()
        conn = Connection(
            id=_api_gateway_id(),
            connected_at=now,
            source_ip=(request.remote or "127.0.0.1"),
            user_agent=request.headers.get("User-Agent"),
            authorizer=None,
        )
        headers, multi_headers = self._connect_headers(request)
        event: dict[str, Any] = {"headers": headers, "multiValueHeaders": multi_headers}
        if request.query_string:
            query: dict[str, str] = {}
            multi_query: dict[str, list[str]] = {}
            for key, value in request.query.items():
                query[key] = value  # API Gateway keeps the last value of a repeated key
                multi_query.setdefault(key, []).append(value)
            event["queryStringParameters"] = query
            event["multiValueQueryStringParameters"] = multi_query

        route = self.api.routes.get("$connect")
        ctx = self._context(conn, "$connect", "CONNECT", request_id, now)
        status, protocol = 200, None
        if route is not None:
            if route.authorization_type == "CUSTOM" and route.authorizer is not None:
                status = await self._authorize(route, conn, event, ctx)
                ctx = self._context(conn, "$connect", "CONNECT", request_id, now)
            if status == 200 and route.integration is not None:
                status, protocol = await self._connect_integration(route.integration, event, ctx)
        self._access(ctx, status)
        if status >= 300 or status < 200:
            message = _CONNECT_STATUS.get(
                status, "Forbidden" if status < 500 else "Internal server error"
            )
            return web.json_response({"message": message}, status=status)

        ws = web.WebSocketResponse(
            protocols=(protocol,) if protocol else (),
            max_msg_size=self.settings.max_message_bytes,
            autoping=True,
            compress=False,
        )
        await ws.prepare(request)
        conn.ws = ws
        self.connections[conn.id] = conn
        await self._serve(conn)
        return ws

    def _connect_headers(self, request: web.Request) -> tuple[dict[str, str], dict[str, list[str]]]:
        """The client's headers as API Gateway's front end passes them on: Host and the
        X-Forwarded-* headers are its own, a trace id is added when the client sent none."""
        front_end = {
            "Host": self.api.domain_name,
            "X-Forwarded-For": request.remote or "127.0.0.1",
            "X-Forwarded-Port": "443",
            "X-Forwarded-Proto": "https",
        }
        replaced = {key.lower() for key in front_end}
        multi: dict[str, list[str]] = {}
        for key, value in request.headers.items():
            if key.lower() not in replaced:
                multi.setdefault(key, []).append(value)
        if not any(key.lower() == "x-amzn-trace-id" for key in multi):
            multi["X-Amzn-Trace-Id"] = [f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"]
        multi.update({key: [value] for key, value in front_end.items()})
        # The single-value map keeps the last value of a repeated header, as API Gateway does.
        return {key: values[-1] for key, values in multi.items()}, multi

    async def _authorize(
        self, route: Route, conn: Connection, event: dict[str, Any], ctx: dict[str, Any]
    ) -> int:
        """REQUEST authorizer: 200 to go on, or the status the client sees."""
        authorizer = route.authorizer
        assert authorizer is not None
        lower_headers = {k.lower(): v for k, v in event["headers"].items()}
        query = event.get("queryStringParameters") or {}
        for source in authorizer.identity_sources:
            if source.startswith("route.request.header."):
                value = lower_headers.get(source.removeprefix("route.request.header.").lower())
            elif source.startswith("route.request.querystring."):
                value = query.get(source.removeprefix("route.request.querystring."))
            elif source.startswith("stageVariables."):
                value = self.api.stage.variables.get(source.removeprefix("stageVariables."))
            elif source.startswith("context."):
                value = templates.render("$" + source, ctx, {}) or None
            else:
                value = None
            if not value:
                return 401  # API Gateway does not call the authorizer
        auth_event = {
            "type": "REQUEST",
            "methodArn": self.api.method_arn("$connect"),
            "headers": event["headers"],
            "multiValueHeaders": event["multiValueHeaders"],
            "queryStringParameters": event.get("queryStringParameters", {}),
            "multiValueQueryStringParameters": event.get("multiValueQueryStringParameters", {}),
            "stageVariables": dict(self.api.stage.variables),
            "requestContext": ctx,
        }
        authorizer_arn = f"{self.api.execution_arn}/authorizers/{authorizer.id}"
        result = await self._invoke(authorizer.function_name, auth_event, authorizer_arn)
        if result.function_error or result.throttled:
            return 401 if result.error_message() == "Unauthorized" else 500
        return self._evaluate_policy(result.payload, conn)

    def _evaluate_policy(self, output: Any, conn: Connection) -> int:
        if not isinstance(output, dict) or "principalId" not in output:
            log.error("authorizer output without principalId: %.200r", output)
            return 500
        document = output.get("policyDocument")
        statements = document.get("Statement") if isinstance(document, dict) else None
        if isinstance(statements, dict):
            statements = [statements]
        if not isinstance(statements, list):
            log.error("authorizer output without a policyDocument.Statement")
            return 500
        context = output.get("context") or {}
        if not isinstance(context, dict) or any(
            not isinstance(v, str | int | float | bool) for v in context.values()
        ):
            log.error("authorizer context values must be strings, numbers or booleans")
            return 500
        if len(json.dumps(output)) > 8192:
            log.error("authorizer response over 8 KB")
            return 500
        arn = self.api.method_arn("$connect")
        allowed = False
        for statement in statements:
            if not isinstance(statement, dict) or not _matches_invoke(statement, arn):
                continue
            if statement.get("Effect") == "Deny":
                return 403
            if statement.get("Effect") == "Allow":
                allowed = True
        if not allowed:
            return 403
        conn.authorizer = {**context, "principalId": output["principalId"]}
        return 200

    async def _connect_integration(
        self, integration: Integration, event: dict[str, Any], ctx: dict[str, Any]
    ) -> tuple[int, str | None]:
        if integration.type == "MOCK":
            status, _ = self._mock(integration, ctx, "")
            return status, None
        if integration.type != "AWS_PROXY":
            log.error("integration type %s is not emulated", integration.type)
            return 500, None
        result = await self._integration_call(
            integration, {**event, "requestContext": ctx, "isBase64Encoded": False}
        )
        if result is None or result.function_error or result.throttled:
            return 500, None
        payload = result.payload if isinstance(result.payload, dict) else {}
        try:
            status = int(payload.get("statusCode", 200))
        except (TypeError, ValueError):
            return 500, None
        headers = payload.get("headers")
        headers = headers if isinstance(headers, dict) else {}
        protocol = next(
            (str(v) for k, v in headers.items() if k.lower() == "sec-websocket-protocol"), None
        )
        return status, protocol

    async def _integration_call(self, integration: Integration, event: Any) -> InvokeResult | None:
        """Invoke with the integration timeout (29 s by default); None when it expires. The
        function goes on running, as it does in AWS."""
        try:
            source_arn = self.api.method_arn(event["requestContext"]["routeKey"])
            return await asyncio.wait_for(
                self._invoke(integration.function_name, event, source_arn),
                integration.timeout_ms / 1000,
            )
        except TimeoutError:
            return None

    # ---------------------------------------------------------------- messages

    async def _serve(self, conn: Connection) -> None:
        ws = conn.ws
        assert ws is not None
        close: tuple[int, str] = (1006, "Connection closed abnormally")
        try:
            while True:
                msg = await ws.receive()
                if msg.type == WSMsgType.TEXT:
                    conn.last_active = time.monotonic()
                    conn.last_active_ms = _now_ms()
                    self._spawn(self._on_message(conn, msg.data))
                elif msg.type == WSMsgType.BINARY:
                    close = (WSCloseCode.UNSUPPORTED_DATA, "Binary frames are not supported")
                    conn.server_close = close
                    await ws.close(code=close[0], message=close[1].encode())
                    break
                elif msg.type == WSMsgType.CLOSE:
                    code = int(msg.data or 0)
                    close = (
                        (code, str(msg.extra or ""))
                        if code and code != 1005
                        else (1005, "Client-side close frame status not set")
                    )
                    break
                elif msg.type == WSMsgType.ERROR:
                    if ws.close_code == WSCloseCode.MESSAGE_TOO_BIG:
                        close = (1009, "Message too big")
                    break
                else:  # CLOSED without a close frame: the TCP connection just went away
                    break
        finally:
            self.connections.pop(conn.id, None)
            code, reason = conn.server_close or close
            if code != 1006 or self.settings.deliver_abnormal_disconnects:
                self._spawn(self._on_disconnect(conn, code, reason))
            else:
                log.info("dropped the $disconnect of %s (abnormal closure)", conn.id)

    async def _on_message(self, conn: Connection, body: str) -> None:
        now = _now_ms()
        request_id = _api_gateway_id()
        selected = templates.selection_value(self.api.route_selection_expression, body)
        route = (
            self.api.routes.get(selected or "")
            if selected not in (None, "$connect", "$disconnect")
            else None
        )
        route = route or self.api.routes.get("$default")
        route_key = route.key if route else (selected or "$default")
        ctx = self._context(conn, route_key, "MESSAGE", request_id, now)
        ctx["messageId"] = _api_gateway_id()
        if route is None or route.integration is None:
            self._access(ctx, 403)
            await self._gateway_message(conn, "Forbidden", request_id)
            return
        integration = route.integration
        if integration.type == "MOCK":
            status, reply = self._mock(integration, ctx, body)
            self._access(ctx, status)
            if reply is not None and route.route_response_keys:
                await self._reply(conn, reply)
            return
        if integration.type != "AWS_PROXY":
            self._access(ctx, 500, "integration type not emulated")
            await self._gateway_message(conn, "Internal server error", request_id)
            return
        event = {"requestContext": ctx, "body": body, "isBase64Encoded": False}
        result = await self._integration_call(integration, event)
        if result is None:
            self._access(ctx, 504, "Endpoint request timed out")
            await self._gateway_message(conn, "Endpoint request timed out", request_id)
            return
        if result.function_error or result.throttled:
            self._access(ctx, 500, result.error_message())
            await self._gateway_message(conn, "Internal server error", request_id)
            return
        self._access(ctx, 200)
        if (
            route.route_response_keys
            and isinstance(result.payload, dict)
            and "body" in result.payload
        ):
            body_out = result.payload["body"]
            await self._reply(conn, body_out if isinstance(body_out, str) else json.dumps(body_out))

    async def _gateway_message(self, conn: Connection, message: str, request_id: str) -> None:
        """The frame API Gateway itself sends when it cannot deliver a route's answer."""
        frame = {"message": message, "connectionId": conn.id, "requestId": request_id}
        await self._reply(conn, json.dumps(frame))

    async def _reply(self, conn: Connection, text: str) -> None:
        if conn.ws is not None and not conn.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await conn.ws.send_str(text)

    def _mock(
        self, integration: Integration, ctx: dict[str, Any], body: str
    ) -> tuple[int, str | None]:
        """A MOCK integration: the request template yields the status code that selects the
        integration response, whose template is the reply."""
        variables = self.api.stage.variables
        request_template = templates.pick_template(
            integration.request_templates, integration.template_selection_expression, body
        )
        status = 200
        if request_template is not None:
            rendered = templates.render(request_template, ctx, variables, body)
            try:
                status = int(json.loads(rendered).get("statusCode", 200))
            except (ValueError, AttributeError, TypeError):
                return 500, None
        chosen = None
        for response in integration.responses:
            key = response.key
            try:
                matches = key != "$default" and re.fullmatch(key.strip("/"), str(status))
            except re.error:
                log.error("integration response key %r is not a valid pattern", key)
                continue
            if matches:
                chosen = response
                break
        chosen = chosen or next((r for r in integration.responses if r.key == "$default"), None)
        if chosen is None:
            return status, None
        template = templates.pick_template(
            chosen.templates, chosen.template_selection_expression, body
        )
        if template is None:
            return status, None
        return status, templates.render(template, ctx, variables, body)

    # ---------------------------------------------------------------- $disconnect and limits

    async def _on_disconnect(self, conn: Connection, code: int, reason: str) -> None:
        route = self.api.routes.get("$disconnect")
        now = _now_ms()
        request_id = _api_gateway_id()
        ctx = self._context(conn, "$disconnect", "DISCONNECT", request_id, now)
        ctx["disconnectStatusCode"] = code
        ctx["disconnectReason"] = reason
        self._access(ctx, 200)
        if route is None or route.integration is None or route.integration.type != "AWS_PROXY":
            return
        placeholder = {
            "Host": self.api.domain_name,
            "x-api-key": "",
            "X-Forwarded-For": "",
            "x-restapi": "",
        }
        event = {
            "headers": placeholder,
            "multiValueHeaders": {k: [v] for k, v in placeholder.items()},
            "requestContext": ctx,
            "isBase64Encoded": False,
        }
        result = await self._integration_call(route.integration, event)
        if result is None or result.function_error:
            log.warning("$disconnect of %s failed: %s", conn.id, result and result.error_message())

    async def _server_close(self, conn: Connection, code: int, reason: str) -> None:
        if conn.ws is None or conn.ws.closed:
            return
        conn.server_close = (code, reason)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.ws.close(code=code, message=reason.encode()), 5)

    async def _sweep(self) -> None:
        """Idle timeout and maximum duration, checked often enough for short test limits."""
        interval = max(
            0.05, min(1.0, self.settings.idle_timeout_s / 4, self.settings.max_duration_s / 4)
        )
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for conn in list(self.connections.values()):
                too_long = now - conn.started >= self.settings.max_duration_s
                too_idle = now - conn.last_active >= self.settings.idle_timeout_s
                if too_long or too_idle:
                    self._spawn(self._server_close(conn, WSCloseCode.GOING_AWAY, "Going away"))

    # ---------------------------------------------------------------- @connections

    async def _handle_management(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["stage"] != self.api.stage.name:
            return _aws_error(403, "ForbiddenException", "Forbidden")
        connection_id = request.match_info["connection_id"]
        if request.method == "POST":
            data = await request.read()
            if len(data) > MAX_MESSAGE_BYTES:
                return _aws_error(
                    413, "PayloadTooLargeException", "Message too long. Max size is 131072 bytes."
                )
        if self.settings.connections_latency_ms:
            await asyncio.sleep(self.settings.connections_latency_ms / 1000)
        if self.faults and (error := await self.faults.connections(connection_id, self.functions)):
            return _aws_error(*error)
        conn = self.connections.get(connection_id)
        if conn is None or conn.ws is None or conn.ws.closed:
            return _aws_error(410, "GoneException", None)
        if request.method == "POST":
            try:
                if data:
                    await asyncio.wait_for(self._send(conn.ws, data), self.settings.send_timeout_s)
            except TimeoutError:
                return _aws_error(429, "LimitExceededException", "Client buffer is full")
            except (ConnectionError, RuntimeError):
                return _aws_error(410, "GoneException", None)
            return web.Response(status=200)
        if request.method == "GET":
            identity = {"sourceIp": conn.source_ip}
            if conn.user_agent:
                identity["userAgent"] = conn.user_agent
            return web.json_response(
                {
                    "connectedAt": _iso(conn.connected_at),
                    "identity": identity,
                    "lastActiveAt": _iso(conn.last_active_ms),
                }
            )
        if request.method == "DELETE":
            await self._server_close(conn, WSCloseCode.OK, "")
            return web.Response(status=204)
        return _aws_error(405, "MethodNotAllowedException", "Method not allowed")

    @staticmethod
    async def _send(ws: web.WebSocketResponse, data: bytes) -> None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            await ws.send_bytes(data)
            return
        await ws.send_str(text)

    # ---------------------------------------------------------------- Lambda Invoke

    async def _handle_invoke(self, request: web.Request) -> web.StreamResponse:
        name = _function_name(request.match_info["function"])
        qualifier = request.query.get("Qualifier", "$LATEST")
        pool = self.functions.get(name)
        if pool is None or qualifier != "$LATEST":
            return _aws_error(
                404,
                "ResourceNotFoundException",
                f"Function not found: {request.match_info['function']}",
                message_key="Message",
            )
        raw = await request.read()
        if len(raw) > MAX_INVOKE_PAYLOAD:
            return _aws_error(
                413,
                "RequestTooLargeException",
                "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
                message_key="message",
            )
        try:
            event = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            return _aws_error(
                400,
                "InvalidRequestContentException",
                f"Could not parse request body into json: {exc}",
                message_key="message",
            )
        kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if kind == "DryRun":
            return web.Response(status=204)
        if kind == "Event":
            self._spawn(_invoke_async(pool, event))
            return web.Response(status=202)
        if kind != "RequestResponse":
            return _aws_error(
                400,
                "InvalidParameterValueException",
                f"Unsupported invocation type {kind}",
                message_key="message",
            )
        result = await pool.invoke(event)
        if result.throttled:
            return _aws_error(
                429,
                "TooManyRequestsException",
                "Rate Exceeded.",
                message_key="message",
                extra=result.payload,
            )
        headers = {"X-Amz-Executed-Version": "$LATEST", "Content-Type": "application/json"}
        if result.function_error:
            headers["X-Amz-Function-Error"] = "Unhandled"
        return web.Response(status=200, body=json.dumps(result.payload).encode(), headers=headers)


async def _invoke_async(pool: FunctionPool, event: Any, patience_s: float = 60.0) -> None:
    """An asynchronous invocation: Lambda queues the event and retries it while throttled."""
    delay, deadline = 0.1, time.monotonic() + patience_s
    while (await pool.invoke(event)).throttled:
        if time.monotonic() > deadline:
            log.error(
                "async invocation of %s dropped: throttled for %ss", pool.spec.name, patience_s
            )
            return
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


def _matches_invoke(statement: dict[str, Any], arn: str) -> bool:
    """IAM wildcard semantics: ``*`` spans any characters, ``?`` one. So ``/prod/*/*`` does not
    match ``/prod/$connect`` (no second slash), as in AWS."""
    actions = statement.get("Action", [])
    resources = statement.get("Resource", [])
    actions = [actions] if isinstance(actions, str) else actions
    resources = [resources] if isinstance(resources, str) else resources
    action_ok = any(fnmatch.fnmatchcase("execute-api:Invoke", str(a)) for a in actions)
    resource_ok = any(_glob(str(r)).fullmatch(arn) for r in resources)
    return action_ok and resource_ok


@functools.lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    """IAM wildcards (* and ?) as a regex; cached, because every invoke checks the same grants."""
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    )


def _function_name(ref: str) -> str:
    """Invoke accepts a name, a full ARN or a partial ARN (``account:function:name``)."""
    if ref.startswith("arn:"):
        parts = ref.split(":")
        return parts[6] if len(parts) > 6 else ref
    if ":function:" in ref:
        return ref.split(":function:")[1].split(":")[0]
    return ref


def _aws_error(
    status: int, code: str, message: str | None, *, message_key: str = "message", extra: Any = None
) -> web.Response:
    body: dict[str, Any] = {message_key: message}
    if code in ("ResourceNotFoundException", "TooManyRequestsException"):
        body["Type"] = "User"
    if isinstance(extra, dict):
        body.update(extra)
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        headers={"x-amzn-ErrorType": code, "Content-Type": "application/json"},
    )
