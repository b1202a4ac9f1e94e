"""``python -m local demo|up|token``: the system on this machine, without an AWS account.

demo   apply examples/complete to an emulated AWS, run a narrated scenario, tear down (exit 0
       only if every step behaved)
up     the same stack, left running in the foreground (Ctrl-C tears it down)
token  print a demo JWT for a user of the running stack (reads .local/stack.json)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

try:
    from local.settings import Settings
    from local.stack import REPO, Options, Stack
except ModuleNotFoundError as _missing:  # run outside the project's virtualenv
    sys.exit(
        f"python -m local: {_missing.name} is not installed for {sys.executable}. Use the "
        "project's virtualenv (`make setup` creates it), from the repository root:\n"
        f"  cd {Path(__file__).resolve().parents[1]} && .venv/bin/python -m local "
        + " ".join(sys.argv[1:])
    )


def _options(args: argparse.Namespace) -> Options:
    settings = Settings.from_env(
        idle_timeout_s=args.idle_timeout,
        max_duration_s=args.max_duration,
        connections_latency_ms=args.connections_latency_ms,
        deliver_abnormal_disconnects=False if args.drop_abnormal_disconnects else None,
    )
    return Options(
        state_dir=Path(args.state_dir).resolve(),
        example=Path(args.example).resolve(),
        settings=settings,
        max_workers=args.max_workers,
    )


def _positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("demo", "up"):
        p = sub.add_parser(name)
        p.add_argument(
            "--state-dir",
            default=str(REPO / ".local"),
            help="working directory for terraform, logs and stack.json",
        )
        p.add_argument("--example", default=str(REPO / "examples" / "complete"))
        p.add_argument(
            "--idle-timeout",
            type=_positive,
            default=None,
            help="seconds without a client frame before the gateway closes (600)",
        )
        p.add_argument(
            "--max-duration",
            type=_positive,
            default=None,
            help="maximum connection duration in seconds (7200)",
        )
        p.add_argument(
            "--connections-latency-ms",
            type=float,
            default=None,
            help="latency added to every @connections call "
            "(env LOCAL_CONNECTIONS_LATENCY_MS; default 0)",
        )
        p.add_argument(
            "--max-workers",
            type=int,
            default=8,
            help="worker processes per function at most (a machine limit)",
        )
        p.add_argument(
            "--drop-abnormal-disconnects",
            action="store_true",
            help="do not deliver $disconnect after an abrupt client drop (AWS does "
            "not guarantee it): exercises the 410 pruning path",
        )
        p.add_argument("-v", "--verbose", action="store_true")
    token = sub.add_parser("token")
    token.add_argument("user_id")
    token.add_argument("--ttl", type=int, default=3600)
    token.add_argument(
        "--stack",
        default=os.environ.get("LOCAL_STACK_FILE") or str(REPO / ".local" / "stack.json"),
        help="the running stack's description (default: $LOCAL_STACK_FILE or .local/stack.json)",
    )
    return parser


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


def _demo_token(stack: dict[str, Any], user_id: str) -> str | None:
    """A token the deployed authorizer accepts, or None when this stack cannot mint one (no
    authorizer, or one that does not verify HS256 tokens with a secret in SSM)."""
    from local import tokens

    try:
        return tokens.mint(stack, user_id)
    except ValueError:
        return None


def _usage(stack: dict[str, Any], token: str | None) -> str:
    url = stack["websocket_url"]
    lines = [
        "",
        f"The stack is up ({stack['routes']} on API {stack['api_id']}, stage {stack['stage']}).",
        "",
        f"  WebSocket URL     {url}",
        f"  @connections      {stack['connections_url']}",
        f"  Lambda endpoint   {stack['lambda_endpoint']}",
        f"  AWS (moto)        {stack['aws_endpoint']}   region {stack['region']}",
        f"  description       {Path(stack['logs_dir']).parent / 'stack.json'}",
        "",
    ]
    mode = stack["token"]["mode"]
    if token is not None:
        lines += [
            "Connect as alice (token valid 1 h; more with: "
            ".venv/bin/python -m local token <userId>):",
            f"  npx wscat -c '{url}?token={token}'",
            f"  .venv/bin/python -m websockets '{url}?token={token}'",
        ]
    elif mode == "none":
        lines += ["Connect (the API has no authorizer):", f"  npx wscat -c '{url}'"]
    else:
        lines += [
            f"Connect with a token your authorizer accepts (mode {mode}: this stack cannot "
            "mint one):",
            f"  npx wscat -c '{url}?token=<jwt>'",
        ]
    push = stack.get("push_function_name")
    if push:
        lines += [
            "",
            'Then send {"action":"poll"} from the client, '
            "and push from a backend with plain boto3:",
            "  .venv/bin/python - <<'PY'",
            "import boto3, json",
            f'lam = boto3.client("lambda", endpoint_url="{stack["lambda_endpoint"]}",',
            f'                   region_name="{stack["region"]}",',
            '                   aws_access_key_id="testing", aws_secret_access_key="testing")',
            'request = {"userId": "alice", "message": {"hello": "world"}}',
            f'out = lam.invoke(FunctionName="{push}", Payload=json.dumps(request))',
            'print(json.load(out["Payload"]))',
            "PY",
        ]
    http_url = stack.get("http_api_url")
    if http_url:
        region = stack["region"]
        lines += [
            "",
            "The management HTTP API (docs/openapi.yaml): SigV4-signed, like a backend would:",
            f"  curl -sS --aws-sigv4 'aws:amz:{region}:execute-api' --user testing:testing \\",
            "    -H 'content-type: application/json' \\",
            """    -d '{"userId": "alice", "message": {"hello": "http"}}' \\""",
            f"    '{http_url}/v1/notifications'",
            f"  curl -sS --aws-sigv4 'aws:amz:{region}:execute-api' --user testing:testing \\",
            f"    '{http_url}/v1/users/alice/connections'",
        ]
        if token is not None:
            lines += [
                "and as alice's app, with her JWT:",
                f"  curl -sS -H 'authorization: Bearer {token}' \\",
                f"    '{http_url}/v1/me/notifications?limit=5'",
            ]
    lines += [
        "",
        f"Logs: {stack['logs_dir']}/ (lambda-<function>.log, access.log, "
        "http-access-<api>.log, moto.log, terraform.log)",
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    if args.command == "token":
        from local import tokens

        try:
            stack = json.loads(Path(args.stack).read_text())
        except FileNotFoundError:
            print(
                f"no running stack ({args.stack} missing): start one with `make local`",
                file=sys.stderr,
            )
            return 2
        try:
            print(tokens.mint(stack, args.user_id, args.ttl))
        except ValueError as exc:
            print(f"python -m local token: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:  # botocore's connection errors: the stack is gone
            print(
                f"python -m local token: the stack in {args.stack} does not answer "
                f"({type(exc).__name__}); start one with `make local`",
                file=sys.stderr,
            )
            return 1
        return 0
    try:
        options = _options(args)
    except ValueError as exc:
        print(f"python -m local: {exc}", file=sys.stderr)
        return 2
    if args.command == "demo":
        from local import demo

        return demo.run(options)

    def say(text: str) -> None:
        print(f"[local] {text}", flush=True)

    # SIGTERM/SIGHUP during start-up must also tear down: turn them into KeyboardInterrupt.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    try:
        with Stack(options, say) as stack:
            print(_usage(stack.description, _demo_token(stack.description, "alice")), flush=True)
            _wait_for_signal()
            say("stopping")
        say("stopped: every process ended, every port is free")
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except (OSError, RuntimeError) as exc:  # start-up failures: say which part, never a trace
        say(f"ERROR: {type(exc).__name__}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
