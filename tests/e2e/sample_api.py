"""Deploy a purpose-built WebSocket API into moto with boto3, shaped as Terraform creates it.

Used by the gateway tests: they need behaviours the project's own handlers never show (Deny
policies, crashing authorizers, slow handlers, a route without a route response).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.controlplane import aws_client

REGION = "eu-central-1"
SOURCE = Path(__file__).parent / "sample_functions" / "sample.py"
DEFAULT_TEMPLATE = (
    '{"type":"error","id":"$context.requestId","createdAt":$context.requestTimeEpoch,'
    '"connectionId":"$context.connectionId","route":"$context.routeKey",'
    '"user":"$context.authorizer.userId","error":{"code":"UNKNOWN_ACTION"}}'
)


@dataclass(frozen=True)
class SampleApi:
    api_id: str
    stage: str
    events_table: str
    zip_path: Path
    functions: dict[str, str]  # role -> function name
    http_api_id: str = ""


def _zip(dest: Path) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.write(SOURCE, "sample.py")
    dest.write_bytes(buf.getvalue())
    return dest


def mock_integration(apigw: Any, api_id: str, reply_template: str) -> str:
    """A MOCK integration answering every frame with ``reply_template`` (like the $default)."""
    mock = apigw.create_integration(
        ApiId=api_id,
        IntegrationType="MOCK",
        TemplateSelectionExpression="\\$default",
        RequestTemplates={"$default": '{"statusCode": 200}'},
    )
    apigw.create_integration_response(
        ApiId=api_id,
        IntegrationId=mock["IntegrationId"],
        IntegrationResponseKey="$default",
        TemplateSelectionExpression="\\$default",
        ResponseTemplates={"$default": reply_template},
    )
    return str(mock["IntegrationId"])


def deploy(endpoint: str, build_dir: Path, issuer: str = "") -> SampleApi:
    iam = aws_client("iam", endpoint, REGION)
    lam = aws_client("lambda", endpoint, REGION)
    apigw = aws_client("apigatewayv2", endpoint, REGION)
    ddb = aws_client("dynamodb", endpoint, REGION)
    ddb.create_table(
        TableName="sample-events",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    role = iam.create_role(
        RoleName="sample-lambda",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    zip_path = _zip(build_dir / "sample.zip")
    code = zip_path.read_bytes()
    functions: dict[str, str] = {}
    arns: dict[str, str] = {}
    specs = {
        "authorizer": ("authorize", 3, None),
        "connect": ("connect", 3, None),
        "disconnect": ("disconnect", 3, None),
        "echo": ("echo", 3, None),
        "slow": ("slow", 1, 1),
        "fail": ("fail", 3, None),
        "tell": ("tell", 3, None),
        "kick": ("kick", 3, None),
        "direct": ("direct", 2, 2),
        "http-authorizer": ("http_authorize", 3, None),
        "broken": ("missing_function", 3, None),  # the module has no such attribute
        "unimportable": ("nope/sample.direct", 3, None),  # no such module
    }
    for name, (handler, timeout, reserved) in specs.items():
        fn = lam.create_function(
            FunctionName=f"sample-{name}",
            Runtime="python3.11",
            Role=role,
            Handler=handler if "/" in handler else f"sample.{handler}",
            Code={"ZipFile": code},
            Timeout=timeout,
            MemorySize=256,
            Environment={
                "Variables": {
                    "EVENTS_TABLE": "sample-events",
                    "SAMPLE_SETTING": f"setting-of-{name}",
                    "CONNECTIONS_ENDPOINT": "https://example.invalid/prod",
                }
            },
        )
        if reserved:
            lam.put_function_concurrency(
                FunctionName=fn["FunctionName"], ReservedConcurrentExecutions=reserved
            )
        functions[name] = fn["FunctionName"]
        arns[name] = fn["FunctionArn"]

    api = apigw.create_api(
        Name="sample", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )
    api_id = api["ApiId"]

    def uri(name: str) -> str:
        return (
            f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arns[name]}/invocations"
        )

    execution_arn = f"arn:aws:execute-api:{REGION}:123456789012:{api_id}"
    for name in ("connect", "disconnect", "echo", "slow", "fail", "tell", "kick"):
        # As aws_lambda_permission does it; `direct` has none, so API Gateway may not call it.
        lam.add_permission(
            FunctionName=functions[name],
            StatementId="apigw",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"{execution_arn}/test/*",
        )

    authorizer = apigw.create_authorizer(
        ApiId=api_id,
        Name="sample",
        AuthorizerType="REQUEST",
        AuthorizerUri=uri("authorizer"),
        IdentitySource=["route.request.querystring.token"],
    )
    for route_key, name, with_response in (
        ("$connect", "connect", False),
        ("$disconnect", "disconnect", False),
        ("echo", "echo", True),
        ("slow", "slow", True),
        ("fail", "fail", True),
        ("tell", "tell", False),
        ("kick", "kick", False),
        ("quiet", "echo", False),
        ("noperm", "direct", True),
    ):
        integration = apigw.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=uri(name),
            IntegrationMethod="POST",
            TimeoutInMillis=29000 if name != "slow" else 3000,
        )
        extra = {}
        if route_key == "$connect":
            extra = {"AuthorizationType": "CUSTOM", "AuthorizerId": authorizer["AuthorizerId"]}
        if with_response:
            extra["RouteResponseSelectionExpression"] = "$default"
        route = apigw.create_route(
            ApiId=api_id,
            RouteKey=route_key,
            Target=f"integrations/{integration['IntegrationId']}",
            **extra,
        )
        if with_response:
            apigw.create_route_response(
                ApiId=api_id, RouteId=route["RouteId"], RouteResponseKey="$default"
            )
    mock_id = mock_integration(apigw, api_id, DEFAULT_TEMPLATE)
    default = apigw.create_route(
        ApiId=api_id,
        RouteKey="$default",
        Target=f"integrations/{mock_id}",
        RouteResponseSelectionExpression="$default",
    )
    apigw.create_route_response(
        ApiId=api_id, RouteId=default["RouteId"], RouteResponseKey="$default"
    )
    lam.add_permission(
        FunctionName=functions["authorizer"],
        StatementId="apigw-authorizer",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"{execution_arn}/authorizers/{authorizer['AuthorizerId']}",
    )
    # Stage logging needs the Region's API Gateway CloudWatch role (aws_api_gateway_account).
    aws_client("apigateway", endpoint, REGION).update_account(
        patchOperations=[
            {
                "op": "replace",
                "path": "/cloudwatchRoleArn",
                "value": f"{role[: -len('sample-lambda')]}apigw",
            }
        ]
    )
    apigw.create_stage(
        ApiId=api_id,
        StageName="test",
        StageVariables={"flavour": "sample"},
        AccessLogSettings={
            "DestinationArn": f"arn:aws:logs:{REGION}:123456789012:log-group:x",
            "Format": '{"requestId":"$context.requestId","routeKey":'
            '"$context.routeKey","status":"$context.status",'
            '"connectionId":"$context.connectionId"}',
        },
    )
    apigw.create_deployment(ApiId=api_id, StageName="test")
    return SampleApi(
        api_id=api_id,
        stage="test",
        events_table="sample-events",
        zip_path=zip_path,
        functions=functions,
        http_api_id=_deploy_http(apigw, lam, functions, uri, issuer),
    )


def _deploy_http(apigw: Any, lam: Any, functions: dict[str, str], uri: Any, issuer: str) -> str:
    """An HTTP API: NONE, JWT (issuer: the test's JWKS server) and Lambda-authorized routes,
    a bare-JSON answer, a crashing and a slow integration, and CORS with a wildcard origin."""
    api = apigw.create_api(
        Name="sample-http",
        ProtocolType="HTTP",
        CorsConfiguration={
            "AllowOrigins": ["*"],
            "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["*"],
            "MaxAge": 60,
        },
    )
    api_id = api["ApiId"]
    execution_arn = f"arn:aws:execute-api:{REGION}:123456789012:{api_id}"
    jwt_authorizer = apigw.create_authorizer(
        ApiId=api_id,
        Name="jwt",
        AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": issuer, "Audience": ["sample-app"]},
    )
    lambda_authorizer = apigw.create_authorizer(
        ApiId=api_id,
        Name="lambda",
        AuthorizerType="REQUEST",
        AuthorizerUri=uri("http-authorizer"),
        AuthorizerPayloadFormatVersion="2.0",
        IdentitySource=["$request.header.x-sample-auth"],
    )
    lam.add_permission(
        FunctionName=functions["http-authorizer"],
        StatementId="apigw-http-authorizer",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"{execution_arn}/authorizers/{lambda_authorizer['AuthorizerId']}",
    )
    for name in ("echo", "slow", "fail", "direct"):
        lam.add_permission(
            FunctionName=functions[name],
            StatementId="apigw-http",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"{execution_arn}/*",
        )
    for route_key, name, auth in (
        ("POST /echo/{id}", "echo", None),
        ("GET /jwt", "echo", jwt_authorizer),
        ("GET /custom", "echo", lambda_authorizer),
        ("GET /bare", "direct", None),
        ("GET /fail", "fail", None),
        ("POST /slow", "slow", None),
    ):
        integration = apigw.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=uri(name),
            PayloadFormatVersion="2.0",
            TimeoutInMillis=500 if name == "slow" else 30000,
        )
        extra: dict[str, Any] = {}
        if auth is not None:
            extra = {
                "AuthorizationType": auth["AuthorizerType"].replace("REQUEST", "CUSTOM"),
                "AuthorizerId": auth["AuthorizerId"],
            }
        apigw.create_route(
            ApiId=api_id,
            RouteKey=route_key,
            Target=f"integrations/{integration['IntegrationId']}",
            **extra,
        )
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    return str(api_id)
