"""Lambda runtime inside one worker process (a warm container).

Started by local.lambdas with ``python -I`` (no PYTHONPATH, no script directory on sys.path) and
exactly the function's environment. Imports the handler once, then serves invocations one at a
time: one JSON line in on stdin, one JSON line out on the original stdout. The handler's own
prints and logs go to stderr, which the pool files as the function's log (like CloudWatch).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
import traceback
from typing import Any


class Context:
    """The attributes of the AWS Lambda Python context object that handlers use."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("LOCAL_FUNCTION_ARN", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def main() -> None:
    task_root, handler_name, *layer_paths = sys.argv[1:]
    sys.path[:0] = [task_root, *layer_paths]
    os.chdir(task_root)
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything printed goes to the function log, never into the protocol

    # Like the managed runtime: one handler on the root logger with the request id.
    request_filter = _RequestIdFilter()
    log_handler = logging.StreamHandler(sys.stderr)
    log_handler.addFilter(request_filter)
    log_handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    logging.Formatter.converter = time.gmtime
    logging.getLogger().addHandler(log_handler)
    logging.getLogger().setLevel(logging.WARNING)

    def send(message: dict[str, Any]) -> None:
        out.write(json.dumps(message, separators=(",", ":")) + "\n")
        out.flush()

    try:
        module_name, _, func_name = handler_name.rpartition(".")
        if not module_name:
            raise ValueError(f"Bad handler '{handler_name}': not enough values to unpack")
        handler = getattr(importlib.import_module(module_name.replace("/", ".")), func_name)
    except ImportError as exc:
        send({"type": "init_error", "error": _error(exc, "Runtime.ImportModuleError")})
        return
    except Exception as exc:  # init code failures are reported on the first invocation
        send(
            {
                "type": "init_error",
                "error": _error(
                    exc, "Runtime.HandlerNotFound" if isinstance(exc, AttributeError) else None
                ),
            }
        )
        return
    send({"type": "ready"})

    for line in sys.stdin:
        request = json.loads(line)
        request_filter.request_id = request["requestId"]
        context = Context(request["requestId"], request["deadlineMs"])
        try:
            result = handler(request["event"], context)
            try:
                send({"type": "result", "result": result})
            except (TypeError, ValueError) as exc:
                send({"type": "error", "error": _error(exc, "Runtime.MarshalError")})
        except Exception as exc:
            error = _error(exc)
            error["requestId"] = request["requestId"]
            print(f"[ERROR] {error['errorType']}: {error['errorMessage']}", file=sys.stderr)
            send({"type": "error", "error": error})
        sys.stderr.flush()


if __name__ == "__main__":
    main()
