"""API Gateway's REQUEST (Lambda) authorizers and IAM policy evaluation.

What AWS does, reproduced: identity sources are checked first (a missing or empty one is a 401
without calling the function); an ``Unauthorized`` error is a 401, any other error or a
malformed answer a 500; the returned policy is evaluated against the method ARN with IAM
wildcard semantics (an explicit Deny or no matching Allow is a 403); ``principalId`` plus the
``context`` map become ``requestContext.authorizer`` of every later event.
"""

from __future__ import annotations

import fnmatch
import json
import logging
from dataclasses import dataclass
from typing import Any

from local import templates
from local.awsformat import iam_glob
from local.controlplane import Authorizer
from local.registries import FunctionRegistry

log = logging.getLogger("local.authorizers")

MAX_AUTHORIZER_RESPONSE = 8192


@dataclass(frozen=True)
class Decision:
    status: int  # 200 to go on, else what the client sees
    context: dict[str, Any] | None = None  # principalId + context on success


def identity_value(
    source: str,
    headers: dict[str, str],
    query: dict[str, str],
    stage_variables: dict[str, str],
    ctx: dict[str, Any],
) -> str | None:
    """One identity source (``route.request.header.X``, ``$request.header.X``, query string,
    stage variable or ``context.*``), the way the WebSocket and HTTP API notations name it."""
    lower_headers = {k.lower(): v for k, v in headers.items()}
    name = source.removeprefix("$")
    for prefix in ("route.request.header.", "request.header."):
        if name.startswith(prefix):
            return lower_headers.get(name.removeprefix(prefix).lower())
    for prefix in ("route.request.querystring.", "request.querystring."):
        if name.startswith(prefix):
            return query.get(name.removeprefix(prefix))
    if name.startswith("stageVariables."):
        return stage_variables.get(name.removeprefix("stageVariables."))
    if name.startswith("context."):
        return templates.render("$" + name, ctx, {}) or None
    return None


async def run_request_authorizer(
    functions: FunctionRegistry,
    authorizer: Authorizer,
    *,
    event: dict[str, Any],
    method_arn: str,
    authorizer_arn: str,
) -> Decision:
    """Invoke a REQUEST authorizer with ``event`` and evaluate the IAM policy it returns."""
    result = await functions.invoke_from_api_gateway(
        authorizer.function_name, event, authorizer_arn
    )
    if result.function_error or result.throttled:
        return Decision(401 if result.error_message() == "Unauthorized" else 500)
    return evaluate_policy(result.payload, method_arn)


def evaluate_policy(output: Any, method_arn: str) -> Decision:
    if not isinstance(output, dict) or "principalId" not in output:
        log.error("authorizer output without principalId: %.200r", output)
        return Decision(500)
    document = output.get("policyDocument")
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        log.error("authorizer output without a policyDocument.Statement")
        return Decision(500)
    context = output.get("context") or {}
    if not _flat_context(context):
        return Decision(500)
    if len(json.dumps(output)) > MAX_AUTHORIZER_RESPONSE:
        log.error("authorizer response over 8 KB")
        return Decision(500)
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict) or not matches_invoke(statement, method_arn):
            continue
        if statement.get("Effect") == "Deny":
            return Decision(403)
        if statement.get("Effect") == "Allow":
            allowed = True
    if not allowed:
        return Decision(403)
    return Decision(200, {**context, "principalId": output["principalId"]})


def _flat_context(context: Any) -> bool:
    if not isinstance(context, dict) or any(
        not isinstance(v, str | int | float | bool) for v in context.values()
    ):
        log.error("authorizer context values must be strings, numbers or booleans")
        return False
    return True


def matches_invoke(statement: dict[str, Any], arn: str) -> bool:
    """IAM wildcard semantics: ``*`` spans any characters, ``?`` one. So ``/prod/*/*`` does not
    match ``/prod/$connect`` (no second slash), as in AWS."""
    actions = statement.get("Action", [])
    resources = statement.get("Resource", [])
    actions = [actions] if isinstance(actions, str) else actions
    resources = [resources] if isinstance(resources, str) else resources
    action_ok = any(fnmatch.fnmatchcase("execute-api:Invoke", str(a)) for a in actions)
    resource_ok = any(iam_glob(str(r)).fullmatch(arn) for r in resources)
    return action_ok and resource_ok
