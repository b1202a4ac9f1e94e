"""Read what a Terraform configuration deployed from the emulated control plane.

Nothing about the API is hard-coded here: routes, integrations, authorizers, route/integration
responses and the stage come from API Gateway v2; handler, environment, timeout, memory, layers
and reserved concurrency come from Lambda. The runtime serves exactly that.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from local.motoserver import FAKE_CREDENTIALS

_FUNCTION_ARN = re.compile(r"arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:([\w-]+)(?::([\w$-]+))?")


class ControlPlaneError(RuntimeError):
    pass


def aws_client(service: str, endpoint: str, region: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 2, "mode": "standard"}),
    )


def function_name_from_uri(uri: str) -> str | None:
    """Lambda function name from an integration/authorizer URI or a function ARN.

    API Gateway integration URIs look like
    ``arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function arn}/invocations``.
    """
    match = _FUNCTION_ARN.search(uri or "")
    return match.group(1) if match else None


@dataclass(frozen=True)
class IntegrationResponse:
    key: str
    templates: dict[str, str]
    template_selection_expression: str | None


@dataclass(frozen=True)
class Integration:
    id: str
    type: str  # AWS_PROXY | MOCK | AWS | HTTP | HTTP_PROXY
    uri: str
    function_name: str | None
    timeout_ms: int
    request_templates: dict[str, str]
    template_selection_expression: str | None
    responses: tuple[IntegrationResponse, ...]


@dataclass(frozen=True)
class Authorizer:
    id: str
    name: str
    type: str
    function_name: str | None
    identity_sources: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    id: str
    key: str
    authorization_type: str
    authorizer: Authorizer | None
    integration: Integration | None
    route_response_keys: tuple[str, ...]
    route_response_selection_expression: str | None


@dataclass(frozen=True)
class Stage:
    name: str
    variables: dict[str, str]
    access_log_format: str | None
    access_log_destination: str | None
    throttling_burst_limit: int | None
    throttling_rate_limit: float | None


@dataclass(frozen=True)
class Api:
    id: str
    name: str
    region: str
    account_id: str
    endpoint: str
    route_selection_expression: str
    stage: Stage
    routes: dict[str, Route]

    @property
    def domain_name(self) -> str:
        return f"{self.id}.execute-api.{self.region}.amazonaws.com"

    @property
    def execution_arn(self) -> str:
        return f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.id}"

    def method_arn(self, route_key: str) -> str:
        return f"{self.execution_arn}/{self.stage.name}/{route_key}"


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    arn: str
    handler: str
    runtime: str
    timeout_s: int
    memory_mb: int
    environment: dict[str, str]
    layer_arns: tuple[str, ...]
    reserved_concurrency: int | None
    code_sha256: str
    log_group: str = field(default="")
    # Resource-policy grants: (principal, action, source ARN pattern or None).
    invoke_grants: tuple[tuple[str, str, str | None], ...] = ()
    role_arn: str = ""  # the execution role (local/iam.py runs the function with it)


def _items(pages: Any, key: str = "Items") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in pages:
        out.extend(page.get(key, []))
    return out


def _paged(call: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """API Gateway v2 list calls page with NextToken (boto3 has no paginator for all of them)."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = call(**kwargs, **({"NextToken": token} if token else {}))
        items.extend(page.get("Items", []))
        token = page.get("NextToken")
        if not token:
            return items


def read_api(
    endpoint: str, region: str, api_id: str | None = None, stage_name: str | None = None
) -> Api:
    """The WebSocket API (the only one, or ``api_id``) and its stage (the only one, or named)."""
    apigw = aws_client("apigatewayv2", endpoint, region)
    sts = aws_client("sts", endpoint, region)
    account_id = sts.get_caller_identity()["Account"]
    apis = [a for a in _paged(apigw.get_apis) if a.get("ProtocolType") == "WEBSOCKET"]
    if api_id:
        apis = [a for a in apis if a["ApiId"] == api_id]
    if len(apis) != 1:
        raise ControlPlaneError(
            f"expected one WebSocket API{' with id ' + api_id if api_id else ''}, found {len(apis)}"
        )
    api = apis[0]
    stage, deployment_id = _read_stage(apigw, api["ApiId"], stage_name)
    config = _deployed_config(apigw, api["ApiId"], deployment_id) or _live_config(
        apigw, api["ApiId"]
    )
    authorizers = {
        a["AuthorizerId"]: Authorizer(
            id=a["AuthorizerId"],
            name=a.get("Name", ""),
            type=a.get("AuthorizerType", ""),
            function_name=function_name_from_uri(a.get("AuthorizerUri", "")),
            identity_sources=tuple(a.get("IdentitySource") or ()),
        )
        for a in config["authorizers"]
    }
    integrations = {i["IntegrationId"]: _integration(i) for i in config["integrations"]}
    routes: dict[str, Route] = {}
    for r in config["routes"]:
        target = r.get("Target") or ""
        integration = integrations.get(target.removeprefix("integrations/")) if target else None
        routes[r["RouteKey"]] = Route(
            id=r["RouteId"],
            key=r["RouteKey"],
            authorization_type=r.get("AuthorizationType") or "NONE",
            authorizer=authorizers.get(r.get("AuthorizerId") or ""),
            integration=integration,
            route_response_keys=tuple(rr["RouteResponseKey"] for rr in r["Responses"]),
            route_response_selection_expression=r.get("RouteResponseSelectionExpression"),
        )
    return Api(
        id=api["ApiId"],
        name=api.get("Name", ""),
        region=region,
        account_id=account_id,
        endpoint=api.get("ApiEndpoint", ""),
        route_selection_expression=api.get("RouteSelectionExpression") or "$request.body.action",
        stage=stage,
        routes=routes,
    )


def _read_stage(apigw: Any, api_id: str, stage_name: str | None) -> tuple[Stage, str | None]:
    """The stage, and the deployment it serves (None with AutoDeploy: the live configuration)."""
    stages = _paged(apigw.get_stages, ApiId=api_id)
    if stage_name:
        stages = [s for s in stages if s["StageName"] == stage_name]
    if len(stages) != 1:
        raise ControlPlaneError(
            f"expected one stage{' named ' + stage_name if stage_name else ''} on API {api_id}, "
            f"found {len(stages)}"
        )
    s = stages[0]
    settings = s.get("DefaultRouteSettings") or {}
    logs = s.get("AccessLogSettings") or {}
    stage = Stage(
        name=s["StageName"],
        variables=dict(s.get("StageVariables") or {}),
        access_log_format=logs.get("Format"),
        access_log_destination=logs.get("DestinationArn"),
        throttling_burst_limit=settings.get("ThrottlingBurstLimit"),
        throttling_rate_limit=settings.get("ThrottlingRateLimit"),
    )
    return stage, None if s.get("AutoDeploy") else s.get("DeploymentId")


def _live_config(apigw: Any, api_id: str) -> dict[str, list[dict[str, Any]]]:
    """Authorizers, integrations and routes (each with its responses) as configured now."""
    integrations = _paged(apigw.get_integrations, ApiId=api_id)
    for i in integrations:
        i["Responses"] = _paged(
            apigw.get_integration_responses, ApiId=api_id, IntegrationId=i["IntegrationId"]
        )
    routes = _paged(apigw.get_routes, ApiId=api_id)
    for r in routes:
        r["Responses"] = _paged(apigw.get_route_responses, ApiId=api_id, RouteId=r["RouteId"])
    return {
        "authorizers": _paged(apigw.get_authorizers, ApiId=api_id),
        "integrations": integrations,
        "routes": routes,
    }


def _deployed_config(
    apigw: Any, api_id: str, deployment_id: str | None
) -> dict[str, list[dict[str, Any]]] | None:
    """The same, as frozen by the stage's deployment (local.moto_main's ``localSnapshot``, which
    botocore does not model: read from the raw reply). None when there is no snapshot."""
    if not deployment_id:
        return None
    raw: dict[str, bytes] = {}

    def keep_body(http_response: Any, **_: Any) -> None:
        raw["body"] = http_response.content

    event = "after-call.apigatewayv2.GetDeployment"
    apigw.meta.events.register(event, keep_body)
    try:
        apigw.get_deployment(ApiId=api_id, DeploymentId=deployment_id)
    finally:
        apigw.meta.events.unregister(event, keep_body)
    snapshot = json.loads(raw.get("body") or b"{}").get("localSnapshot")
    if not snapshot:
        return None

    def boto_keys(item: dict[str, Any]) -> dict[str, Any]:
        # The wire format is camelCase; boto3 (and _live_config) use the model's PascalCase.
        out = {k[:1].upper() + k[1:]: v for k, v in item.items() if k != "responses"}
        out["Responses"] = [boto_keys(r) for r in item.get("responses", [])]
        return out

    return {kind: [boto_keys(item) for item in snapshot[kind]] for kind in snapshot}


def _integration(i: dict[str, Any]) -> Integration:
    responses = tuple(
        IntegrationResponse(
            key=r["IntegrationResponseKey"],
            templates=dict(r.get("ResponseTemplates") or {}),
            template_selection_expression=r.get("TemplateSelectionExpression"),
        )
        for r in i["Responses"]
    )
    uri = i.get("IntegrationUri") or ""
    return Integration(
        id=i["IntegrationId"],
        type=i.get("IntegrationType") or "",
        uri=uri,
        function_name=function_name_from_uri(uri),
        timeout_ms=int(i.get("TimeoutInMillis") or 29_000),
        request_templates=dict(i.get("RequestTemplates") or {}),
        template_selection_expression=i.get("TemplateSelectionExpression"),
        responses=responses,
    )


def read_functions(endpoint: str, region: str) -> dict[str, FunctionSpec]:
    """Every Lambda function in the emulated account, with what its invocation needs."""
    lam = aws_client("lambda", endpoint, region)
    specs: dict[str, FunctionSpec] = {}
    for f in _items(lam.get_paginator("list_functions").paginate(), "Functions"):
        cfg = lam.get_function_configuration(FunctionName=f["FunctionName"])
        reserved = lam.get_function_concurrency(FunctionName=f["FunctionName"]).get(
            "ReservedConcurrentExecutions"
        )
        specs[cfg["FunctionName"]] = FunctionSpec(
            name=cfg["FunctionName"],
            arn=cfg["FunctionArn"],
            handler=cfg.get("Handler") or "",
            runtime=cfg.get("Runtime") or "",
            timeout_s=int(cfg.get("Timeout") or 3),
            memory_mb=int(cfg.get("MemorySize") or 128),
            environment=dict((cfg.get("Environment") or {}).get("Variables") or {}),
            layer_arns=tuple(layer["Arn"] for layer in cfg.get("Layers") or ()),
            reserved_concurrency=reserved,
            code_sha256=cfg.get("CodeSha256") or "",
            log_group=(cfg.get("LoggingConfig") or {}).get("LogGroup")
            or f"/aws/lambda/{cfg['FunctionName']}",
            invoke_grants=_grants(lam, cfg["FunctionName"]),
            role_arn=cfg.get("Role") or "",
        )
    return specs


def _grants(lam: Any, function_name: str) -> tuple[tuple[str, str, str | None], ...]:
    """Who may invoke the function (``aws_lambda_permission``), from its resource policy."""
    try:
        policy = json.loads(lam.get_policy(FunctionName=function_name)["Policy"])
    except lam.exceptions.ResourceNotFoundException:
        return ()
    grants: list[tuple[str, str, str | None]] = []
    for statement in policy.get("Statement", []):
        if statement.get("Effect", "Allow") != "Allow":
            continue
        principal = statement.get("Principal")
        service = principal.get("Service") if isinstance(principal, dict) else principal
        actions = statement.get("Action")
        condition = statement.get("Condition") or {}
        source = (condition.get("ArnLike") or condition.get("ArnEquals") or {}).get("AWS:SourceArn")
        for action in [actions] if isinstance(actions, str) else actions or []:
            grants.append((str(service), str(action), source))
    return tuple(grants)
