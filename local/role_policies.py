"""What an IAM role lets a service do, read from the emulated IAM (moto) and evaluated the way
IAM does for one action on one resource: an explicit Deny wins, else any Allow, else denied.

Used where AWS itself acts as a role and moto does not: EventBridge Scheduler assuming a
schedule's execution role to invoke its target and to write its dead-letter queue
(local/scheduler.py). Statement ``Condition`` blocks of the role's permission policies are not
evaluated (the module's policies have none on these actions); the trust policy's conditions on
``aws:SourceAccount`` and ``aws:SourceArn`` are."""

from __future__ import annotations

import fnmatch
import json
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from local.controlplane import aws_client

_CACHE_S = 1.0  # a test that edits a policy sees the change within a second


@dataclass(frozen=True)
class Role:
    trust: dict[str, Any]
    policies: tuple[dict[str, Any], ...]


def _document(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    text = urllib.parse.unquote(str(raw))
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


class RoleReader:
    """Reads roles from moto with the operator's credentials; caches each for a second."""

    def __init__(self, endpoint: str, region: str) -> None:
        self.iam = aws_client("iam", endpoint, region)
        self._cache: dict[str, tuple[float, Role | None]] = {}

    def role(self, role_arn: str) -> Role | None:
        cached = self._cache.get(role_arn)
        if cached and time.monotonic() - cached[0] < _CACHE_S:
            return cached[1]
        name = role_arn.rsplit("/", 1)[-1]
        try:
            trust = _document(self.iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"])
        except self.iam.exceptions.NoSuchEntityException:
            self._cache[role_arn] = (time.monotonic(), None)
            return None
        policies = [
            _document(self.iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"])
            for p in self.iam.list_role_policies(RoleName=name)["PolicyNames"]
        ]
        for attached in self.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            policy = self.iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
            version = self.iam.get_policy_version(
                PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"]
            )
            policies.append(_document(version["PolicyVersion"]["Document"]))
        role = Role(trust, tuple(policies))
        self._cache[role_arn] = (time.monotonic(), role)
        return role


def trusts(role: Role, service: str, source_account: str, source_arn: str) -> bool:
    """The trust policy lets `service` assume the role for this source (confused-deputy
    conditions StringEquals/StringLike aws:SourceAccount, ArnEquals/ArnLike aws:SourceArn)."""
    context = {"aws:sourceaccount": source_account, "aws:sourcearn": source_arn}
    for statement in _statements(role.trust):
        if statement.get("Effect") != "Allow":
            continue
        if "sts:AssumeRole" not in _listed(statement.get("Action")):
            continue
        principal = statement.get("Principal", {})
        services = _listed(principal.get("Service")) if isinstance(principal, dict) else []
        if service not in services:
            continue
        if all(
            any(fnmatch.fnmatchcase(context.get(key.lower(), ""), p) for p in _listed(wanted))
            for _operator, block in statement.get("Condition", {}).items()
            for key, wanted in block.items()
        ):
            return True
    return False


def allows(role: Role, action: str, resource: str) -> bool:
    """The role's permission policies allow `action` on `resource` (an explicit Deny wins)."""
    allowed = False
    for document in role.policies:
        for statement in _statements(document):
            actions = _listed(statement.get("Action"))
            resources = _listed(statement.get("Resource"))
            if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions):
                continue
            if not any(fnmatch.fnmatchcase(resource, r) for r in resources):
                continue
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed
