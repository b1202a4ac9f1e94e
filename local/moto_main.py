"""Entry point of the emulated AWS control plane: moto's server plus the few API Gateway v2
operations moto 5.2 lacks and that a WebSocket Terraform configuration needs.

Run as ``python -m local.moto_main -H 127.0.0.1 -p PORT`` (same arguments as ``moto_server``).
The additions live only in this process and are easy to drop once moto implements them:

- CreateDeployment / GetDeployment(s) / UpdateDeployment / DeleteDeployment: every WebSocket API
  needs an explicit deployment (``aws_apigatewayv2_deployment``), and the stage records it. Like
  API Gateway, a deployment is a **snapshot**: routes, integrations (with their responses) and
  authorizers as they were when it was made. The runtime serves the stage's deployment, not the
  live configuration, so a route removed after the snapshot stays served, as it does in AWS. The
  snapshot is returned as ``localSnapshot`` by GetDeployment (botocore drops it; the runtime reads
  the raw reply);
- UpdateStage: Terraform updates a stage in place when its deployment or settings change;
- GetAuthorizers / GetRouteResponses: the local runtime lists them to serve the API.

Lambda's DeadLetterConfig, which moto drops: CreateFunction / UpdateFunctionConfiguration store
it and GetFunction(Configuration) return it, as Lambda does (otherwise every plan of a function
with a dead-letter queue shows a change).

One robustness fix of the emulator itself: under load moto's HTTP server can drop a pooled
connection after answering CreateFunction 201; the SDK then re-sends the same request, gets 409
"Function already exist", and the aws provider retries that for its whole create timeout
(5 minutes). A byte-identical CreateFunction re-sent within 60 s gets the first answer again.

EventBridge Scheduler: CreateSchedule in a group that does not exist answers
ResourceNotFoundException, as Scheduler does (moto raises a raw KeyError, HTTP 500). Firing the
stored schedules is local/scheduler.py's job.
SQS event source mappings: moto invokes a mapped function itself when a message is sent (through
Docker, one record per invocation, failures and partial batch responses ignored). Here a queue
keeps its mappings (ListEventSourceMappings still returns them) but never invokes anything:
local/sqs_esm.py polls the queues as Lambda's pollers do. And GetQueueAttributes returns a
queue's RedrivePolicy as compact JSON, as SQS does (moto's has spaces after the separators, which
the aws provider reports as a change on every plan).

And one rule AWS enforces and moto does not: WebSocket CreateStage / UpdateStage with access
logging or an execution logging level other than OFF fail with ``BadRequestException``
"CloudWatch Logs role ARN must be set in account settings to enable logging" unless this account
and Region has an API Gateway CloudWatch role (``aws_api_gateway_account``, UpdateAccount).
HTTP API stages log through API Gateway's service-linked role and are not affected.
"""

from __future__ import annotations

import hashlib
import json
import random
import string
import threading
import time
from datetime import UTC, datetime
from typing import Any

from moto.apigateway.models import apigateway_backends
from moto.apigatewayv2 import models, responses, urls
from moto.apigatewayv2.exceptions import APIGatewayV2Error, BadRequestException
from moto.awslambda.models import LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.core.common_types import TYPE_RESPONSE
from moto.scheduler.exceptions import ScheduleGroupNotFound
from moto.scheduler.models import EventBridgeSchedulerBackend
from moto.server import main as moto_main

from local import faults, iam, sns_mobile

Response = responses.ApiGatewayV2Response


class DeploymentNotFound(APIGatewayV2Error):
    code = 404

    def __init__(self, deployment_id: str) -> None:
        super().__init__(
            "NotFoundException", f"Invalid Deployment identifier specified {deployment_id}"
        )


class StageNotFound(APIGatewayV2Error):
    code = 404

    def __init__(self, stage_name: str) -> None:
        super().__init__("NotFoundException", f"Invalid stage identifier specified {stage_name}")


LOGGING_ROLE_MISSING = "CloudWatch Logs role ARN must be set in account settings to enable logging"


def _check_logging_role(self: Any, api: Any, config: dict[str, Any]) -> None:
    """AWS refuses WebSocket (and REST) stage logging until the Region's API Gateway account
    setting has a role. HTTP APIs log through API Gateway's service-linked role instead."""
    if api.protocol_type != "WEBSOCKET":
        return
    levels = [(config.get("defaultRouteSettings") or {}).get("loggingLevel")]
    levels += [r.get("loggingLevel") for r in (config.get("routeSettings") or {}).values()]
    logging = bool((config.get("accessLogSettings") or {}).get("destinationArn")) or any(
        level not in (None, "OFF") for level in levels
    )
    if not logging:
        return
    account = apigateway_backends[self.current_account][self.region].get_account()
    if not account.cloudwatch_role_arn:
        raise BadRequestException(LOGGING_ROLE_MISSING)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _deployments(api: Any) -> dict[str, dict[str, Any]]:
    if not hasattr(api, "local_deployments"):
        api.local_deployments = {}
    return api.local_deployments  # type: ignore[no-any-return]


def _api(self: Any, index: int) -> Any:
    return self.apigatewayv2_backend.get_api(self.path.split("/")[index])


def _stage(api: Any, name: str) -> Any:
    if name not in api.stages:
        raise StageNotFound(name)
    return api.stages[name]


def create_deployment(self: Any) -> TYPE_RESPONSE:
    api = _api(self, -2)
    params = json.loads(self.body or "{}")
    deployment_id = "".join(random.choices(string.ascii_lowercase + string.digits, k=6))  # noqa: S311
    deployment = {
        "deploymentId": deployment_id,
        "deploymentStatus": "DEPLOYED",
        "createdDate": _now(),
        "autoDeployed": False,
    }
    if params.get("description"):
        deployment["description"] = params["description"]
    deployment["localSnapshot"] = _snapshot(api)
    _deployments(api)[deployment_id] = deployment
    if params.get("stageName"):
        _stage(api, params["stageName"]).config["deploymentId"] = deployment_id
    return 201, {}, json.dumps(_public(deployment))


def _snapshot(api: Any) -> dict[str, Any]:
    """What a deployment freezes: the API's routing configuration at this moment."""
    return {
        "authorizers": [a.to_json() for a in api.authorizers.values()],
        "integrations": [
            {**i.to_json(), "responses": [r.to_json() for r in i.responses.values()]}
            for i in api.integrations.values()
        ],
        "routes": [
            {**r.to_json(), "responses": [rr.to_json() for rr in r.route_responses.values()]}
            for r in api.routes.values()
        ],
    }


def _public(deployment: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in deployment.items() if k != "localSnapshot"}


def create_stage(self: Any) -> TYPE_RESPONSE:
    _check_logging_role(self, _api(self, -2), json.loads(self.body or "{}"))
    return _create_stage(self)


def get_deployment(self: Any) -> TYPE_RESPONSE:
    api = _api(self, -3)
    deployment_id = self.path.split("/")[-1]
    if deployment_id not in _deployments(api):
        raise DeploymentNotFound(deployment_id)
    return 200, {}, json.dumps(_deployments(api)[deployment_id])


def get_deployments(self: Any) -> TYPE_RESPONSE:
    api = _api(self, -2)
    return 200, {}, json.dumps({"items": [_public(d) for d in _deployments(api).values()]})


def update_deployment(self: Any) -> TYPE_RESPONSE:
    api = _api(self, -3)
    deployment_id = self.path.split("/")[-1]
    if deployment_id not in _deployments(api):
        raise DeploymentNotFound(deployment_id)
    params = json.loads(self.body or "{}")
    if "description" in params:
        _deployments(api)[deployment_id]["description"] = params["description"]
    return 200, {}, json.dumps(_public(_deployments(api)[deployment_id]))


def delete_deployment(self: Any) -> TYPE_RESPONSE:
    api = _api(self, -3)
    deployment_id = self.path.split("/")[-1]
    if _deployments(api).pop(deployment_id, None) is None:
        raise DeploymentNotFound(deployment_id)
    return 204, {}, ""


def update_stage(self: Any) -> TYPE_RESPONSE:
    api = _api(self, -3)
    name = self.path.split("/")[-1]
    old = _stage(api, name)
    config = {**old.config, **json.loads(self.body or "{}"), "stageName": name}
    _check_logging_role(self, api, config)
    stage = models.Stage(api, config)
    stage.created = old.created
    api.stages[name] = stage
    return 200, {}, json.dumps(stage.to_json())


def get_authorizers(self: Any) -> TYPE_RESPONSE:
    api = _api(self, -2)
    return 200, {}, json.dumps({"items": [a.to_json() for a in api.authorizers.values()]})


def get_route_responses(self: Any) -> TYPE_RESPONSE:
    api = _api(self, -4)
    route = api.get_route(self.path.split("/")[-2])
    items = [rr.to_json() for rr in route.route_responses.values()]
    return 200, {}, json.dumps({"items": items})


_create_function = LambdaResponse.create_function
_created: dict[str, tuple[float, TYPE_RESPONSE]] = {}  # request digest -> (when, first answer)
_created_lock = threading.Lock()
RESEND_WINDOW_S = 60.0


def create_function(self: Any) -> TYPE_RESPONSE:
    body = self.raw_body if isinstance(self.raw_body, bytes) else str(self.raw_body).encode()
    digest = hashlib.sha256(f"{self.current_account}/{self.region}/".encode() + body).hexdigest()
    with _created_lock:
        seen = _created.get(digest)
        if seen and time.monotonic() - seen[0] < RESEND_WINDOW_S:
            return seen[1]
        answer: TYPE_RESPONSE = _create_function(self)
        _created[digest] = (time.monotonic(), answer)
        return answer


_function_init = LambdaFunction.__init__
_function_configuration = LambdaFunction.get_configuration
_function_update = LambdaFunction.update_configuration


def function_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _function_init(self, *args, **kwargs)
    spec = kwargs["spec"] if "spec" in kwargs else args[1]  # (account_id, spec, region, ...)
    self.local_dead_letter_config = spec.get("DeadLetterConfig")


def function_configuration(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    config: dict[str, Any] = _function_configuration(self, *args, **kwargs)
    dead_letter = getattr(self, "local_dead_letter_config", None)
    if dead_letter and dead_letter.get("TargetArn"):
        config["DeadLetterConfig"] = dead_letter
    return config


def function_update(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
    if "DeadLetterConfig" in config_updates:
        self.local_dead_letter_config = config_updates["DeadLetterConfig"]
    return _function_update(self, config_updates)


_stage_to_json = models.Stage.to_json
_create_stage = Response.create_stage


_scheduler_create_schedule = EventBridgeSchedulerBackend.create_schedule


def stage_to_json(self: Any) -> dict[str, Any]:
    # moto keeps the whole request but does not report the deployment a stage points to.
    out = _stage_to_json(self)
    if self.config.get("deploymentId"):
        out["deploymentId"] = self.config["deploymentId"]
    return out


def scheduler_create_schedule(self: Any, *args: Any, **kwargs: Any) -> Any:
    """moto raises a raw KeyError (HTTP 500) for an unknown group; Scheduler answers
    ResourceNotFoundException."""
    group = kwargs.get("group_name") or "default"
    if group not in self.schedule_groups:
        raise ScheduleGroupNotFound(group)
    return _scheduler_create_schedule(self, *args, **kwargs)


def install() -> None:
    """Register the extra operations with moto's API Gateway v2 service (idempotent)."""
    api = "{0}/v2/apis/(?P<api_id>[^/]+)"
    urls.url_paths[api + "/deployments$"] = Response.dispatch
    urls.url_paths[api + "/deployments/(?P<deployment_id>[^/]+)$"] = Response.dispatch
    for fn in (
        create_deployment,
        get_deployment,
        get_deployments,
        update_deployment,
        delete_deployment,
        update_stage,
        create_stage,
        get_authorizers,
        get_route_responses,
    ):
        setattr(Response, fn.__name__, fn)
    models.Stage.to_json = stage_to_json  # type: ignore[method-assign]
    LambdaResponse.create_function = create_function  # type: ignore[method-assign]
    LambdaFunction.__init__ = function_init  # type: ignore[method-assign]
    LambdaFunction.get_configuration = function_configuration  # type: ignore[method-assign]
    LambdaFunction.update_configuration = function_update  # type: ignore[method-assign]
    EventBridgeSchedulerBackend.create_schedule = scheduler_create_schedule  # type: ignore[method-assign]


class _InertMappings(dict):  # type: ignore[type-arg]
    """A queue's event source mappings that SendMessage does not invoke (local/sqs_esm.py does);
    lookups still see them."""

    def items(self) -> Any:
        return iter(())


def _queue_init(original: Any) -> Any:
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.lambda_event_source_mappings = _InertMappings()

    return init


def _compact_redrive(original: Any) -> Any:
    def attributes(self: Any) -> dict[str, Any]:
        result: dict[str, Any] = original.fget(self)
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        return result

    return property(attributes)


def install_sqs() -> None:
    from moto.sqs.models import Queue

    Queue.__init__ = _queue_init(Queue.__init__)  # type: ignore[method-assign]
    Queue.attributes = _compact_redrive(Queue.attributes)  # type: ignore[method-assign]


if __name__ == "__main__":
    install()
    install_sqs()
    sns_mobile.install()  # GET /moto-api/local/sns-deliveries: what each phone received
    iam.install_authorization()  # meaningful once the stack switches authorization on
    if (fault_file := faults.FaultFile.from_env()) is not None:
        faults.install_dynamodb_faults(fault_file)
    moto_main()
