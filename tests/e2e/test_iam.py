"""IAM is enforced in the local stack (local/iam.py): each function calls AWS with its own role,
so removing a statement its flow needs makes that flow fail, as it would in AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from conftest import run
from test_system import connect, push, recv

from local.controlplane import aws_client


@contextmanager
def without_statement(stack: dict[str, Any], function: str, sid: str) -> Iterator[None]:
    """The function's role policy without statement `sid`, restored afterwards."""
    lam = aws_client("lambda", stack["aws_endpoint"], stack["region"])
    iam = aws_client("iam", stack["aws_endpoint"], stack["region"])
    role = lam.get_function_configuration(FunctionName=stack["functions"][function])["Role"]
    role_name = role.rsplit("/", 1)[-1]
    [policy_name] = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    original = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    document = original if isinstance(original, dict) else json.loads(original)
    reduced = {**document, "Statement": [s for s in document["Statement"] if s.get("Sid") != sid]}
    assert len(reduced["Statement"]) == len(document["Statement"]) - 1, f"no statement {sid}"
    iam.put_role_policy(
        RoleName=role_name, PolicyName=policy_name, PolicyDocument=json.dumps(reduced)
    )
    try:
        yield
    finally:
        iam.put_role_policy(
            RoleName=role_name, PolicyName=policy_name, PolicyDocument=json.dumps(document)
        )


def test_push_without_its_store_statement_cannot_persist(stack: dict[str, Any]) -> None:
    assert push(stack, {"userId": "ivy", "message": 1})["ok"] is True
    with without_statement(stack, "push", "StoreNotification"):
        denied = push(stack, {"userId": "ivy", "message": 2})
        assert denied["ok"] is False and denied["error"]["code"] == "INTERNAL_ERROR"
        # The statement is the only thing missing: a push that stores nothing still works.
        assert push(stack, {"userId": "ivy", "message": 3, "persist": False})["ok"] is True
    assert push(stack, {"userId": "ivy", "message": 4})["ok"] is True  # restored


def test_poll_without_its_read_statement_gets_an_internal_error(stack: dict[str, Any]) -> None:
    async def poll() -> dict[str, Any]:
        async with await connect(stack, "ivy") as ws:
            await ws.send(json.dumps({"action": "poll", "limit": 1}))
            return await recv(ws)

    assert run(poll())["type"] == "history"
    with without_statement(stack, "poll", "ReadHistory"):
        refused = run(poll())
        assert refused["type"] == "error" and refused["error"]["code"] == "INTERNAL_ERROR"
    assert run(poll())["type"] == "history"
