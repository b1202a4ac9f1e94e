"""IAM enforced in the local stack: each function calls AWS as its own role, and moto authorizes
those calls against the role's policies, as AWS does.

- ``role_credentials``: the function's role assumed through moto's STS; the worker gets the
  temporary credentials instead of the operator's.
- ``enforce``: switches moto's IAM authorization on (``/moto-api/reset-auth``), once
  ``terraform apply`` is done.
- ``install_authorization`` (in the moto process, local/moto_main.py) makes that authorization
  meaningful for what the functions call. moto checks DynamoDB and SSM actions against the
  resource ``*`` only, which a least-privilege policy (a table or parameter ARN) never matches:
  it is given the ARN each request names. The operator's credentials (Terraform, the local
  tooling, the tests reading tables) stand for the account root, which IAM policies do not
  restrict, so they are not checked.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

from local.motoserver import FAKE_CREDENTIALS

OPERATOR_ACCESS_KEY = FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]


def role_credentials(aws_endpoint: str, region: str, role_arn: str, session: str) -> dict[str, str]:
    """The environment variables of a role session, as Lambda gives them to a function."""
    from local.controlplane import aws_client

    creds = aws_client("sts", aws_endpoint, region).assume_role(
        RoleArn=role_arn, RoleSessionName=session[:64]
    )["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }


def enforce(aws_endpoint: str) -> None:
    """From now on moto authorizes every request (but the operator's, see the module doc)."""
    request = urllib.request.Request(  # noqa: S310 - the loopback moto endpoint
        f"{aws_endpoint}/moto-api/reset-auth",
        data=b"0",
        method="POST",
        # Not a form: moto reads the raw body, which werkzeug empties for form content types.
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        if response.status != 200:
            raise RuntimeError(f"moto refused to enforce IAM: HTTP {response.status}")


def _access_key(headers: Any) -> str:
    authorization = str(headers.get("Authorization") or "")
    start = authorization.find("Credential=")
    if start < 0:
        return ""
    return authorization[start + len("Credential=") :].split("/", 1)[0]


def _dynamodb_resource(self: Any) -> str:
    body = self.body if isinstance(self.body, dict) else json.loads(self.body or "{}")
    table = body.get("TableName")
    items = body.get("RequestItems")
    if not table and isinstance(items, dict) and len(items) == 1:
        table = next(iter(items))  # BatchGetItem/BatchWriteItem name their one table here
    if not isinstance(table, str) or not table:
        return "*"
    arn = f"arn:{self.partition}:dynamodb:{self.region}:{self.current_account}:table/{table}"
    index = body.get("IndexName")
    return f"{arn}/index/{index}" if isinstance(index, str) and index else arn


def _ssm_resource(self: Any) -> str:
    body = json.loads(self.body or "{}") if isinstance(self.body, str | bytes) else {}
    names = body.get("Names") or [body.get("Name")]
    name = names[0] if names and isinstance(names[0], str) else None
    if not name:
        return "*"
    if name.startswith("arn:"):
        return name.split(":parameter/")[0] + ":parameter/" + name.split(":parameter/", 1)[-1]
    # A version or label selector ("name:previous") names the same parameter.
    name = name.split(":", 1)[0].lstrip("/")
    return f"arn:{self.partition}:ssm:{self.region}:{self.current_account}:parameter/{name}"


def _scheduler_resource(self: Any) -> str:
    """EventBridge Scheduler: the schedule ARN a request names (``/schedules/{Name}``, the group
    in the body or the ``groupName`` query parameter); ``*`` for ListSchedules and groups."""
    path = urllib.parse.urlsplit(str(self.uri)).path
    if not path.startswith("/schedules/"):
        return "*"
    name = urllib.parse.unquote(path.rsplit("/", 1)[-1])
    group = self._get_param("GroupName") or self._get_param("groupName")
    if not group:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(str(self.uri)).query)
        group = (query.get("groupName") or ["default"])[0]
    account = f"{self.partition}:scheduler:{self.region}:{self.current_account}"
    return f"arn:{account}:schedule/{group}/{name}"


# SQS authorizes a batch call with the single call's action (the Service Authorization
# Reference has no sqs:SendMessageBatch); moto would ask for the batch name.
_SQS_IAM_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def install_authorization() -> None:
    """Patch moto (in its own process) as the module doc explains. Idempotent."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.dynamodb.responses import DynamoHandler
    from moto.scheduler.responses import EventBridgeSchedulerResponse
    from moto.ssm.responses import SimpleSystemManagerResponse

    if getattr(ActionAuthenticatorMixin, "_local_iam_installed", False):
        return
    check = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authenticate_and_authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        if _access_key(self.headers) == OPERATOR_ACCESS_KEY:
            return
        enforced = ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT
        if enforced and getattr(self, "service_name", None) == "scheduler":
            # moto recomputes the SigV4 signature of Scheduler's DELETE/GET requests (query
            # string with groupName and clientToken) differently from botocore and refuses
            # them: for Scheduler only the permission is checked, not the signature.
            iam_request_cls(
                account_id=self.current_account,
                method=self.method,
                path=self.raw_path,
                data=self.data,
                body=self.raw_body,
                headers=self.headers,
                action=self._get_action(),
            ).check_action_permitted(resource)
            return
        action = self._get_action()
        if getattr(self, "service_name", "") == "sqs" and action in _SQS_IAM_ACTIONS:
            # One response object per request: the override lives as long as this check.
            self._get_action = lambda: _SQS_IAM_ACTIONS[action]
            try:
                check(self, iam_request_cls, resource)
            finally:
                del self._get_action
            return
        check(self, iam_request_cls, resource)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate_and_authorize  # type: ignore[method-assign]
    ActionAuthenticatorMixin._local_iam_installed = True  # type: ignore[attr-defined]
    DynamoHandler._determine_resource = _dynamodb_resource  # type: ignore[attr-defined]
    SimpleSystemManagerResponse._determine_resource = _ssm_resource  # type: ignore[attr-defined]
    EventBridgeSchedulerResponse._determine_resource = _scheduler_resource  # type: ignore[attr-defined]
