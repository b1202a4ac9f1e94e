"""The Lambda Invoke API (``POST /2015-03-31/functions/{name}/invocations``), what a backend's
``boto3.client("lambda").invoke`` calls.

What AWS does, reproduced: the function is named by name, full ARN or partial ARN; only
``$LATEST`` exists (404 ResourceNotFoundException otherwise, and for unknown functions);
``RequestResponse`` returns the payload with ``X-Amz-Function-Error: Unhandled`` for function
errors, ``Event`` queues (202) and retries while throttled, ``DryRun`` is 204; over 6 MB: 413;
a body that is not JSON: 400; beyond reserved concurrency: 429 TooManyRequestsException.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from aiohttp import web

from local.awsformat import aws_error
from local.lambdas import FunctionPool
from local.registries import BackgroundTasks, FunctionRegistry
from local.settings import MAX_INVOKE_PAYLOAD

log = logging.getLogger("local.lambda_api")


class LambdaApi:
    def __init__(self, functions: FunctionRegistry, tasks: BackgroundTasks) -> None:
        self.functions = functions
        self.tasks = tasks

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_INVOKE_PAYLOAD + 1024)
        app.router.add_post("/2015-03-31/functions/{function}/invocations", self.handle_invoke)
        return app

    async def handle_invoke(self, request: web.Request) -> web.StreamResponse:
        name = function_name(request.match_info["function"])
        qualifier = request.query.get("Qualifier", "$LATEST")
        pool = self.functions.get(name)
        if pool is None or qualifier != "$LATEST":
            return aws_error(
                404,
                "ResourceNotFoundException",
                f"Function not found: {request.match_info['function']}",
                message_key="Message",
            )
        raw = await request.read()
        if len(raw) > MAX_INVOKE_PAYLOAD:
            return aws_error(
                413,
                "RequestTooLargeException",
                "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
            )
        try:
            event = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            return aws_error(
                400,
                "InvalidRequestContentException",
                f"Could not parse request body into json: {exc}",
            )
        kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if kind == "DryRun":
            return web.Response(status=204)
        if kind == "Event":
            self.tasks.spawn(invoke_async(pool, event))
            return web.Response(status=202)
        if kind != "RequestResponse":
            return aws_error(
                400, "InvalidParameterValueException", f"Unsupported invocation type {kind}"
            )
        result = await pool.invoke(event)
        if result.throttled:
            return aws_error(
                429, "TooManyRequestsException", "Rate Exceeded.", extra=result.payload
            )
        headers = {"X-Amz-Executed-Version": "$LATEST", "Content-Type": "application/json"}
        if result.function_error:
            headers["X-Amz-Function-Error"] = "Unhandled"
        return web.Response(status=200, body=json.dumps(result.payload).encode(), headers=headers)


async def invoke_async(pool: FunctionPool, event: Any, patience_s: float = 60.0) -> None:
    """An asynchronous invocation: Lambda queues the event and retries it while throttled."""
    delay, deadline = 0.1, time.monotonic() + patience_s
    while (await pool.invoke(event)).throttled:
        if time.monotonic() > deadline:
            log.error(
                "async invocation of %s dropped: throttled for %ss", pool.spec.name, patience_s
            )
            return
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


def function_name(ref: str) -> str:
    """Invoke accepts a name, a full ARN or a partial ARN (``account:function:name``)."""
    if ref.startswith("arn:"):
        parts = ref.split(":")
        return parts[6] if len(parts) > 6 else ref
    if ":function:" in ref:
        return ref.split(":function:")[1].split(":")[0]
    return ref
