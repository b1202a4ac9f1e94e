"""Cold start of every function: a fresh process imports the handler from the deployed zip and
serves one invocation, against the floor measured in the same run: a bare process that imports
boto3 and creates the same clients. Both run `python -I -B` (no bytecode written, as on Lambda's
read-only /var/task) with the function's environment, and time themselves from their first
statement, so interpreter start-up (identical for both) is left out. The floor makes no AWS
call; the function's first call pays botocore's one-time request set-up, the floor does not.

poll's reply goes to a @connections stand-in in this process that answers at once, not to the
stack's gateway: the stack injects the fan-out measurements' network latency (20 ms by default)
into every @connections call, which is not start-up time, and no other function's cold path
calls @connections. The stand-in checks that the reply is the history frame."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# The boto3 clients each handler creates on its first invocation, with the configuration
# wsnotify.clients gives them (botocore.config.Config keyword arguments).
_DYNAMODB = {"max_pool_connections": 64, "retries": {"mode": "standard"}}
CLIENTS: dict[str, list[str]] = {
    "connect": ["dynamodb"],
    "disconnect": ["dynamodb"],
    "poll": ["dynamodb"],
    "push": ["dynamodb"],
    "authorizer": ["ssm"],
}
CLIENT_CONFIG: dict[str, dict[str, Any]] = {"dynamodb": _DYNAMODB, "ssm": {}}

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
spec = json.loads(sys.stdin.read())
if spec["mode"] == "function":
    import importlib, os
    sys.path.insert(0, spec["task_root"])
    os.chdir(spec["task_root"])
    module = importlib.import_module(spec["module"])
    t1 = time.perf_counter()

    class Context:
        aws_request_id = "cold-start"
        function_name = spec["module"]
        def get_remaining_time_in_millis(self):
            return 30000

    result = module.handler(spec["event"], Context())
    t2 = time.perf_counter()
else:
    import boto3
    from botocore.config import Config
    session = boto3.session.Session()
    clients = [session.client(n, config=Config(**c)) for n, c in spec["clients"]]
    t1 = t2 = time.perf_counter()
    result = None
print(json.dumps({"import_s": t1 - t0, "total_s": t2 - t0, "result": result}))
"""


class ColdStartError(RuntimeError):
    pass


class _Sink(BaseHTTPRequestHandler):
    """PostToConnection stand-in: records each frame by connection id, answers 200 at once."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        connection_id = self.path.rsplit("/@connections/", 1)[-1]
        self.server.frames[urllib.parse.unquote(connection_id)] = body  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def connections_sink(stage: str) -> Iterator[tuple[str, dict[str, bytes]]]:
    """A @connections endpoint URL (as CONNECTIONS_ENDPOINT) and the frames posted to it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    frames: dict[str, bytes] = {}
    server.frames = frames  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{stage}", frames
    finally:
        server.shutdown()
        server.server_close()


def _events(user: str, token: str, stack: dict[str, Any]) -> dict[str, Any]:
    api, stage, region = stack["api_id"], stack["stage"], stack["region"]
    domain = f"{api}.execute-api.{region}.amazonaws.com"
    now = int(time.time() * 1000)

    def context(route: str, kind: str, cid: str, **extra: Any) -> dict[str, Any]:
        return {
            "routeKey": route,
            "eventType": kind,
            "connectionId": cid,
            "domainName": domain,
            "stage": stage,
            "apiId": api,
            "requestId": uuid.uuid4().hex,
            "connectedAt": now,
            "requestTimeEpoch": now,
            "messageDirection": "IN",
            "identity": {"sourceIp": "127.0.0.1"},
            **extra,
        }

    cid = f"cold-{uuid.uuid4().hex[:12]}="
    authz = {"principalId": user, "userId": user}
    headers = {"Host": domain, "Sec-WebSocket-Version": "13"}
    return {
        "authorizer": {
            "type": "REQUEST",
            "methodArn": f"arn:aws:execute-api:{region}:123456789012:{api}/{stage}/$connect",
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {"token": token},
            "multiValueQueryStringParameters": {"token": [token]},
            "stageVariables": {},
            "requestContext": context("$connect", "CONNECT", cid),
        },
        "connect": {
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {"token": token},
            "multiValueQueryStringParameters": {"token": [token]},
            "requestContext": context("$connect", "CONNECT", cid, authorizer=authz),
            "isBase64Encoded": False,
        },
        "poll": {
            "requestContext": context("poll", "MESSAGE", cid, authorizer=authz, messageId="m1"),
            "body": json.dumps({"action": "poll", "limit": 5}),
            "isBase64Encoded": False,
        },
        "push": {"userId": user, "message": {"cold": "start"}, "persist": False},
        "disconnect": {
            "headers": {"Host": domain},
            "multiValueHeaders": {"Host": [domain]},
            "requestContext": context(
                "$disconnect",
                "DISCONNECT",
                cid,
                authorizer=authz,
                disconnectStatusCode=1000,
                disconnectReason="bye",
            ),
            "isBase64Encoded": False,
        },
    }


def _succeeded(role: str, result: Any) -> bool:
    if role == "authorizer":
        statements = (result or {}).get("policyDocument", {}).get("Statement", [])
        return any(s.get("Effect") == "Allow" for s in statements)
    if role == "push":
        return bool((result or {}).get("ok"))
    return isinstance(result, dict) and result.get("statusCode") == 200


def _run(spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    t0 = time.monotonic()
    proc = subprocess.run(  # noqa: S603 (our interpreter, our script)
        [sys.executable, "-I", "-B", "-c", _CHILD],
        input=json.dumps(spec).encode(),
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise ColdStartError(f"{spec['mode']} failed: {proc.stderr.decode()[-500:]}")
    last = proc.stdout.decode().strip().splitlines()[-1]
    out: dict[str, Any] = json.loads(last)
    out["process_s"] = wall
    return out


def measure(
    stack: dict[str, Any], functions_zip: Path, token_for: Any, repeats: int
) -> dict[str, Any]:
    """Median import, first invocation and process times per function, the floor's, and the
    median ratio of interleaved (function, floor) pairs."""
    lam_env = _function_environments(stack)
    results: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp,
        connections_sink(stack["stage"]) as (sink_url, frames),
    ):
        task_root = Path(tmp) / "task"
        with zipfile.ZipFile(functions_zip) as archive:
            archive.extractall(task_root)
        envs = {
            role: _child_env(
                stack, lam_env[stack["functions"][role]], stack["functions"][role], sink_url
            )
            for role in CLIENTS
        }

        def pair(role: str, floor_first: bool) -> tuple[dict[str, Any], dict[str, Any]]:
            user = f"cold-{uuid.uuid4().hex[:8]}"
            event = _events(user, token_for(user), stack)[role]
            spec = {"mode": "function", "task_root": str(task_root), "module": role}
            floor = {"mode": "floor", "clients": [(c, CLIENT_CONFIG[c]) for c in CLIENTS[role]]}
            floor_sample = _run(floor, envs[role]) if floor_first else None
            sample = _run({**spec, "event": event}, envs[role])
            if not _succeeded(role, sample["result"]):
                raise ColdStartError(f"{role}: first invocation failed: {sample['result']}")
            if role == "poll" and not _is_history(
                frames.pop(event["requestContext"]["connectionId"], b"")
            ):
                raise ColdStartError("poll: no history frame reached @connections")
            return sample, _run(floor, envs[role]) if floor_sample is None else floor_sample

        # One discarded pair first: the OS page cache then holds the files of every sample
        # alike, as it does on a Lambda host. Then rounds over all functions, so a burst of
        # background load spreads over them instead of hitting one function's samples; every
        # other round runs the floor first, so neither side always runs second.
        pair(next(iter(CLIENTS)), False)
        pairs: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {r: [] for r in CLIENTS}
        for round_number in range(repeats):
            for role in CLIENTS:
                pairs[role].append(pair(role, round_number % 2 == 1))
        for role, services in CLIENTS.items():
            samples = [p[0] for p in pairs[role]]
            floors = [p[1] for p in pairs[role]]
            results[role] = {
                "clients": services,
                "import_s": statistics.median(s["import_s"] for s in samples),
                "total_s": statistics.median(s["total_s"] for s in samples),
                "process_s": statistics.median(s["process_s"] for s in samples),
                "floor_s": statistics.median(f["total_s"] for f in floors),
                "min_total_s": min(s["total_s"] for s in samples),
                "min_floor_s": min(f["total_s"] for f in floors),
                "floor_process_s": statistics.median(f["process_s"] for f in floors),
                "samples": [s["total_s"] for s in samples],
                "floor_samples": [f["total_s"] for f in floors],
            }
            # Each function sample runs right next to its floor sample, so both see the same
            # background load: the median of the per-pair ratios is robust to a busy machine.
            results[role]["ratio"] = statistics.median(
                s["total_s"] / f["total_s"] for s, f in zip(samples, floors, strict=True)
            )
            results[role]["ratio_of_medians"] = results[role]["total_s"] / results[role]["floor_s"]
    return results


def _function_environments(stack: dict[str, Any]) -> dict[str, dict[str, str]]:
    from bench.aws import client

    lam = client("lambda", stack)
    out: dict[str, dict[str, str]] = {}
    for name in stack["functions"].values():
        config = lam.get_function_configuration(FunctionName=name)
        out[name] = dict(config.get("Environment", {}).get("Variables", {}))
    return out


def _is_history(frame: bytes) -> bool:
    try:
        return bool(json.loads(frame).get("type") == "history")
    except ValueError:
        return False


def _child_env(
    stack: dict[str, Any], variables: dict[str, str], name: str, connections_url: str
) -> dict[str, str]:
    creds = stack["credentials"]
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME", "TMPDIR")}
    env.update(variables)
    env.update(
        {
            # The same substitutions the local stack makes (local/README.md), but @connections
            # is the stand-in above.
            "AWS_ENDPOINT_URL": stack["aws_endpoint"],
            "CONNECTIONS_ENDPOINT": connections_url,
            "AWS_REGION": stack["region"],
            "AWS_DEFAULT_REGION": stack["region"],
            "AWS_ACCESS_KEY_ID": creds["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": creds["aws_secret_access_key"],
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "LOG_LEVEL": variables.get("LOG_LEVEL", "INFO"),
        }
    )
    return env
