"""The whole local stack: moto, ``terraform apply`` of the example, the runtime, stack.json."""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from local import iam, sns_mobile, terraform
from local.motoserver import FAKE_CREDENTIALS, MotoServer
from local.runtime import BackgroundRuntime, CodeSource, Runtime
from local.settings import Settings

REPO = Path(__file__).resolve().parent.parent


class StackError(RuntimeError):
    pass


@dataclass(frozen=True)
class Options:
    state_dir: Path = REPO / ".local"
    example: Path = REPO / "examples" / "complete"
    settings: Settings = field(default_factory=Settings)
    max_workers: int = 8


class Stack:
    """``with Stack(options, say) as stack: stack.description`` brings everything up and always
    takes everything down, in reverse order, also on errors and Ctrl-C."""

    def __init__(self, options: Options, say: Callable[[str], None] = print) -> None:
        self.options = options
        self.say = say
        self.moto: MotoServer | None = None
        self.runtime: BackgroundRuntime | None = None
        self.description: dict[str, Any] = {}
        self.platform_applications: dict[str, str] = {}
        self.timings: dict[str, float] = {}
        self._lock: IO[str] | None = None

    @property
    def stack_file(self) -> Path:
        return self.options.state_dir / "stack.json"

    def start(self) -> dict[str, Any]:
        state = self.options.state_dir
        logs = state / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self._lock = (state / ".lock").open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise StackError(
                f"another local stack is running from {state} (see "
                f"{self.stack_file}); stop it or pass --state-dir"
            ) from None
        self.stack_file.unlink(missing_ok=True)

        example = self.options.example
        shown = example.relative_to(REPO) if example.is_relative_to(REPO) else example
        # Seen once in many runs: the provider retried a CreateFunction that moto had already
        # answered 201, then looped on 409 "Function already exist". Every apply starts from an
        # empty moto and no state, so a second try against a fresh moto is clean.
        for attempt in (1, 2):
            t0 = time.monotonic()
            self.say("starting the emulated AWS control plane (moto)")
            self.moto = moto = MotoServer(logs / "moto.log")
            moto.start()
            self.timings["moto"] = time.monotonic() - t0

            t0 = time.monotonic()
            self.say(
                f"terraform apply {shown} against {moto.endpoint}: zips the functions and "
                f"builds the authorizer layer with pip, about a minute "
                f"(log: {logs / 'terraform.log'})"
            )
            # Mobile push: platform applications with fake credentials (local/sns_mobile.py),
            # passed to an example that declares mobile_platform_applications; in the Region
            # of examples/complete (its `region` variable).
            region = os.environ.get("TF_VAR_region") or "eu-west-1"  # noqa: SIM112 (Terraform's name)
            self.platform_applications = sns_mobile.create_platform_applications(
                moto.endpoint, region, "local"
            )
            try:
                applied = terraform.apply(
                    REPO,
                    example,
                    state / "tf",
                    moto.endpoint,
                    logs / "terraform.log",
                    {"mobile_platform_applications": self.platform_applications},
                )
                break
            except terraform.TerraformError as exc:
                if attempt == 2:
                    raise
                self.say(f"terraform apply failed ({str(exc).splitlines()[0]}); retrying once")
                moto.stop()
        self.timings["terraform"] = time.monotonic() - t0

        # From here on a function's AWS call succeeds only if its role's policy allows it.
        iam.enforce(moto.endpoint)
        self.say("IAM enforced: each function runs with its own role's credentials")
        t0 = time.monotonic()
        self.say("starting the runtime: WebSocket gateway, @connections, Lambda Invoke, workers")
        runtime = Runtime(
            aws_endpoint=moto.endpoint,
            region=applied.region,
            code=CodeSource(function_zips=applied.function_zips, layer_zips=applied.layer_zips),
            work_dir=state,
            settings=self.options.settings,
            max_workers=self.options.max_workers,
            assume_roles=True,
        )
        self.runtime = BackgroundRuntime(runtime)
        endpoints = self.runtime.start()
        self.timings["runtime"] = time.monotonic() - t0
        for arn, note in runtime.layer_notes.items():
            self.say(f"layer {arn.rsplit(':', 2)[-2]}: {note}")
        self.description = self._describe(runtime, endpoints, applied)
        tmp = self.stack_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.description, indent=2) + "\n")
        tmp.replace(self.stack_file)
        return self.description

    def _describe(
        self, runtime: Runtime, endpoints: Any, applied: terraform.Applied
    ) -> dict[str, Any]:
        assert runtime.api is not None
        outputs = applied.outputs
        names = dict(outputs.get("function_names") or {})
        # The token the API wants comes from its $connect authorizer, whatever the outputs say:
        # "none" without one, its AUTH_MODE when it is this project's authorizer, else "custom".
        connect = runtime.api.routes.get("$connect")
        authorizer_name = (
            connect.authorizer.function_name if connect and connect.authorizer else None
        )
        authorizer = runtime.functions.get(authorizer_name or "")
        env = authorizer.environment if authorizer else {}
        mode = "none" if authorizer_name is None else env.get("AUTH_MODE", "custom")
        default_alg = "RS256,ES256" if mode == "jwks" else "HS256"
        http_urls = dict(endpoints.http_api_urls)
        http_id = outputs.get("http_api_id") or (
            next(iter(http_urls)) if len(http_urls) == 1 else None
        )
        return {
            "websocket_url": endpoints.websocket_url,
            # The management HTTP API (null without one); every HTTP API of the configuration
            # is served, each on its own port.
            "http_api_url": http_urls.get(http_id or ""),
            "http_apis": {
                api.id: {"url": http_urls[api.id], "routes": sorted(r.key for r in api.routes)}
                for api in runtime.http_apis
            },
            "connections_url": endpoints.connections_url,
            # What each SNS platform endpoint (a phone) received: local/sns_mobile.py.
            "sns_deliveries_url": runtime.aws_endpoint + sns_mobile.PATH,
            "platform_applications": dict(self.platform_applications),
            "lambda_endpoint": endpoints.lambda_endpoint,
            "aws_endpoint": runtime.aws_endpoint,
            "region": runtime.region,
            "credentials": {k.lower(): v for k, v in FAKE_CREDENTIALS.items()},
            "api_id": runtime.api.id,
            "stage": runtime.api.stage.name,
            "routes": sorted(runtime.api.routes),
            "functions": names,
            "push_function_name": outputs.get("push_function_name") or names.get("push"),
            "tables": {
                "connections": outputs.get("connections_table_name"),
                "notifications": outputs.get("notifications_table_name"),
            },
            "token": {
                "mode": mode,
                "algorithm": env.get("JWT_ALGORITHMS", default_alg).split(",")[0].strip(),
                "ssm_parameter": env.get("JWT_SECRET_PARAMETER"),
                "issuer": env.get("JWT_ISSUER") or None,
                "audience": env.get("JWT_AUDIENCE") or None,
                "claims": "sub = the user id; exp required",
                "sources": "?token=<jwt> or Sec-WebSocket-Protocol: notify.v1, <jwt>",
                "mint": f"cd {REPO} && .venv/bin/python -m local token <userId>",
            },
            "settings": {
                "idle_timeout_s": self.options.settings.idle_timeout_s,
                "max_duration_s": self.options.settings.max_duration_s,
                "connections_latency_ms": self.options.settings.connections_latency_ms,
                "deliver_abnormal_disconnects": self.options.settings.deliver_abnormal_disconnects,
            },
            "lambda": {
                "python": sys.executable,
                "code": "the zips named in the Terraform state, checked against CodeSha256",
                "layers": dict(runtime.layer_notes),
                "substituted_env": ["AWS_ENDPOINT_URL", "CONNECTIONS_ENDPOINT"],
            },
            "scheduled_rules": {
                r.name: {"period_s": r.period_s, "targets": [t.function_name for t in r.targets]}
                for r in (runtime.scheduler.rules if runtime.scheduler else [])
            },
            "terraform_outputs": outputs,
            "logs_dir": str(self.options.state_dir / "logs"),
            "pid": os.getpid(),
        }

    def stop(self) -> None:
        if self._lock is not None:  # only the owner of the state directory removes its file
            self.stack_file.unlink(missing_ok=True)
        try:
            if self.runtime is not None:
                self.runtime.stop()
                self.runtime = None
        finally:
            if self.moto is not None:
                self.moto.stop()
                self.moto = None
            if self._lock is not None:
                self._lock.close()  # releases the flock
                self._lock = None

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
