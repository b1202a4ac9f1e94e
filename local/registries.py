"""The state the data planes share, explicit: live WebSocket connections, deployed functions,
and the background tasks that outlive a request.

- ``ConnectionRegistry``: what API Gateway knows about each open connection (the WebSocket data
  plane adds and removes them; ``@connections`` and the HTTP API read and close them).
- ``FunctionRegistry``: the warm worker pools by function name, and API Gateway's way of invoking
  one: only when the function's resource policy (``aws_lambda_permission``) grants
  ``apigateway.amazonaws.com`` ``lambda:InvokeFunction`` for the calling source ARN, else the
  caller sees a 500 as in AWS.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from local.awsformat import iam_glob, now_ms
from local.lambdas import FunctionPool, InvokeResult

log = logging.getLogger("local.registries")


@dataclass
class Connection:
    id: str
    connected_at: int
    source_ip: str
    user_agent: str | None
    authorizer: dict[str, Any] | None
    ws: web.WebSocketResponse | None = None
    last_active: float = field(default_factory=time.monotonic)
    last_active_ms: int = field(default_factory=now_ms)
    started: float = field(default_factory=time.monotonic)
    server_close: tuple[int, str] | None = None

    @property
    def open(self) -> bool:
        return self.ws is not None and not self.ws.closed

    async def close(self, code: int, reason: str) -> None:
        """A close initiated by API Gateway (limits, @connections DELETE, shutdown): the code
        and reason become the $disconnect event's."""
        if self.ws is None or self.ws.closed:
            return
        self.server_close = (code, reason)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code=code, message=reason.encode()), 5)


class ConnectionRegistry:
    def __init__(self) -> None:
        self._by_id: dict[str, Connection] = {}

    def add(self, conn: Connection) -> None:
        self._by_id[conn.id] = conn

    def remove(self, connection_id: str) -> None:
        self._by_id.pop(connection_id, None)

    def get(self, connection_id: str) -> Connection | None:
        return self._by_id.get(connection_id)

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)


class FunctionRegistry:
    def __init__(self, pools: dict[str, FunctionPool], account_id: str) -> None:
        self.pools = pools
        self.account_id = account_id

    def get(self, name: str) -> FunctionPool | None:
        return self.pools.get(name)

    async def invoke_from_api_gateway(
        self, function_name: str | None, event: Any, source_arn: str
    ) -> InvokeResult:
        """API Gateway invoking a function: only with a resource-policy grant for this source."""
        pool = self.pools.get(function_name or "")
        if pool is None:
            log.error("integration targets unknown function %s", function_name)
            return InvokeResult(
                {"errorMessage": f"Function not found: {function_name}"}, function_error=True
            )
        if not self._permitted(pool, source_arn):
            message = (
                f"API Gateway may not invoke {function_name}: no lambda permission for "
                f"apigateway.amazonaws.com matching {source_arn}"
            )
            log.error(message)
            return InvokeResult({"errorMessage": message}, function_error=True)
        return await pool.invoke(event)

    def _permitted(self, pool: FunctionPool, source_arn: str) -> bool:
        for principal, action, pattern in pool.spec.invoke_grants:
            if principal != "apigateway.amazonaws.com" or not fnmatch.fnmatchcase(
                "lambda:InvokeFunction", action
            ):
                continue
            if pattern is None or iam_glob(self._with_account(pattern)).fullmatch(source_arn):
                return True
        return False

    def _with_account(self, arn: str) -> str:
        # Applied with skip_requesting_account_id, the provider leaves the account out of the
        # execute-api ARNs it builds; AWS would have put the caller's account there.
        parts = arn.split(":", 5)
        if len(parts) == 6 and parts[4] == "":
            parts[4] = self.account_id
        return ":".join(parts)


class BackgroundTasks:
    """Work a request starts but does not wait for ($disconnect, async invokes, messages)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self._tasks and time.monotonic() < deadline:
            await asyncio.wait(set(self._tasks), timeout=deadline - time.monotonic())
