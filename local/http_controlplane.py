"""Read every HTTP API (API Gateway v2, protocol HTTP) from the emulated control plane: routes,
integrations, authorizers (JWT and Lambda), CORS configuration and the ``$default`` (or only)
stage with its throttling and access log format. Nothing is hard-coded: local.httpapi serves
what this returns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from local.controlplane import _paged, aws_client, function_name_from_uri


@dataclass(frozen=True)
class Cors:
    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...]
    allow_headers: tuple[str, ...]
    expose_headers: tuple[str, ...]
    max_age: int | None
    allow_credentials: bool


@dataclass(frozen=True)
class HttpAuthorizer:
    id: str
    name: str
    type: str  # JWT | REQUEST
    identity_sources: tuple[str, ...]
    issuer: str | None = None
    audience: tuple[str, ...] = ()
    function_name: str | None = None
    payload_format_version: str = "2.0"
    simple_responses: bool = False


@dataclass(frozen=True)
class HttpIntegration:
    id: str
    type: str
    function_name: str | None
    payload_format_version: str
    timeout_ms: int


@dataclass(frozen=True)
class HttpRoute:
    key: str  # "GET /v1/users/{userId}/connections", "$default", "ANY /x/{proxy+}"
    method: str  # GET, ..., or ANY
    path: str
    pattern: re.Pattern[str] | None
    authorization_type: str  # NONE | AWS_IAM | JWT | CUSTOM
    authorizer: HttpAuthorizer | None
    integration: HttpIntegration | None

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when this route serves ``method path``, else None."""
        if self.pattern is None or self.method not in ("ANY", method):
            return None
        found = self.pattern.fullmatch(path)
        return dict(found.groupdict()) if found else None


@dataclass(frozen=True)
class Throttle:
    burst_limit: int | None
    rate_limit: float | None


@dataclass(frozen=True)
class HttpStage:
    name: str
    variables: dict[str, str]
    access_log_format: str | None
    default_throttle: Throttle
    route_throttles: dict[str, Throttle] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpApi:
    id: str
    name: str
    region: str
    account_id: str
    cors: Cors | None
    stage: HttpStage
    routes: tuple[HttpRoute, ...]

    @property
    def domain_name(self) -> str:
        return f"{self.id}.execute-api.{self.region}.amazonaws.com"

    @property
    def execution_arn(self) -> str:
        return f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.id}"

    def route_arn(self, method: str, path: str) -> str:
        """The source ARN of a request: ``{execution_arn}/{stage}/{METHOD}{path}``."""
        return f"{self.execution_arn}/{self.stage.name}/{method}{path}"


def route_pattern(path: str) -> re.Pattern[str]:
    """``/v1/users/{userId}`` matches one segment per parameter; ``{proxy+}`` the rest."""
    parts: list[str] = []
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{") and piece.endswith("}"):
            name = piece[1:-1]
            if name.endswith("+"):
                parts.append(f"(?P<{name[:-1]}>.+)")
            else:
                parts.append(f"(?P<{name}>[^/]+)")
        else:
            parts.append(re.escape(piece))
    return re.compile("".join(parts))


def _throttle(settings: dict[str, Any] | None) -> Throttle:
    settings = settings or {}
    burst = settings.get("ThrottlingBurstLimit")
    rate = settings.get("ThrottlingRateLimit")
    return Throttle(
        int(burst) if burst is not None else None, float(rate) if rate is not None else None
    )


def read_http_apis(endpoint: str, region: str) -> list[HttpApi]:
    apigw = aws_client("apigatewayv2", endpoint, region)
    account_id = aws_client("sts", endpoint, region).get_caller_identity()["Account"]
    found: list[HttpApi] = []
    for api in _paged(apigw.get_apis):
        if api.get("ProtocolType") != "HTTP":
            continue
        stages = _paged(apigw.get_stages, ApiId=api["ApiId"])
        if not stages:
            continue  # not deployed: nothing to serve
        stage = next((s for s in stages if s["StageName"] == "$default"), stages[0])
        found.append(_read(apigw, api, stage, region, account_id))
    return found


def _read(
    apigw: Any, api: dict[str, Any], stage: dict[str, Any], region: str, account_id: str
) -> HttpApi:
    api_id = api["ApiId"]
    authorizers: dict[str, HttpAuthorizer] = {}
    for a in _paged(apigw.get_authorizers, ApiId=api_id):
        jwt = a.get("JwtConfiguration") or {}
        authorizers[a["AuthorizerId"]] = HttpAuthorizer(
            id=a["AuthorizerId"],
            name=a.get("Name", ""),
            type=a.get("AuthorizerType", ""),
            identity_sources=tuple(a.get("IdentitySource") or ()),
            issuer=jwt.get("Issuer"),
            audience=tuple(jwt.get("Audience") or ()),
            function_name=function_name_from_uri(a.get("AuthorizerUri") or ""),
            payload_format_version=a.get("AuthorizerPayloadFormatVersion") or "2.0",
            simple_responses=bool(a.get("EnableSimpleResponses")),
        )
    integrations = {
        i["IntegrationId"]: HttpIntegration(
            id=i["IntegrationId"],
            type=i.get("IntegrationType") or "",
            function_name=function_name_from_uri(i.get("IntegrationUri") or ""),
            payload_format_version=i.get("PayloadFormatVersion") or "2.0",
            timeout_ms=int(i.get("TimeoutInMillis") or 30_000),
        )
        for i in _paged(apigw.get_integrations, ApiId=api_id)
    }
    routes: list[HttpRoute] = []
    for r in _paged(apigw.get_routes, ApiId=api_id):
        key = r["RouteKey"]
        method, _, path = key.partition(" ")
        target = r.get("Target") or ""
        routes.append(
            HttpRoute(
                key=key,
                method=method.upper() if path else "ANY",
                path=path,
                pattern=route_pattern(path) if path else None,
                authorization_type=r.get("AuthorizationType") or "NONE",
                authorizer=authorizers.get(r.get("AuthorizerId") or ""),
                integration=integrations.get(target.removeprefix("integrations/")),
            )
        )
    cors_cfg = api.get("CorsConfiguration")
    cors = None
    if cors_cfg and cors_cfg.get("AllowOrigins"):
        cors = Cors(
            allow_origins=tuple(cors_cfg.get("AllowOrigins") or ()),
            allow_methods=tuple(m.upper() for m in cors_cfg.get("AllowMethods") or ()),
            allow_headers=tuple(h.lower() for h in cors_cfg.get("AllowHeaders") or ()),
            expose_headers=tuple(cors_cfg.get("ExposeHeaders") or ()),
            max_age=cors_cfg.get("MaxAge"),
            allow_credentials=bool(cors_cfg.get("AllowCredentials")),
        )
    access = stage.get("AccessLogSettings") or {}
    return HttpApi(
        id=api_id,
        name=api.get("Name", ""),
        region=region,
        account_id=account_id,
        cors=cors,
        stage=HttpStage(
            name=stage["StageName"],
            variables=dict(stage.get("StageVariables") or {}),
            access_log_format=access.get("Format"),
            default_throttle=_throttle(stage.get("DefaultRouteSettings")),
            route_throttles={
                k: _throttle(v) for k, v in (stage.get("RouteSettings") or {}).items()
            },
        ),
        # Most specific first, as API Gateway picks: literal segments beat parameters,
        # greedy {proxy+} and $default come last.
        routes=tuple(sorted(routes, key=_specificity)),
    )


def _specificity(route: HttpRoute) -> tuple[int, int, int]:
    if route.pattern is None:
        return (2, 0, 0)
    greedy = 1 if "+}" in route.path else 0
    params = route.path.count("{")
    return (greedy, params, -len(route.path))
