"""The HTTP API data plane of one API Gateway v2 HTTP API (read by local.http_controlplane).

What AWS does, reproduced: routes matched most specific first (``$default`` last; none: 404);
CORS preflights answered by the gateway from the API's CORS configuration, and the
``Access-Control-Allow-Origin`` header added to answers for allowed origins; per-route token
bucket throttling (429); bodies over 10 MB refused (413); AWS_IAM, JWT and Lambda authorizers
(local.http_authorization); AWS_PROXY integrations invoked with payload format 2.0 events built
field for field, the answer read like API Gateway does (a bare JSON value becomes a 200 JSON
body; function errors 500; integration timeout 503); ``apigw-requestid`` on every answer; the
stage access log.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web

from local import sigv4
from local.awsformat import AccessLog, api_gateway_id, clf, now_ms
from local.http_authorization import HttpAuthorization, gateway_error
from local.http_controlplane import HttpApi, HttpRoute, Throttle
from local.registries import FunctionRegistry

log = logging.getLogger("local.httpapi")

MAX_BODY = 10 * 1024 * 1024  # HTTP API payload limit
_TEXT_TYPES = ("application/json", "application/xml", "application/javascript", "text/")


def raw_query(request: web.Request) -> str:
    """The query string as the client sent it (aiohttp's ``query_string`` is decoded)."""
    return request.raw_path.partition("?")[2]


class TokenBucket:
    def __init__(self, throttle: Throttle) -> None:
        self.capacity = float(throttle.burst_limit) if throttle.burst_limit is not None else None
        self.rate = throttle.rate_limit
        self.tokens = self.capacity or 0.0
        self.updated = time.monotonic()

    def take(self) -> bool:
        if self.capacity is None or self.rate is None:
            return True  # no limit configured
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class HttpApiGateway:
    def __init__(
        self,
        api: HttpApi,
        functions: FunctionRegistry,
        callers: dict[str, tuple[str, sigv4.Caller]],
        log_dir: Path,
    ) -> None:
        self.api = api
        self.functions = functions
        self.authorization = HttpAuthorization(api, functions, callers)
        self._access = AccessLog(
            log_dir / f"http-access-{api.id}.log", api.stage.access_log_format, {}
        )
        self._buckets = {
            r.key: TokenBucket(api.stage.route_throttles.get(r.key, api.stage.default_throttle))
            for r in api.routes
        }

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY + 1)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    def close(self) -> None:
        self._access.close()

    # ---------------------------------------------------------------- request

    async def handle(self, request: web.Request) -> web.StreamResponse:
        request_id = api_gateway_id().rstrip("=")
        now = now_ms()
        raw_path = request.raw_path.split("?", 1)[0]
        path = request.path
        method = request.method.upper()
        origin = request.headers.get("Origin")
        ctx: dict[str, Any] = {
            "requestId": request_id,
            "requestTimeEpoch": now,
            "routeKey": "-",
            "identity": {"sourceIp": request.remote or "127.0.0.1"},
        }
        if self._is_preflight(request):
            response: web.StreamResponse = self._preflight(request, request_id)
        else:
            response = await self._route(request, method, raw_path, path, request_id, now, ctx)
            self._cors_headers(response, origin)
        length = response.content_length or 0
        self._access.write(ctx, response.status, ctx.pop("_error", ""), responseLength=length)
        return response

    def _is_preflight(self, request: web.Request) -> bool:
        return (
            self.api.cors is not None
            and request.method == "OPTIONS"
            and "Origin" in request.headers
            and "Access-Control-Request-Method" in request.headers
        )

    def _origin_allowed(self, origin: str | None) -> bool:
        cors = self.api.cors
        return bool(cors and origin and ("*" in cors.allow_origins or origin in cors.allow_origins))

    def _preflight(self, request: web.Request, request_id: str) -> web.Response:
        cors = self.api.cors
        assert cors is not None
        headers = {"apigw-requestid": request_id}
        origin = request.headers["Origin"]
        wanted_method = request.headers["Access-Control-Request-Method"].upper()
        wanted_headers = [
            h.strip().lower()
            for h in request.headers.get("Access-Control-Request-Headers", "").split(",")
            if h.strip()
        ]
        method_ok = "*" in cors.allow_methods or wanted_method in cors.allow_methods
        headers_ok = "*" in cors.allow_headers or all(
            h in cors.allow_headers for h in wanted_headers
        )
        if self._origin_allowed(origin) and method_ok and headers_ok:
            headers["Access-Control-Allow-Origin"] = "*" if "*" in cors.allow_origins else origin
            headers["Access-Control-Allow-Methods"] = ",".join(cors.allow_methods)
            if cors.allow_headers:
                headers["Access-Control-Allow-Headers"] = ",".join(cors.allow_headers)
            if cors.max_age is not None:
                headers["Access-Control-Max-Age"] = str(cors.max_age)
            if cors.allow_credentials:
                headers["Access-Control-Allow-Credentials"] = "true"
        # A refused preflight is still a 204, without the headers: the browser blocks the call.
        return web.Response(status=204, headers=headers)

    def _cors_headers(self, response: web.StreamResponse, origin: str | None) -> None:
        cors = self.api.cors
        if cors is None or not self._origin_allowed(origin):
            return
        assert origin is not None
        response.headers["Access-Control-Allow-Origin"] = (
            "*" if "*" in cors.allow_origins else origin
        )
        if cors.expose_headers:
            response.headers["Access-Control-Expose-Headers"] = ",".join(cors.expose_headers)
        if cors.allow_credentials:
            response.headers["Access-Control-Allow-Credentials"] = "true"

    def _match(self, method: str, path: str) -> tuple[HttpRoute | None, dict[str, str]]:
        for route in self.api.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        default = next((r for r in self.api.routes if r.key == "$default"), None)
        return default, {}

    async def _route(
        self,
        request: web.Request,
        method: str,
        raw_path: str,
        path: str,
        request_id: str,
        now: int,
        ctx: dict[str, Any],
    ) -> web.StreamResponse:
        route, params = self._match(method, path)
        if route is None:
            return gateway_error(404, "Not Found", request_id)
        ctx["routeKey"] = route.key
        if not self._buckets[route.key].take():
            return gateway_error(429, "Too Many Requests", request_id)
        if request.content_length is not None and request.content_length > MAX_BODY:
            return gateway_error(413, "Request Entity Too Large", request_id)
        body = await request.read()
        event = self._event(request, route, params, body, raw_path, request_id, now)
        refusal = await self.authorization.authorize(
            request, route, event, raw_path, body, request_id, ctx
        )
        if refusal is not None:
            return refusal
        return await self._integrate(route, event, method, raw_path, request_id, ctx)

    # ---------------------------------------------------------------- integration

    def _event(
        self,
        request: web.Request,
        route: HttpRoute,
        params: dict[str, str],
        body: bytes,
        raw_path: str,
        request_id: str,
        now: int,
    ) -> dict[str, Any]:
        """Payload format 2.0, field for field: lower-case headers (repeats joined with commas),
        API Gateway's own forwarding headers, optional keys only when they have values."""
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in request.headers.items():
            key = name.lower()
            if key == "cookie":
                cookies.extend(c.strip() for c in value.split(";") if c.strip())
                continue
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        source_ip = request.remote or "127.0.0.1"
        headers.update(
            {
                "host": self.api.domain_name,
                "x-forwarded-for": source_ip,
                "x-forwarded-port": "443",
                "x-forwarded-proto": "https",
            }
        )
        headers.setdefault(
            "x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
        )
        if body:
            headers["content-length"] = str(len(body))
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.key,
            "rawPath": raw_path,
            "rawQueryString": raw_query(request),
        }
        if cookies:
            event["cookies"] = cookies
        event["headers"] = headers
        if request.query_string:
            query: dict[str, str] = {}
            for key, value in request.query.items():
                query[key] = f"{query[key]},{value}" if key in query else value
            event["queryStringParameters"] = query
        event["requestContext"] = {
            "accountId": self.api.account_id,
            "apiId": self.api.id,
            "domainName": self.api.domain_name,
            "domainPrefix": self.api.id,
            "http": {
                "method": request.method.upper(),
                "path": request.path,
                "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
                "sourceIp": source_ip,
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": request_id,
            "routeKey": route.key,
            "stage": self.api.stage.name,
            "time": clf(now),
            "timeEpoch": now,
        }
        if body:
            content_type = headers.get("content-type", "")
            if content_type.startswith(_TEXT_TYPES):
                event["body"] = body.decode("utf-8", errors="replace")
                event["isBase64Encoded"] = False
            else:
                event["body"] = base64.b64encode(body).decode()
                event["isBase64Encoded"] = True
        else:
            event["isBase64Encoded"] = False
        if params:
            event["pathParameters"] = params
        if self.api.stage.variables:
            event["stageVariables"] = dict(self.api.stage.variables)
        return event

    async def _integrate(
        self,
        route: HttpRoute,
        event: dict[str, Any],
        method: str,
        raw_path: str,
        request_id: str,
        ctx: dict[str, Any],
    ) -> web.StreamResponse:
        integration = route.integration
        if integration is None or integration.type != "AWS_PROXY":
            ctx["_error"] = "integration not emulated"
            return gateway_error(500, "Internal Server Error", request_id)
        started = time.monotonic()
        try:
            result = await asyncio.wait_for(
                self.functions.invoke_from_api_gateway(
                    integration.function_name, event, self.api.route_arn(method, raw_path)
                ),
                integration.timeout_ms / 1000,
            )
        except TimeoutError:
            ctx["_error"] = "integration timeout"
            return gateway_error(503, "Service Unavailable", request_id)
        ctx["integrationLatency"] = int((time.monotonic() - started) * 1000)
        if result.function_error or result.throttled:
            ctx["_error"] = result.error_message()
            return gateway_error(500, "Internal Server Error", request_id)
        return _proxy_answer(result.payload, request_id)


def _proxy_answer(payload: Any, request_id: str) -> web.StreamResponse:
    """How API Gateway reads a payload format 2.0 answer: with ``statusCode`` it is a response
    description; anything else is a JSON body with status 200."""
    if not isinstance(payload, dict) or "statusCode" not in payload:
        return web.Response(
            status=200,
            body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "apigw-requestid": request_id},
        )
    try:
        status = int(payload["statusCode"])
    except (TypeError, ValueError):
        return gateway_error(500, "Internal Server Error", request_id)
    headers = {str(k): str(v) for k, v in (payload.get("headers") or {}).items()}
    headers["apigw-requestid"] = request_id
    body = payload.get("body")
    data: bytes
    if body is None:
        data = b""
    elif payload.get("isBase64Encoded"):
        data = base64.b64decode(str(body))
    else:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
    response = web.Response(status=status, body=data, headers=headers)
    for cookie in payload.get("cookies") or []:
        response.headers.add("Set-Cookie", str(cookie))
    return response
