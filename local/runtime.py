"""Assemble the data planes for a deployed API: code, worker pools, the shared registries, the
WebSocket gateway with its @connections API, the Lambda Invoke API, listening sockets."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import shutil
import sys
import threading
import zipfile
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from local import controlplane, http_controlplane, iam, procs, rules, scheduler, sigv4, sqs_esm
from local.connections_api import ConnectionsApi
from local.httpapi import HttpApiGateway
from local.lambda_api import LambdaApi
from local.lambdas import FunctionPool, worker_env
from local.motoserver import FAKE_CREDENTIALS
from local.registries import BackgroundTasks, ConnectionRegistry, FunctionRegistry
from local.settings import Settings
from local.websocket import WebSocketGateway

# An emulator knob (like LOCAL_RULE_INTERVAL_S): replaces the SHARD_SIZE of the functions that
# read it, so a handful of real sockets make a job of several shards (tests, demo).
SHARD_SIZE_OVERRIDE_ENV = "LOCAL_SHARD_SIZE"

log = logging.getLogger("local.runtime")


class CodeError(RuntimeError):
    pass


@dataclass(frozen=True)
class CodeSource:
    """Where the deployed code is on disk: moto keeps uploaded zips but never hands them back
    (its GetFunction Code.Location is a placeholder), so the runtime uses the zip files Terraform
    uploaded, named in the Terraform state, and checks each against the CodeSha256 that Lambda
    recorded at upload: the runtime runs exactly the bytes that were deployed."""

    function_zips: dict[str, Path] = field(default_factory=dict)
    layer_zips: dict[str, Path] = field(default_factory=dict)  # layer version ARN -> zip


def _sha256_b64(path: Path) -> str:
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def _extract(zip_path: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(dest)
    return dest


def _elf_machine(path: Path) -> int | None:
    with path.open("rb") as fh:
        header = fh.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def _foreign_binary(tree: Path) -> Path | None:
    """A native extension in ``tree`` built for another CPU than this interpreter's, if any."""
    host = _elf_machine(Path(sys.executable).resolve())
    for lib in tree.rglob("*.so"):
        machine = _elf_machine(lib)
        if machine is not None and machine != host:
            return lib
    return None


@dataclass(frozen=True)
class Endpoints:
    websocket_url: str
    connections_url: str
    lambda_endpoint: str
    ws_port: int
    lambda_port: int
    http_api_urls: dict[str, str] = field(default_factory=dict)  # API id -> base URL


class Runtime:
    def __init__(
        self,
        *,
        aws_endpoint: str,
        region: str,
        code: CodeSource,
        work_dir: Path,
        settings: Settings,
        api_id: str | None = None,
        stage: str | None = None,
        max_workers: int = 8,
        assume_roles: bool = False,
    ) -> None:
        self.aws_endpoint = aws_endpoint
        self.assume_roles = assume_roles
        self.region = region
        self.code = code
        self.work_dir = work_dir
        self.settings = settings
        self.api_id = api_id
        self.stage_name = stage
        self.max_workers = max_workers
        self.api: controlplane.Api | None = None
        self.functions: dict[str, controlplane.FunctionSpec] = {}
        self.pools: dict[str, FunctionPool] = {}
        self.connections = ConnectionRegistry()
        self.tasks = BackgroundTasks()
        self.gateway: WebSocketGateway | None = None
        self.http_apis: list[http_controlplane.HttpApi] = []
        self.http_gateways: list[HttpApiGateway] = []
        self.scheduler: rules.Scheduler | None = None
        self.schedules: scheduler.ScheduleRunner | None = None
        self.pollers: sqs_esm.Pollers | None = None
        self._runners: list[web.AppRunner] = []
        self.layer_notes: dict[str, str] = {}

    def _prepare_code(self, spec: controlplane.FunctionSpec) -> tuple[Path, list[Path]]:
        zip_path = self.code.function_zips.get(spec.name)
        if zip_path is None or not zip_path.is_file():
            raise CodeError(f"no code on disk for function {spec.name} (looked for {zip_path})")
        if spec.code_sha256 and _sha256_b64(zip_path) != spec.code_sha256:
            raise CodeError(
                f"{zip_path} is not the code deployed to {spec.name} (CodeSha256 differs): re-apply"
            )
        root = self.work_dir / "code"
        task_root = _extract(zip_path, root / "functions" / spec.name)
        layers: list[Path] = []
        for arn in spec.layer_arns:
            layer_zip = self.code.layer_zips.get(arn)
            if layer_zip is None or not layer_zip.is_file():
                raise CodeError(f"no content on disk for layer {arn} of {spec.name}")
            safe = arn.split(":layer:")[-1].replace(":", "-")
            dest = _extract(layer_zip, root / "layers" / safe)
            foreign = _foreign_binary(dest)
            if foreign is not None:
                # Built for the Lambda CPU (e.g. arm64 wheels): cannot load here. The worker's
                # interpreter is the project venv, whose site-packages has the same packages
                # (requirements-dev.txt pins them) built for this machine.
                self.layer_notes[arn] = (
                    f"built for Lambda's CPU, not loadable here ({foreign.name}); the venv's "
                    "site-packages serves its packages (expected on x86 machines: not a problem)"
                )
                log.info("layer %s: %s", arn, self.layer_notes[arn])
                continue
            self.layer_notes[arn] = f"on sys.path from {dest / 'python'}"
            # Lambda puts /opt/python and /opt/python/lib/python3.x/site-packages on the path.
            layers.append(dest / "python")
            layers.extend(sorted((dest / "python" / "lib").glob("python3*/site-packages")))
        return task_root, layers

    async def start(self, host: str = "127.0.0.1") -> Endpoints:
        loop = asyncio.get_running_loop()
        self.api = await loop.run_in_executor(
            None,
            controlplane.read_api,
            self.aws_endpoint,
            self.region,
            self.api_id,
            self.stage_name,
        )
        self.functions = await loop.run_in_executor(
            None, controlplane.read_functions, self.aws_endpoint, self.region
        )
        self.http_apis = await loop.run_in_executor(
            None, http_controlplane.read_http_apis, self.aws_endpoint, self.region
        )
        log_dir = self.work_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        ws_port, lambda_port = procs.free_port(), procs.free_port()
        stage = self.api.stage.name
        connections_url = f"http://{host}:{ws_port}/{stage}"
        role_credentials: dict[str, dict[str, str]] = {}
        for spec in self.functions.values():
            task_root, layers = self._prepare_code(spec)
            env = worker_env(
                spec,
                aws_endpoint=self.aws_endpoint,
                region=self.region,
                connections_endpoint=connections_url,
            )
            if self.assume_roles and spec.role_arn:  # as Lambda does: the function's own role
                role_credentials[spec.name] = iam.role_credentials(
                    self.aws_endpoint, self.region, spec.role_arn, spec.name
                )
                env.update(role_credentials[spec.name])
            shard_size = os.environ.get(SHARD_SIZE_OVERRIDE_ENV, "").strip()
            if shard_size and "SHARD_SIZE" in env:  # an emulator knob: small jobs span shards
                env["SHARD_SIZE"] = shard_size
            self.pools[spec.name] = FunctionPool(
                spec,
                task_root=task_root,
                layer_paths=layers,
                env=env,
                log_path=log_dir / f"lambda-{spec.name}.log",
                max_workers=self.max_workers,
            )
        functions = FunctionRegistry(self.pools, self.api.account_id)
        self.gateway = WebSocketGateway(
            self.api, functions, self.connections, self.tasks, self.settings, log_dir
        )
        websocket_app = self.gateway.app()
        ConnectionsApi(stage, self.connections, self.settings, self.pools).add_routes(websocket_app)
        sites = [(websocket_app, ws_port), (LambdaApi(functions, self.tasks).app(), lambda_port)]
        http_api_urls: dict[str, str] = {}
        callers = self._callers()
        for http_api in self.http_apis:
            http_gateway = HttpApiGateway(http_api, functions, callers, log_dir)
            self.http_gateways.append(http_gateway)
            port = procs.free_port()
            sites.append((http_gateway.app(), port))
            http_api_urls[http_api.id] = f"http://{host}:{port}"
        for app, port in sites:
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            await web.TCPSite(runner, host, port, backlog=4096).start()
            self._runners.append(runner)
        await asyncio.gather(*(pool.prewarm() for pool in self.pools.values()))
        scheduled = await loop.run_in_executor(
            None, rules.read_rules, self.aws_endpoint, self.region, rules.interval_override()
        )
        self.scheduler = rules.Scheduler(scheduled, self.pools, self.region, self.api.account_id)
        self.scheduler.start()
        # EventBridge Scheduler's schedules (created at run time by push): local/scheduler.py.
        self.schedules = scheduler.ScheduleRunner(
            self.aws_endpoint, self.region, self.api.account_id, self.pools
        )
        self.schedules.start()
        # The SQS event source mappings poll with each function's role, as Lambda's pollers do.
        self.pollers = sqs_esm.Pollers(
            self.aws_endpoint, self.region, self.pools, role_credentials, self.max_workers
        )
        await self.pollers.start()
        return Endpoints(
            websocket_url=f"ws://{host}:{ws_port}/{stage}",
            connections_url=connections_url,
            lambda_endpoint=f"http://{host}:{lambda_port}",
            ws_port=ws_port,
            lambda_port=lambda_port,
            http_api_urls=http_api_urls,
        )

    def _callers(self) -> dict[str, tuple[str, sigv4.Caller]]:
        """Who may sign HTTP API requests: the stack's credentials, as the emulated account's
        identity (STS GetCallerIdentity says which)."""
        assert self.api is not None
        sts = controlplane.aws_client("sts", self.aws_endpoint, self.region)
        identity = sts.get_caller_identity()
        access_key = FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]
        caller = sigv4.Caller(
            access_key=access_key,
            account_id=identity["Account"],
            user_arn=identity["Arn"],
            user_id=identity["UserId"],
        )
        return {access_key: (FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], caller)}

    async def stop(self) -> None:
        if self.schedules is not None:
            await self.schedules.stop()
            self.schedules = None
        if self.pollers is not None:
            await self.pollers.stop()
            self.pollers = None
        if self.scheduler is not None:
            await self.scheduler.stop()
            self.scheduler = None
        if self.gateway is not None:
            await self.gateway.close()
        await self.tasks.drain()  # the $disconnects of the connections just closed
        if self.gateway is not None:
            self.gateway.close_log()
        for http_gateway in self.http_gateways:
            http_gateway.close()
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        await asyncio.gather(
            *(pool.close() for pool in self.pools.values()), return_exceptions=True
        )
        self.pools.clear()


class BackgroundRuntime:
    """A Runtime on its own event loop thread, for synchronous callers (demo, tests)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="local-runtime", daemon=True
        )
        self.endpoints: Endpoints | None = None

    def start(self, timeout: float = 60.0) -> Endpoints:
        self._thread.start()
        future: Future[Endpoints] = asyncio.run_coroutine_threadsafe(
            self.runtime.start(), self.loop
        )
        try:
            self.endpoints = future.result(timeout)
        except BaseException:
            self.stop()
            raise
        return self.endpoints

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self.runtime.stop(), self.loop).result(30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
