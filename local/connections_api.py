"""The ``@connections`` management API (``apigatewaymanagementapi``) of a WebSocket stage.

What AWS does, reproduced: ``POST`` sends the body as one frame (text when it is UTF-8, binary
otherwise; over 128 KB: 413 PayloadTooLargeException; a client that does not drain its buffer:
429 LimitExceededException), ``GET`` describes the connection (connectedAt, identity,
lastActiveAt), ``DELETE`` closes it (the client sees close code 1000, ``$disconnect`` follows);
an unknown or closed connection is 410 GoneException. Errors carry ``x-amzn-ErrorType``.
Injected faults (local/faults.py) answer before the connection is looked up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiohttp import WSCloseCode, web

from local import faults
from local.awsformat import aws_error, iso
from local.registries import ConnectionRegistry
from local.settings import MAX_MESSAGE_BYTES, Settings


class ConnectionsApi:
    def __init__(
        self,
        stage: str,
        connections: ConnectionRegistry,
        settings: Settings,
        functions: Mapping[str, Any] | None = None,
    ) -> None:
        self.stage = stage
        self.connections = connections
        self.settings = settings
        self.functions = functions or {}  # worker pools by name, for the `kill` fault
        self.faults = faults.FaultFile.from_env()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{stage}/@connections/{connection_id}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["stage"] != self.stage:
            return aws_error(403, "ForbiddenException", "Forbidden")
        connection_id = request.match_info["connection_id"]
        data = b""
        if request.method == "POST":
            data = await request.read()
            if len(data) > MAX_MESSAGE_BYTES:
                return aws_error(
                    413, "PayloadTooLargeException", "Message too long. Max size is 131072 bytes."
                )
        if self.settings.connections_latency_ms:
            await asyncio.sleep(self.settings.connections_latency_ms / 1000)
        if self.faults and (error := await self.faults.connections(connection_id, self.functions)):
            return aws_error(*error)
        conn = self.connections.get(connection_id)
        if conn is None or conn.ws is None or conn.ws.closed:
            return aws_error(410, "GoneException", None)
        if request.method == "POST":
            try:
                if data:
                    await asyncio.wait_for(_send(conn.ws, data), self.settings.send_timeout_s)
            except TimeoutError:
                return aws_error(429, "LimitExceededException", "Client buffer is full")
            except (ConnectionError, RuntimeError):
                return aws_error(410, "GoneException", None)
            return web.Response(status=200)
        if request.method == "GET":
            identity = {"sourceIp": conn.source_ip}
            if conn.user_agent:
                identity["userAgent"] = conn.user_agent
            return web.json_response(
                {
                    "connectedAt": iso(conn.connected_at),
                    "identity": identity,
                    "lastActiveAt": iso(conn.last_active_ms),
                }
            )
        if request.method == "DELETE":
            await conn.close(WSCloseCode.OK, "")
            return web.Response(status=204)
        return aws_error(405, "MethodNotAllowedException", "Method not allowed")


async def _send(ws: web.WebSocketResponse, data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        await ws.send_bytes(data)
        return
    await ws.send_str(text)
