"""Fault injection for the end-to-end tests (off unless ``LOCAL_FAULTS_FILE`` is set).

The tests write rules to a JSON file; the local stack's processes read it when it changes:

- the ``@connections`` endpoint (local/connections_api.py) answers chosen connections with
  throttling (429), server errors (5xx) or late (``delayMs``), or kills the workers of a
  function in the middle of its fan-out (``kill``: the function's name);
- the emulated DynamoDB (local/moto_main.py) fails chosen writes and queries with an AWS error
  code.

```json
{"connections": [{"connectionId": "abc=", "status": 429, "times": 2},
                 {"connectionId": "def=", "delayMs": 1500},
                 {"connectionId": "ghi=", "kill": "ws-notify-push", "times": 1}],
 "dynamodb": [{"operation": "PutItem", "table": "t", "userId": "bob",
               "code": "ProvisionedThroughputExceededException", "status": 400, "times": 50}]}
```

Every key of a rule but ``times`` is optional; without ``times`` a rule applies forever. A rule
matches when each selector it names matches; the first matching rule applies. Counters restart
whenever the file changes, so a test sets up its faults by writing the file, and removes them by
deleting it."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ENV = "LOCAL_FAULTS_FILE"
_ERROR_TYPES = {
    410: "GoneException",
    429: "LimitExceededException",
    500: "InternalServerErrorException",
}


class FaultFile:
    """The rules of one file, re-read when its modification time or size changes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._version: tuple[int, int] | None = None
        self._rules: dict[str, list[dict[str, Any]]] = {}
        self._used: dict[tuple[str, int], int] = {}

    @staticmethod
    def from_env() -> FaultFile | None:
        path = os.environ.get(ENV, "").strip()
        return FaultFile(path) if path else None

    def _reload(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._version, self._rules, self._used = None, {}, {}
            return
        version = (stat.st_mtime_ns, stat.st_size)
        if version != self._version:
            try:
                rules = json.loads(self.path.read_text() or "{}")
            except ValueError:
                return  # caught mid-write: keep the previous rules until the next request
            self._version, self._rules, self._used = version, rules, {}

    def take(self, section: str, **selectors: Any) -> dict[str, Any] | None:
        """The first rule of `section` matching every selector it names, counting one use."""
        with self._lock:
            self._reload()
            for index, rule in enumerate(self._rules.get(section, [])):
                if any(key in rule and rule[key] != value for key, value in selectors.items()):
                    continue
                used = self._used.get((section, index), 0)
                if "times" in rule and used >= int(rule["times"]):
                    continue
                self._used[(section, index)] = used + 1
                return dict(rule)
            return None

    async def connections(
        self, connection_id: str, functions: Mapping[str, Any]
    ) -> tuple[int, str, str] | None:
        """Apply the @connections rule of a connection: wait `delayMs`, kill the workers of
        function `kill`; returns the (status, AWS error type, message) to answer with, or None
        to serve the request."""
        rule = self.take("connections", connectionId=connection_id)
        return None if rule is None else await _apply_connection_rule(rule, functions)


async def _apply_connection_rule(
    rule: dict[str, Any], functions: Mapping[str, Any]
) -> tuple[int, str, str] | None:
    await asyncio.sleep(float(rule.get("delayMs", 0)) / 1000)
    if "kill" in rule:
        pool = functions.get(str(rule["kill"]))
        if pool is not None:
            pool.kill_busy()
        return 500, "InternalServerErrorException", "injected: the caller was killed"
    if "status" not in rule:
        return None
    status = int(rule["status"])
    error = str(rule.get("error") or _ERROR_TYPES.get(status, "InternalServerErrorException"))
    return status, error, "injected"


def install_dynamodb_faults(faults: FaultFile) -> None:
    """Make moto's DynamoDB fail the calls the rules name (PutItem, DeleteItem, UpdateItem,
    Query),
    as DynamoDB does: a JSON error whose `__type` botocore maps to the exception."""
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodb.responses import DynamoHandler

    def wrap(operation: str, original: Any) -> Any:
        def handler(self: Any) -> Any:
            # moto's DynamoDB handler has parsed the JSON body already.
            body = self.body if isinstance(self.body, dict) else json.loads(self.body or "{}")
            key = body.get("Item") or body.get("Key") or {}
            # A Query names its user in the key condition's value (":u" in wsnotify.store).
            user = key.get("userId") or (body.get("ExpressionAttributeValues") or {}).get(":u")
            rule = faults.take(
                "dynamodb",
                operation=operation,
                table=body.get("TableName"),
                userId=(user or {}).get("S"),
            )
            if rule is not None:
                error = JsonRESTError(
                    str(rule.get("code", "InternalServerError")), "injected by local/faults.py"
                )
                error.code = int(rule.get("status", 500))
                raise error
            return original(self)

        return handler

    for name, operation in (
        ("put_item", "PutItem"),
        ("delete_item", "DeleteItem"),
        ("update_item", "UpdateItem"),
        ("query", "Query"),
    ):
        setattr(DynamoHandler, name, wrap(operation, getattr(DynamoHandler, name)))
