"""Entry point of the emulated AWS control plane: moto's server plus the few API Gateway v2
operations moto 5.2 lacks and that a WebSocket Terraform configuration needs.

Run as ``python -m local.moto_main -H 127.0.0.1 -p PORT`` (same arguments as ``moto_server``).
The additions live only in this process and are easy to drop once moto implements them:

- CreateDeployment / GetDeployment(s) / UpdateDeployment / DeleteDeployment: every WebSocket API
  needs an explicit deployment (``aws_apigatewayv2_deployment``), and the stage records it;
- UpdateStage: Terraform updates a stage in place when its deployment or settings change;
- GetAuthorizers / GetRouteResponses: the local runtime lists them to serve the API.
"""

from __future__ import annotations

import json
import random
import string
from datetime import UTC, datetime
from typing import Any

from moto.apigatewayv2 import models, responses, urls
from moto.apigatewayv2.exceptions import APIGatewayV2Error
from moto.core.common_types import TYPE_RESPONSE
from moto.server import main as moto_main

from local import faults, iam

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
    _deployments(api)[deployment_id] = deployment
    if params.get("stageName"):
        _stage(api, params["stageName"]).config["deploymentId"] = deployment_id
    return 201, {}, json.dumps(deployment)


def get_deployment(self: Any) -> TYPE_RESPONSE:
    api = _api(self, -3)
    deployment_id = self.path.split("/")[-1]
    if deployment_id not in _deployments(api):
        raise DeploymentNotFound(deployment_id)
    return 200, {}, json.dumps(_deployments(api)[deployment_id])


def get_deployments(self: Any) -> TYPE_RESPONSE:
    api = _api(self, -2)
    return 200, {}, json.dumps({"items": list(_deployments(api).values())})


def update_deployment(self: Any) -> TYPE_RESPONSE:
    api = _api(self, -3)
    deployment_id = self.path.split("/")[-1]
    if deployment_id not in _deployments(api):
        raise DeploymentNotFound(deployment_id)
    params = json.loads(self.body or "{}")
    if "description" in params:
        _deployments(api)[deployment_id]["description"] = params["description"]
    return 200, {}, json.dumps(_deployments(api)[deployment_id])


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


_stage_to_json = models.Stage.to_json


def stage_to_json(self: Any) -> dict[str, Any]:
    # moto keeps the whole request but does not report the deployment a stage points to.
    out = _stage_to_json(self)
    if self.config.get("deploymentId"):
        out["deploymentId"] = self.config["deploymentId"]
    return out


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
        get_authorizers,
        get_route_responses,
    ):
        setattr(Response, fn.__name__, fn)
    models.Stage.to_json = stage_to_json  # type: ignore[method-assign]


if __name__ == "__main__":
    install()
    iam.install_authorization()  # meaningful once the stack switches authorization on
    if (fault_file := faults.FaultFile.from_env()) is not None:
        faults.install_dynamodb_faults(fault_file)
    moto_main()
