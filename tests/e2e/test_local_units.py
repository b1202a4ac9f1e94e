"""The local runtime's own small parsers: selection expressions, mapping templates, IAM
wildcards, function references, the Terraform override and the code checks."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import zipfile
from pathlib import Path

import pytest

from local import templates, terraform
from local.authorizers import matches_invoke
from local.controlplane import FunctionSpec, function_name_from_uri
from local.lambda_api import function_name
from local.runtime import CodeError, CodeSource, Runtime
from local.settings import Settings

ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/$connect"


@pytest.mark.parametrize(
    ("expression", "body", "expected"),
    [
        ("$request.body.action", '{"action": "poll"}', "poll"),
        ("${request.body.action}", '{"action": "poll"}', "poll"),
        ("$request.body.meta.kind", '{"meta": {"kind": "x"}}', "x"),
        ("$request.body.action", '{"action": {"nested": 1}}', None),
        ("$request.body.action", '{"other": 1}', None),
        ("$request.body.action", "not json", None),
        ("$request.body.action", '{"action": true}', "true"),
        ("\\$default", "{}", "$default"),
    ],
)
def test_selection_expressions(expression: str, body: str, expected: str | None) -> None:
    assert templates.selection_value(expression, body) == expected


def test_template_rendering() -> None:
    context = {
        "requestId": "r1",
        "requestTimeEpoch": 5,
        "authorizer": {"userId": "u"},
        "identity": {"sourceIp": "1.2.3.4"},
    }
    out = templates.render(
        '{"id":"$context.requestId","t":$context.requestTimeEpoch,"u":"${context.authorizer.userId}",'
        '"ip":"$context.identity.sourceIp","none":"$context.nothing","s":"$stageVariables.v",'
        '"b":$input.body,"a":$input.json(\'$.a\'),"p":"$input.path(\'$.a.b\')"}',
        context,
        {"v": "sv"},
        '{"a": {"b": "c"}}',
    )
    assert out == (
        '{"id":"r1","t":5,"u":"u","ip":"1.2.3.4","none":"","s":"sv",'
        '"b":{"a": {"b": "c"}},"a":{"b": "c"},"p":"c"}'
    )


@pytest.mark.parametrize(
    ("resource", "action", "allowed"),
    [
        (ARN, "execute-api:Invoke", True),
        ("arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*", "execute-api:Invoke", True),
        ("arn:aws:execute-api:eu-west-1:123456789012:abc123/*", "execute-api:*", True),
        ("*", "*", True),
        ("arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*", "execute-api:Invoke", False),
        (
            "arn:aws:execute-api:eu-west-1:123456789012:other/prod/$connect",
            "execute-api:Invoke",
            False,
        ),
        (ARN, "execute-api:ManageConnections", False),
        (
            "arn:aws:execute-api:eu-west-1:123456789012:abc12?/prod/$connect",
            "execute-api:Invoke",
            True,
        ),
    ],
)
def test_policy_matching_uses_iam_wildcards(resource: str, action: str, allowed: bool) -> None:
    assert (
        matches_invoke({"Effect": "Allow", "Action": action, "Resource": resource}, ARN) is allowed
    )


@pytest.mark.parametrize(
    ("ref", "name"),
    [
        ("push", "push"),
        ("arn:aws:lambda:eu-west-1:123456789012:function:push", "push"),
        ("arn:aws:lambda:eu-west-1:123456789012:function:push:$LATEST", "push"),
        ("123456789012:function:push", "push"),
    ],
)
def test_invoke_function_references(ref: str, name: str) -> None:
    assert function_name(ref) == name


def test_integration_uri_to_function_name() -> None:
    uri = (
        "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:eu-west-1:123456789012:function:ws-notify-push/invocations"
    )
    assert function_name_from_uri(uri) == "ws-notify-push"
    assert function_name_from_uri("https://example.com") is None


def test_override_points_every_provider_block_at_moto(tmp_path: Path) -> None:
    example = tmp_path / "example"
    example.mkdir()
    (example / "main.tf").write_text(
        'module "m" {\n  source = "../mod"\n}\nprovider "aws" {\n  region = "eu-west-1"\n}\n'
        'provider "aws" {\n  alias  = "use1"\n  region = "us-east-1"\n}\n'
    )
    (example / "x_override.tf").write_text("# ignored")
    work = tmp_path / "a" / "b" / "work"
    terraform.prepare(example, work, "http://127.0.0.1:1234")
    main = (work / "main.tf").read_text()
    assert 'source = "../../../mod"' in main  # relative from the working directory
    override = (work / "local_override.tf").read_text()
    assert override.count('provider "aws"') == 2 and 'alias = "use1"' in override
    assert 'apigatewayv2   = "http://127.0.0.1:1234"' in override
    assert "skip_requesting_account_id  = true" in override
    assert not (work / "x_override.tf").exists()


def _spec(sha: str) -> FunctionSpec:
    return FunctionSpec(
        name="f",
        arn="arn",
        handler="m.handler",
        runtime="python3.11",
        timeout_s=3,
        memory_mb=128,
        environment={},
        layer_arns=(),
        reserved_concurrency=None,
        code_sha256=sha,
    )


def test_code_must_be_the_deployed_zip(tmp_path: Path) -> None:
    zip_path = tmp_path / "code.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("m.py", "def handler(e, c): return 1\n")
    sha = base64.b64encode(hashlib.sha256(zip_path.read_bytes()).digest()).decode()
    runtime = Runtime(
        aws_endpoint="http://x",
        region="r",
        code=CodeSource({"f": zip_path}),
        work_dir=tmp_path,
        settings=Settings(),
    )
    task_root, layers = runtime._prepare_code(_spec(sha))
    assert (task_root / "m.py").is_file() and layers == []
    with pytest.raises(CodeError, match="CodeSha256 differs"):
        runtime._prepare_code(_spec("bm90IHRoZSBzYW1l"))
    missing = Runtime(
        aws_endpoint="http://x",
        region="r",
        code=CodeSource({}),
        work_dir=tmp_path,
        settings=Settings(),
    )
    with pytest.raises(CodeError, match="no code on disk"):
        missing._prepare_code(_spec(sha))


def test_latency_setting_comes_from_env_and_bad_values_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOCAL_CONNECTIONS_LATENCY_MS", "25")
    assert Settings.from_env().connections_latency_ms == 25.0
    assert Settings.from_env(connections_latency_ms=5.0).connections_latency_ms == 5.0
    monkeypatch.setenv("LOCAL_CONNECTIONS_LATENCY_MS", "fast")
    with pytest.raises(ValueError, match="LOCAL_CONNECTIONS_LATENCY_MS"):
        Settings.from_env()
    monkeypatch.delenv("LOCAL_CONNECTIONS_LATENCY_MS")
    with pytest.raises(ValueError, match=">= 0"):
        Settings.from_env(connections_latency_ms=-1.0)


def test_cli_refuses_bad_settings_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from local.__main__ import main

    monkeypatch.setenv("LOCAL_CONNECTIONS_LATENCY_MS", "soon")
    assert main(["up"]) == 2
    assert "LOCAL_CONNECTIONS_LATENCY_MS" in capsys.readouterr().err


def test_token_command_without_a_running_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from local.__main__ import main

    assert main(["token", "alice", "--stack", str(tmp_path / "stack.json")]) == 2
    assert "no running stack" in capsys.readouterr().err


def test_second_stack_on_the_same_state_dir_is_refused(tmp_path: Path) -> None:
    from local.stack import Options, Stack, StackError

    first = Stack(Options(state_dir=tmp_path), say=lambda _: None)
    first._lock = (tmp_path / ".lock").open("w")
    fcntl.flock(first._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    (tmp_path / "stack.json").write_text("{}")
    second = Stack(Options(state_dir=tmp_path), say=lambda _: None)
    with pytest.raises(StackError, match="another local stack"):
        second.__enter__()
    assert (tmp_path / "stack.json").exists()  # the running stack's description is untouched
    first._lock.close()


def test_fault_rules_match_selectors_count_uses_and_reset_when_the_file_changes(
    tmp_path: Path,
) -> None:
    import json
    import os

    from local.faults import FaultFile

    path = tmp_path / "faults.json"
    rules = FaultFile(path)
    assert rules.take("connections", connectionId="a") is None  # no file: no faults
    path.write_text(json.dumps({"connections": [{"connectionId": "a", "status": 429, "times": 2}]}))
    assert rules.take("connections", connectionId="b") is None
    assert rules.take("connections", connectionId="a") == {
        "connectionId": "a",
        "status": 429,
        "times": 2,
    }
    assert rules.take("connections", connectionId="a") is not None
    assert rules.take("connections", connectionId="a") is None  # used up
    path.write_text(json.dumps({"connections": [{"status": 500}]}) + " ")
    os.utime(path, ns=(1, 1))  # a new version even within the clock's resolution
    assert rules.take("connections", connectionId="z") == {"status": 500}  # no selector: any
    path.unlink()
    assert rules.take("connections", connectionId="z") is None


def test_moto_authorization_resources_and_operator_key() -> None:
    from types import SimpleNamespace

    from local import iam

    handler = SimpleNamespace(partition="aws", region="eu-west-1", current_account="111122223333")
    table = "arn:aws:dynamodb:eu-west-1:111122223333:table/t"
    assert iam._dynamodb_resource(SimpleNamespace(**vars(handler), body={"TableName": "t"})) == (
        table
    )
    query = {"TableName": "t", "IndexName": "userId-index"}
    assert iam._dynamodb_resource(SimpleNamespace(**vars(handler), body=query)) == (
        table + "/index/userId-index"
    )
    assert iam._dynamodb_resource(SimpleNamespace(**vars(handler), body={})) == "*"
    names = '{"Names": ["/app/jwt-secret", "/app/jwt-secret:previous"]}'
    assert iam._ssm_resource(SimpleNamespace(**vars(handler), body=names)) == (
        "arn:aws:ssm:eu-west-1:111122223333:parameter/app/jwt-secret"
    )
    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=ASIAXYZ/20261201/eu-west-1/ssm/aws4"}
    assert iam._access_key(signed) == "ASIAXYZ"
    assert iam._access_key({}) == ""
