"""Deployable on a fresh account: the AWS rules moto skips, enforced by the local control plane,
and the module applied, re-planned and switched the way a user does it.

- CreateStage/UpdateStage with logging fail without the Region's API Gateway CloudWatch role;
- a stage whose throttling limits are 0 answers 429 to everything;
- ``examples/minimal`` applies on a fresh (emulated) account, a second plan from a fresh checkout
  (no build/) is empty, and client push switches on and off in one apply each, the served API
  (the stage's deployment snapshot) following every time;
- ``examples/complete`` (the session stack) plans empty from a fresh checkout too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
import sample_api
import websockets
from conftest import REPO, run

from local import controlplane, terraform
from local.awsformat import iam_glob
from local.controlplane import aws_client
from local.moto_main import LOGGING_ROLE_MISSING
from local.motoserver import MotoServer
from local.runtime import BackgroundRuntime, CodeSource, Runtime
from local.settings import Settings

REGION = "eu-west-1"


def _tf(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603
        [shutil.which("terraform") or "terraform", *args, "-no-color"],  # TF_INPUT=0 in the env
        cwd=workdir,
        env=terraform.terraform_env(REPO),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"terraform {args[0]} failed:\n{result.stdout[-3000:]}{result.stderr}")
    return result


def _plan_exit_code(workdir: Path) -> tuple[int, str]:
    """`terraform plan -detailed-exitcode` as a fresh checkout runs it: without build/."""
    build, saved = workdir / "build", workdir / "build.saved"
    if build.exists():
        build.rename(saved)
    try:
        result = _tf(workdir, "plan", "-detailed-exitcode", check=False)
    finally:
        if saved.exists():
            shutil.rmtree(build, ignore_errors=True)
            saved.rename(build)
    changes = [line for line in result.stdout.splitlines() if line.startswith("  # ")]
    return result.returncode, "\n".join(changes) or result.stderr[-2000:]


# ------------------------------------------------------------------ control-plane rules


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with MotoServer(tmp_path_factory.mktemp("rules") / "moto.log") as server:
        yield server.endpoint


def _websocket_api(endpoint: str, name: str) -> str:
    apigw = aws_client("apigatewayv2", endpoint, REGION)
    api_id: str = apigw.create_api(
        Name=name, ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )["ApiId"]
    mock_id = sample_api.mock_integration(apigw, api_id, '{"reply": "$context.routeKey"}')
    for key in ("$connect", "$default"):
        route = apigw.create_route(
            ApiId=api_id,
            RouteKey=key,
            Target=f"integrations/{mock_id}",
            RouteResponseSelectionExpression="$default",
        )
        apigw.create_route_response(
            ApiId=api_id, RouteId=route["RouteId"], RouteResponseKey="$default"
        )
    return api_id


def test_stage_logging_needs_the_accounts_cloudwatch_role(moto: str) -> None:
    apigw = aws_client("apigatewayv2", moto, REGION)
    api_id = _websocket_api(moto, "logging")
    logs = {"DestinationArn": "arn:aws:logs:eu-west-1:123456789012:log-group:x", "Format": "$x"}

    for settings in (
        {"AccessLogSettings": logs},
        {"DefaultRouteSettings": {"LoggingLevel": "ERROR"}},
    ):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            apigw.create_stage(ApiId=api_id, StageName="prod", **settings)  # type: ignore[arg-type]
        assert refused.value.response["Error"]["Code"] == "BadRequestException"
        assert refused.value.response["Error"]["Message"] == LOGGING_ROLE_MISSING

    # HTTP APIs log through API Gateway's service-linked role: no account setting needed.
    http_api = apigw.create_api(Name="http", ProtocolType="HTTP")["ApiId"]
    apigw.create_stage(ApiId=http_api, StageName="$default", AccessLogSettings=logs)

    # Without logging the stage is fine, and cannot be switched to logging afterwards either.
    apigw.create_stage(ApiId=api_id, StageName="prod")
    with pytest.raises(botocore.exceptions.ClientError, match="CloudWatch Logs role ARN"):
        apigw.update_stage(ApiId=api_id, StageName="prod", AccessLogSettings=logs)

    # Once the Region has a role (aws_api_gateway_account), logging is accepted.
    aws_client("apigateway", moto, REGION).update_account(
        patchOperations=[
            {
                "op": "replace",
                "path": "/cloudwatchRoleArn",
                "value": "arn:aws:iam::123456789012:role/apigw-logs",
            }
        ]
    )
    apigw.update_stage(ApiId=api_id, StageName="prod", AccessLogSettings=logs)
    apigw.create_stage(ApiId=api_id, StageName="dev", DefaultRouteSettings={"LoggingLevel": "INFO"})


def test_zero_throttling_limits_answer_429(moto: str, tmp_path: Path) -> None:
    apigw = aws_client("apigatewayv2", moto, REGION)
    api_id = _websocket_api(moto, "throttled")
    apigw.create_stage(
        ApiId=api_id,
        StageName="zero",
        # What the aws provider sends when route settings omit the limits.
        DefaultRouteSettings={"ThrottlingBurstLimit": 0, "ThrottlingRateLimit": 0},
    )
    apigw.create_deployment(ApiId=api_id, StageName="zero")
    runtime = BackgroundRuntime(
        Runtime(
            aws_endpoint=moto,
            region=REGION,
            code=CodeSource(function_zips={}),
            work_dir=tmp_path,
            settings=Settings(),
            api_id=api_id,
            stage="zero",
        )
    )
    endpoints = runtime.start()
    try:

        async def body() -> None:
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(endpoints.websocket_url):
                    pass
            assert refused.value.response.status_code == 429
            assert json.loads(refused.value.response.body or b"{}") == {
                "message": "Too Many Requests"
            }

        run(body())
    finally:
        runtime.stop()


# ------------------------------------------------------------------ Terraform, end to end


@pytest.fixture(scope="module")
def minimal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """examples/minimal applied to an empty emulated account (what `terraform apply` does on a
    fresh one), in a working directory of its own."""
    work = tmp_path_factory.mktemp("minimal")
    with MotoServer(work / "moto.log") as server:
        workdir = work / "tf"
        terraform.prepare(REPO / "examples" / "minimal", workdir, server.endpoint)
        _tf(workdir, "init")
        _tf(workdir, "apply", "-auto-approve", "-parallelism=20")
        yield workdir, server.endpoint


def _served_push_route(endpoint: str) -> controlplane.Route:
    """The push route as the stage serves it (its deployment's snapshot), checked for what
    makes API Gateway answer 500: a Lambda target without a permission for the route."""
    api = controlplane.read_api(endpoint, REGION)
    functions = controlplane.read_functions(endpoint, REGION)
    for key, route in api.routes.items():
        name = route.integration.function_name if route.integration else None
        if name is None:
            continue
        source = api.method_arn(key)
        granted = [
            pattern
            for principal, _action, pattern in functions[name].invoke_grants
            if principal == "apigateway.amazonaws.com"
            # The provider leaves the account out under skip_requesting_account_id.
            and iam_glob(
                (pattern or "*").replace("::" + api.id, f":{api.account_id}:" + api.id)
            ).fullmatch(source)
        ]
        assert granted, f"route {key} serves {name}, which has no permission for it (500s)"
    return api.routes["push"]


def _set_client_push(workdir: Path, enabled: bool) -> None:
    # Terraform's override files merge into the example's module block: the example unchanged.
    (workdir / "client_push_override.tf").write_text(
        f'module "notifications" {{\n  enable_client_push = {str(enabled).lower()}\n}}\n'
    )
    _tf(workdir, "apply", "-auto-approve", "-parallelism=20")


def test_minimal_example_plans_empty_from_a_fresh_checkout(minimal: tuple[Path, str]) -> None:
    workdir, endpoint = minimal
    code, changes = _plan_exit_code(workdir)
    assert code == 0, f"a second plan wants changes:\n{changes}"
    # Nothing outside the module's own resources by default: no Region-wide account setting.
    state = json.loads(_tf(workdir, "show", "-json").stdout)
    types = {r["type"] for r in terraform._resources(state["values"]["root_module"])}
    assert "aws_api_gateway_account" not in types
    assert aws_client("apigateway", endpoint, REGION).get_account().get("cloudwatchRoleArn") in (
        None,
        "",
    )


def test_client_push_switches_on_and_off_in_one_apply_each(minimal: tuple[Path, str]) -> None:
    workdir, endpoint = minimal
    off = _served_push_route(endpoint)
    assert off.integration is not None and off.integration.type == "MOCK"

    _set_client_push(workdir, True)
    on = _served_push_route(endpoint)
    assert on.integration is not None and on.integration.function_name == "ws-notify-push"

    _set_client_push(workdir, False)
    off_again = _served_push_route(endpoint)
    assert off_again.integration is not None and off_again.integration.type == "MOCK"
    assert off_again.route_response_keys == ("$default",)
    code, changes = _plan_exit_code(workdir)
    assert code == 0, f"switching back left changes behind:\n{changes}"


def test_complete_example_plans_empty_from_a_fresh_checkout(stack: dict[str, Any]) -> None:
    assert stack["pid"]  # the session stack applied examples/complete into .local/e2e/tf
    workdir = REPO / ".local" / "e2e" / "tf"
    code, changes = _plan_exit_code(workdir)
    assert code == 0, f"a second plan wants changes:\n{changes}"
