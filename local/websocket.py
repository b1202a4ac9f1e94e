"""The WebSocket data plane of one API Gateway v2 WebSocket API (read from the control plane).

What AWS does, reproduced: ``$connect`` with the client's headers as API Gateway's front end
passes them on, the REQUEST authorizer (local.authorizers) and the integration's answer (status,
``Sec-WebSocket-Protocol``); frames routed with the route selection expression (``$default`` as
the fallback), AWS_PROXY integrations invoked with the integration timeout, MOCK integrations
answered from their templates, route responses sent back only when the route has one;
``$disconnect`` with the close code and reason; the message size (128 KB), idle (10 min) and
duration (2 h) limits. Events are built field for field like API Gateway's. No Lambda call
blocks the loop: each runs in a worker process (local.lambdas).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from local import templates
from local.authorizers import identity_value, run_request_authorizer
from local.awsformat import AccessLog, api_gateway_id, clf, connect_headers, now_ms
from local.controlplane import Api, Integration
from local.lambdas import InvokeResult
from local.registries import BackgroundTasks, Connection, ConnectionRegistry, FunctionRegistry
from local.settings import MAX_MESSAGE_BYTES, Settings

log = logging.getLogger("local.websocket")

_CONNECT_STATUS = {
    401: "Unauthorized",
    403: "Forbidden",
    429: "Too Many Requests",
    500: "Internal server error",
}


class WebSocketGateway:
    def __init__(
        self,
        api: Api,
        functions: FunctionRegistry,
        connections: ConnectionRegistry,
        tasks: BackgroundTasks,
        settings: Settings,
        log_dir: Path,
    ) -> None:
        self.api = api
        self.functions = functions
        self.connections = connections
        self.tasks = tasks
        self.settings = settings
        self._access = AccessLog(
            log_dir / "access.log", api.stage.access_log_format, api.stage.variables
        )
        self._sweeper: asyncio.Task[None] | None = None

    def app(self) -> web.Application:
        # Larger than the limit, so oversized @connections posts get the AWS-shaped 413.
        app = web.Application(client_max_size=8 * MAX_MESSAGE_BYTES)
        stage = self.api.stage.name
        app.router.add_get(f"/{stage}", self._handle_upgrade)
        app.router.add_get(f"/{stage}/", self._handle_upgrade)
        app.on_startup.append(self._start_sweeper)
        return app

    async def _start_sweeper(self, _app: web.Application) -> None:
        self._sweeper = asyncio.create_task(self._sweep())

    async def close(self) -> None:
        """Close every client (1001 Going away, like a deploy); the caller drains the tasks."""
        if self._sweeper:
            self._sweeper.cancel()
        for conn in self.connections:
            await conn.close(WSCloseCode.GOING_AWAY, "Going away")

    def close_log(self) -> None:
        self._access.close()

    # ---------------------------------------------------------------- events

    def _context(
        self, conn: Connection, route_key: str, event_type: str, request_id: str, now: int
    ) -> dict[str, Any]:
        identity: dict[str, Any] = {"sourceIp": conn.source_ip}
        if conn.user_agent:
            identity["userAgent"] = conn.user_agent
        ctx: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": clf(now),
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

    async def _integration_call(self, integration: Integration, event: Any) -> InvokeResult | None:
        """Invoke with the integration timeout (29 s by default); None when it expires. The
        function goes on running, as it does in AWS."""
        try:
            source_arn = self.api.method_arn(event["requestContext"]["routeKey"])
            return await asyncio.wait_for(
                self.functions.invoke_from_api_gateway(
                    integration.function_name, event, source_arn
                ),
                integration.timeout_ms / 1000,
            )
        except TimeoutError:
            return None

    def _throttled_stage(self) -> bool:
        """A stage whose throttling limits are 0 throttles every request, $connect included (the
        aws provider sends 0 when route settings omit the limits). Rate limiting itself is not
        emulated: only this degenerate case, which would otherwise pass locally and fail in AWS."""
        stage = self.api.stage
        return stage.throttling_rate_limit == 0 or stage.throttling_burst_limit == 0

    # ---------------------------------------------------------------- $connect

    async def _handle_upgrade(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.json_response({"message": "Forbidden"}, status=403)
        now = now_ms()
        request_id = api_gateway_id()
        conn = Connection(
            id=api_gateway_id(),
            connected_at=now,
            source_ip=(request.remote or "127.0.0.1"),
            user_agent=request.headers.get("User-Agent"),
            authorizer=None,
        )
        headers, multi_headers = connect_headers(request, self.api.domain_name)
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
        if self._throttled_stage():
            status = 429
        elif route is not None:
            if route.authorization_type == "CUSTOM" and route.authorizer is not None:
                status = await self._authorize(conn, event, ctx)
                ctx = self._context(conn, "$connect", "CONNECT", request_id, now)
            if status == 200 and route.integration is not None:
                status, protocol = await self._connect_integration(route.integration, event, ctx)
        self._access.write(ctx, status)
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
        try:
            if request.transport is None or request.transport.is_closing():
                raise ConnectionResetError("the client left during $connect")
            await ws.prepare(request)
        except ConnectionError:
            # The client left while $connect ran: no traceback. $connect succeeded, so its
            # handler may have stored the connection: $disconnect lets it remove what it wrote
            # (a refused $connect returned above and stored nothing).
            log.info("%s left during $connect: $disconnect without a socket", conn.id)
            self.tasks.spawn(self._on_disconnect(conn, 1006, "Connection closed abnormally"))
            return ws
        conn.ws = ws
        self.connections.add(conn)
        await self._serve(conn)
        return ws

    async def _authorize(self, conn: Connection, event: dict[str, Any], ctx: dict[str, Any]) -> int:
        """The $connect REQUEST authorizer: 200 to go on, or the status the client sees."""
        authorizer = self.api.routes["$connect"].authorizer
        assert authorizer is not None
        query = event.get("queryStringParameters") or {}
        for source in authorizer.identity_sources:
            if not identity_value(source, event["headers"], query, self.api.stage.variables, ctx):
                return 401  # API Gateway does not call the authorizer
        method_arn = self.api.method_arn("$connect")
        auth_event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            "headers": event["headers"],
            "multiValueHeaders": event["multiValueHeaders"],
            "queryStringParameters": event.get("queryStringParameters", {}),
            "multiValueQueryStringParameters": event.get("multiValueQueryStringParameters", {}),
            "stageVariables": dict(self.api.stage.variables),
            "requestContext": ctx,
        }
        decision = await run_request_authorizer(
            self.functions,
            authorizer,
            event=auth_event,
            method_arn=method_arn,
            authorizer_arn=f"{self.api.execution_arn}/authorizers/{authorizer.id}",
        )
        if decision.context is not None:
            conn.authorizer = decision.context
        return decision.status

    async def _connect_integration(
        self, integration: Integration, event: dict[str, Any], ctx: dict[str, Any]
    ) -> tuple[int, str | None]:
        if integration.type == "MOCK":
            status, _ = templates.mock_response(integration, ctx, self.api.stage.variables, "")
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

    # ---------------------------------------------------------------- messages

    async def _serve(self, conn: Connection) -> None:
        ws = conn.ws
        assert ws is not None
        close: tuple[int, str] = (1006, "Connection closed abnormally")
        try:
            while True:
                msg = await ws.receive()
                if msg.type == WSMsgType.TEXT and self._frame_too_big(conn, msg.data):
                    close = conn.server_close = (1009, "Message too big")
                    await ws.close(code=close[0], message=close[1].encode())
                    break
                if msg.type == WSMsgType.TEXT:
                    conn.last_active = time.monotonic()
                    conn.last_active_ms = now_ms()
                    self.tasks.spawn(self._on_message(conn, msg.data))
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
            self.connections.remove(conn.id)
            code, reason = conn.server_close or close
            if code != 1006 or self.settings.deliver_abnormal_disconnects:
                self.tasks.spawn(self._on_disconnect(conn, code, reason))
            else:
                log.info("dropped the $disconnect of %s (abnormal closure)", conn.id)

    def _frame_too_big(self, conn: Connection, text: str) -> bool:
        """API Gateway closes (1009) a connection whose client sends a frame over 32 KB. Messages
        arrive here reassembled: one over the limit counts as one frame (what browsers send)."""
        limit = self.settings.max_frame_bytes
        if len(text) * 4 <= limit or (size := len(text.encode())) <= limit:
            return False
        log.warning(
            "closing %s (1009): a %d-byte client frame, over AWS's %d", conn.id, size, limit
        )
        return True

    async def _on_message(self, conn: Connection, body: str) -> None:
        now = now_ms()
        request_id = api_gateway_id()
        selected = templates.selection_value(self.api.route_selection_expression, body)
        route = (
            self.api.routes.get(selected or "")
            if selected not in (None, "$connect", "$disconnect")
            else None
        )
        route = route or self.api.routes.get("$default")
        route_key = route.key if route else (selected or "$default")
        ctx = self._context(conn, route_key, "MESSAGE", request_id, now)
        ctx["messageId"] = api_gateway_id()
        if self._throttled_stage():
            self._access.write(ctx, 429)
            await self._gateway_message(conn, "Too Many Requests", request_id)
            return
        if route is None or route.integration is None:
            self._access.write(ctx, 403)
            await self._gateway_message(conn, "Forbidden", request_id)
            return
        integration = route.integration
        if integration.type == "MOCK":
            status, reply = templates.mock_response(
                integration, ctx, self.api.stage.variables, body
            )
            self._access.write(ctx, status)
            if reply is not None and route.route_response_keys:
                await self._reply(conn, reply)
            return
        if integration.type != "AWS_PROXY":
            self._access.write(ctx, 500, "integration type not emulated")
            await self._gateway_message(conn, "Internal server error", request_id)
            return
        event = {"requestContext": ctx, "body": body, "isBase64Encoded": False}
        result = await self._integration_call(integration, event)
        if result is None:
            self._access.write(ctx, 504, "Endpoint request timed out")
            await self._gateway_message(conn, "Endpoint request timed out", request_id)
            return
        if result.function_error or result.throttled:
            self._access.write(ctx, 500, result.error_message())
            await self._gateway_message(conn, "Internal server error", request_id)
            return
        self._access.write(ctx, 200)
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

    # ---------------------------------------------------------------- $disconnect and limits

    async def _on_disconnect(self, conn: Connection, code: int, reason: str) -> None:
        route = self.api.routes.get("$disconnect")
        now = now_ms()
        request_id = api_gateway_id()
        ctx = self._context(conn, "$disconnect", "DISCONNECT", request_id, now)
        ctx["disconnectStatusCode"] = code
        ctx["disconnectReason"] = reason
        self._access.write(ctx, 200)
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

    async def _sweep(self) -> None:
        """Idle timeout and maximum duration, checked often enough for short test limits."""
        interval = max(
            0.05, min(1.0, self.settings.idle_timeout_s / 4, self.settings.max_duration_s / 4)
        )
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for conn in self.connections:
                too_long = now - conn.started >= self.settings.max_duration_s
                too_idle = now - conn.last_active >= self.settings.idle_timeout_s
                if too_long or too_idle:
                    self.tasks.spawn(conn.close(WSCloseCode.GOING_AWAY, "Going away"))
