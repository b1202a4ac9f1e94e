"""Authorization of HTTP API routes, as API Gateway runs it before the integration.

What AWS does, reproduced: AWS_IAM routes verify the SigV4 signature (local.sigv4: 403 with API
Gateway's message when unsigned or badly signed) and put the caller in
``requestContext.authorizer.iam``; JWT routes run the native JWT authorizer
(local.jwt_authorizer: 401 ``Unauthorized``) and put the claims in ``authorizer.jwt``; CUSTOM
routes call a Lambda REQUEST authorizer with a payload format 2.0 event (identity sources
missing: 401 without calling it; ``Unauthorized`` error: 401; other errors or a malformed answer:
500; simple responses ``isAuthorized: false`` or an IAM policy without an Allow for the route
ARN: 403) and put its context in ``authorizer.lambda``. Results are not cached.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from local import jwt_authorizer, sigv4
from local.authorizers import evaluate_policy
from local.http_controlplane import HttpApi, HttpAuthorizer, HttpRoute
from local.registries import FunctionRegistry


def gateway_error(status: int, message: str, request_id: str) -> web.Response:
    """An answer API Gateway itself produces (HTTP APIs cannot restyle these)."""
    return web.json_response(
        {"message": message}, status=status, headers={"apigw-requestid": request_id}
    )


class HttpAuthorization:
    def __init__(
        self,
        api: HttpApi,
        functions: FunctionRegistry,
        callers: dict[str, tuple[str, sigv4.Caller]],
    ) -> None:
        self.api = api
        self.functions = functions
        self.callers = callers
        self.jwks = jwt_authorizer.JwksCache()

    async def authorize(
        self,
        request: web.Request,
        route: HttpRoute,
        event: dict[str, Any],
        raw_path: str,
        body: bytes,
        request_id: str,
        ctx: dict[str, Any],
    ) -> web.Response | None:
        rc = event["requestContext"]
        if route.authorization_type == "AWS_IAM":
            try:
                caller = sigv4.verify(
                    method=request.method,
                    raw_path=raw_path,
                    raw_query=request.raw_path.partition("?")[2],
                    headers=list(request.headers.items()),
                    body=body,
                    region=self.api.region,
                    secrets=self.callers,
                )
            except sigv4.SignatureError as exc:
                ctx["_error"] = str(exc)
                return gateway_error(403, str(exc), request_id)
            iam = {
                "accessKey": caller.access_key,
                "accountId": caller.account_id,
                "callerId": caller.user_id,
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": caller.user_arn,
                "userId": caller.user_id,
            }
            rc["authorizer"] = {"iam": iam}
            ctx["identity"]["userArn"] = caller.user_arn
            return None
        authorizer = route.authorizer
        if route.authorization_type == "JWT" and authorizer is not None:
            identity = self._identity(authorizer, event)
            token = jwt_authorizer.bearer(identity[0] if identity else None)
            if token is None:
                return gateway_error(401, "Unauthorized", request_id)
            try:
                claims = await jwt_authorizer.verify(authorizer, token, self.jwks)
            except PermissionError as exc:
                ctx["_error"] = str(exc)
                return gateway_error(401, "Unauthorized", request_id)
            rc["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
            ctx["authorizer"] = {"principalId": claims.get("sub", "")}
            return None
        if route.authorization_type == "CUSTOM" and authorizer is not None:
            return await self._lambda_authorizer(authorizer, route, event, request_id, ctx)
        return None

    def _identity(self, authorizer: HttpAuthorizer, event: dict[str, Any]) -> list[str]:
        values: list[str] = []
        for source in authorizer.identity_sources:
            name = source.removeprefix("$")
            value: str | None = None
            if name.startswith("request.header."):
                value = event["headers"].get(name.removeprefix("request.header.").lower())
            elif name.startswith("request.querystring."):
                query = event.get("queryStringParameters") or {}
                value = query.get(name.removeprefix("request.querystring."))
            elif name.startswith("stageVariables."):
                value = self.api.stage.variables.get(name.removeprefix("stageVariables."))
            if value:
                values.append(value)
        return values

    async def _lambda_authorizer(
        self,
        authorizer: HttpAuthorizer,
        route: HttpRoute,
        event: dict[str, Any],
        request_id: str,
        ctx: dict[str, Any],
    ) -> web.Response | None:
        identity = self._identity(authorizer, event)
        if len(identity) < len(authorizer.identity_sources):
            return gateway_error(401, "Unauthorized", request_id)  # not called, as in AWS
        rc = event["requestContext"]
        route_arn = self.api.route_arn(rc["http"]["method"], event["rawPath"])
        auth_event = {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": route_arn,
            "identitySource": identity,
            **{k: v for k, v in event.items() if k not in ("version", "body", "isBase64Encoded")},
        }
        source_arn = f"{self.api.execution_arn}/authorizers/{authorizer.id}"
        result = await self.functions.invoke_from_api_gateway(
            authorizer.function_name, auth_event, source_arn
        )
        if result.function_error or result.throttled:
            unauthorized = result.error_message() == "Unauthorized"
            ctx["_error"] = result.error_message()
            if unauthorized:
                return gateway_error(401, "Unauthorized", request_id)
            return gateway_error(500, "Internal Server Error", request_id)
        output = result.payload
        if authorizer.simple_responses:
            if not isinstance(output, dict) or not isinstance(output.get("isAuthorized"), bool):
                return gateway_error(500, "Internal Server Error", request_id)
            if not output["isAuthorized"]:
                return gateway_error(403, "Forbidden", request_id)
            context = output.get("context") or {}
        else:
            decision = evaluate_policy(output, route_arn)
            if decision.status != 200:
                message = "Forbidden" if decision.status == 403 else "Internal Server Error"
                return gateway_error(decision.status, message, request_id)
            context = dict(output.get("context") or {})
        rc["authorizer"] = {"lambda": context}
        ctx["authorizer"] = {"principalId": str(output.get("principalId", ""))}
        return None
