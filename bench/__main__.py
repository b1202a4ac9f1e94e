"""`python -m bench` (`make bench`): fan-out against the sequential baseline on the local stack.

Brings the local stack up (`python -m local up` in a child process) with a per-call latency on
its @connections endpoint, opens real WebSocket clients, measures, tears everything down, prints
the table and the target lines, and writes bench/results/fanout.json and fanout.png. Exits 0
unless something could not be measured (the targets are reported, not asserted)."""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench import capacity, coldstart, fanout, report, sharded, transports
from bench.aws import client
from bench.stack import REPO, LocalStack, StackError
from bench.swarm import Swarm, SwarmError
from local.tokens import Minter


def _say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


def _sizes(value: str) -> list[int]:
    try:
        sizes = sorted({int(v) for v in value.split(",") if v.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError("a comma list of whole numbers, e.g. 1,10,100") from None
    if not sizes or sizes[0] < 1 or sizes[-1] > 5000:
        raise argparse.ArgumentTypeError("sizes must be between 1 and 5000")
    return sizes


def _count(low: int, high: int) -> Any:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError("a whole number") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return number

    return parse


def _latency(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError("a number of milliseconds") from None
    if not 0 < number <= 1000:
        raise argparse.ArgumentTypeError("must be > 0 and <= 1000 ms")
    return number


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: N=1,10,100, 200 other connections, 1-2 runs, results "
        "under .local/bench/ (the committed results are left alone)",
    )
    p.add_argument("--sizes", type=_sizes, default=None, help="N values (default 1,10,100,1000)")
    p.add_argument(
        "--population",
        type=_count(0, 10000),
        default=None,
        help="other users' connections (default 2000)",
    )
    p.add_argument(
        "--latency-ms",
        type=_latency,
        default=20.0,
        help="latency of every @connections call (default 20)",
    )
    p.add_argument(
        "--runs",
        type=_count(1, 50),
        default=None,
        help="runs per N for the push function (default 5; median reported)",
    )
    p.add_argument(
        "--baseline-runs",
        type=_count(1, 50),
        default=None,
        help="runs per N for the baseline (default 3; 1 at N >= 1000 and broadcast, "
        "where one sequential run takes tens of seconds)",
    )
    p.add_argument(
        "--cold-repeats",
        type=_count(1, 50),
        default=None,
        help="fresh processes per function and floor (default 9)",
    )
    p.add_argument(
        "--results",
        type=Path,
        default=None,
        help="directory for fanout.json and fanout.png (default bench/results)",
    )
    p.add_argument(
        "--from-json",
        type=Path,
        default=None,
        help="measure nothing: redraw the table, targets and plot from a fanout.json",
    )
    p.add_argument(
        "--state-dir",
        type=Path,
        default=REPO / ".local" / "bench",
        help="the local stack's working directory",
    )
    p.add_argument(
        "--sharded-recipients",
        type=_count(1000, 100_000),
        default=None,
        help="recipients of the sharded broadcast (default 20000; 2000 with --quick)",
    )
    p.add_argument(
        "--sharded-workers",
        type=_sizes,
        default=[1, 2, 4, 8],
        help="concurrent shard workers to compare (default 1,2,4,8)",
    )
    p.add_argument(
        "--sharded-only",
        action="store_true",
        help="only the sharded broadcast (no local stack; sharded.json/.png/.md in --results)",
    )
    p.add_argument("--no-sharded", action="store_true", help="skip the sharded broadcast")
    args = p.parse_args(argv)
    quick = args.quick
    args.sharded_recipients = args.sharded_recipients or (2000 if quick else 20_000)
    args.sizes = args.sizes or ([1, 10, 100] if quick else [1, 10, 100, 1000])
    args.population = args.population if args.population is not None else (200 if quick else 2000)
    args.runs = args.runs or (2 if quick else 5)
    args.baseline_runs = args.baseline_runs or (1 if quick else 3)
    args.cold_repeats = args.cold_repeats or (2 if quick else 9)
    args.results = args.results or (
        args.state_dir / "results" if quick else REPO / "bench" / "results"
    )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json is not None:
        try:
            data = json.loads(args.from_json.read_text())
        except (OSError, ValueError) as exc:
            _say(f"ERROR: cannot read {args.from_json}: {exc}")
            return 2
        return _publish(data, args.from_json.parent)
    if args.sharded_only:
        return _sharded(args)
    started = time.monotonic()
    log = args.state_dir / "stack.log"
    _say(f"starting the local stack (@connections latency {args.latency_ms:g} ms; log {log})")
    try:
        with LocalStack(args.state_dir, args.latency_ms, log) as stack:
            _say(f"stack up in {stack.started_in_s:.0f} s")
            data = measure(args, stack.description)
            data["meta"]["stack_start_s"] = stack.started_in_s
            _say("stopping the local stack")
    except (StackError, SwarmError, fanout.MeasureError, coldstart.ColdStartError) as exc:
        _say(f"ERROR: could not measure: {exc}")
        return 1
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    data["meta"]["wall_s"] = time.monotonic() - started
    code = _publish(data, args.results)
    if not args.no_sharded:
        code = code or _sharded(args)
    _say(f"done in {time.monotonic() - started:.0f} s")
    return code


def _sharded(args: argparse.Namespace) -> int:
    """The sharded broadcast (bench/sharded.py): table, sharded.json/.md/.png in --results."""
    _say(
        f"sharded broadcast of {args.sharded_recipients} to a counting sink, workers "
        f"{','.join(map(str, args.sharded_workers))}"
    )
    try:
        figures = sharded.measure(
            args.sharded_recipients,
            args.sharded_workers,
            args.latency_ms,
            args.state_dir,
            say=_say,
        )
    except Exception as exc:  # report, do not hide: the other figures are already written
        _say(f"ERROR: could not measure the sharded broadcast: {type(exc).__name__}: {exc}")
        return 1
    figures["date"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    figures["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
    text = sharded.table(figures)
    print()
    print(text)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "sharded.json").write_text(json.dumps(figures, indent=2) + "\n")
    (args.results / "sharded.md").write_text("```\n" + text + "\n```\n")
    sharded.plot(figures, args.results / "sharded.png")
    print(f"\nsharded figures: {_shown(args.results / 'sharded.json')}")
    return 0


def _publish(data: dict[str, Any], results: Path) -> int:
    """Target lines, table, fanout.json/.md/.png in `results`."""
    try:
        data["targets"] = report.targets(data)
        text = report.table(data)
    except (KeyError, TypeError, ValueError) as exc:
        _say(f"ERROR: the figures are incomplete ({type(exc).__name__}: {exc})")
        return 2
    print()
    print(text)
    json_path = results / "fanout.json"
    png_path = results / "fanout.png"
    report.write_json(data, json_path)
    report.plot(data, png_path)
    (results / "fanout.md").write_text(report.markdown(data))
    print(f"\nraw figures: {_shown(json_path)}\nplot:        {_shown(png_path)}")
    return 0


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


def measure(args: argparse.Namespace, stack: dict[str, Any]) -> dict[str, Any]:
    lam = client(
        "lambda",
        stack,
        stack["lambda_endpoint"],
        read_timeout=300,
        retries={"total_max_attempts": 1},
    )
    ddb = client("dynamodb", stack)
    # The tutorial's client: boto3 defaults.
    mgmt = client("apigatewaymanagementapi", stack, stack["connections_url"])
    push_name = stack["push_function_name"]
    # The control plane (moto) describes the function; the runtime's endpoint only invokes.
    control = client("lambda", stack)
    env = control.get_function_configuration(FunctionName=push_name)["Environment"]["Variables"]
    concurrency = int(env.get("SEND_CONCURRENCY", "32"))
    table = env["CONNECTIONS_TABLE"]
    index = env.get("CONNECTIONS_USER_INDEX", "userId-index")
    # Tokens outlive the longest run (the local stack closes connections after 2 hours anyway).
    mint = functools.partial(Minter(stack).mint, ttl_seconds=7200)
    latency_s = args.latency_ms / 1000

    swarm = Swarm(stack["websocket_url"])
    swarm.start()
    try:
        targets = [(f"target-{n}", n) for n in args.sizes]
        clients = [(user, mint(user)) for user, n in targets for _ in range(n)]
        _say(f"connecting {len(clients)} target clients ({', '.join(u for u, _ in targets)})")
        _say(f"  done in {swarm.connect(clients):.0f} s")
        before_total = _count_rows(ddb, table)
        before = [{"user": u, **capacity.query_user(ddb, table, index, u)} for u, _ in targets]

        others = [(f"other-{i:05d}", mint(f"other-{i:05d}")) for i in range(args.population)]
        if others:
            _say(f"connecting {len(others)} other users' clients")
            _say(f"  done in {swarm.connect(others):.0f} s")
        total = _count_rows(ddb, table)
        if swarm.open_count != total:
            raise fanout.MeasureError(
                f"{swarm.open_count} clients open but {total} rows in {table}"
            )
        after = [{"user": u, **capacity.query_user(ddb, table, index, u)} for u, _ in targets]
        # How long the emulator takes for the function's lookup (median of 3): part of every
        # "ours" figure, where DynamoDB itself answers such a Query in milliseconds.
        lookup_s = {
            u: statistics.median(
                capacity.query_user(ddb, table, index, u)["seconds"] for _ in range(3)
            )
            for u, _ in targets
        }
        scans = [{"user": u, **capacity.scan_table(ddb, table, u)} for u, _ in targets]

        # One discarded call: the benchmark measures warm invocations (cold starts separately).
        fanout.ours(swarm, lam, push_name, {"userId": targets[0][0]}, targets[0][1])

        ours_series: list[dict[str, Any]] = []
        base_series: list[dict[str, Any]] = []
        for user, n in targets:
            s = fanout.Series("ours", user, n)
            for _ in range(args.runs):
                s.runs.append(fanout.ours(swarm, lam, push_name, {"userId": user}, n))
            b = fanout.Series("baseline", user, n)
            for _ in range(args.baseline_runs if n < 1000 else 1):
                b.runs.append(fanout.baseline(swarm, ddb, mgmt, table, user, n))
            _say(
                f"N={n}: ours {1000 * s.median_s:.1f} ms, baseline {1000 * b.median_s:.0f} ms, "
                f"bound {1000 * n * latency_s / concurrency:.1f} ms"
            )
            ours_series.append({**s.as_dict(), "lookup_s": lookup_s[user]})
            base_series.append(b.as_dict())

        s = fanout.Series("ours", "broadcast", total)
        for _ in range(min(args.runs, 3)):
            s.runs.append(fanout.ours(swarm, lam, push_name, {"broadcast": True}, total))
        _say(
            f"broadcast to {total}: ours {1000 * s.median_s:.0f} ms; the baseline takes "
            f"about {total * (latency_s + 0.002):.0f} s"
        )
        b = fanout.Series("baseline", "broadcast", total)
        b.runs.append(fanout.baseline(swarm, ddb, mgmt, table, None, total))
        _say(f"  baseline {b.median_s:.1f} s")
        ours_series.append(s.as_dict())
        base_series.append(b.as_dict())

        big_user, big_n = targets[-1]
        ids = [item["connectionId"]["S"] for item in _query_ids(ddb, table, index, big_user)]
        sweep = [] if args.quick else [16, 64, 128]
        _say(f"transport options at N={big_n} (fan-out core in a separate process)")
        transport_data = transports.compare(
            swarm, stack, ids, latency_s, concurrency, sweep, 1 if args.quick else 3
        )
        stray = swarm.stray_frames
        closed = swarm.closed_unexpectedly
    finally:
        swarm.close()

    # The stack handles one $disconnect per closed client: let it finish before measuring cold
    # starts, which would otherwise share the machine with thousands of disconnect invocations
    # (and query a table the emulator scans, unlike DynamoDB, in time growing with its rows).
    left = _drained(ddb, table, timeout_s=120)
    _say(f"cold starts (fresh processes; {left} connection rows left after the swarm closed)")
    functions_zip, layer_zip = _package(args.state_dir)
    cold = coldstart.measure(stack, functions_zip, mint, args.cold_repeats)

    return {
        "meta": {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": "make bench" if not args.quick else "python -m bench --quick",
            "argv": sys.argv[1:],
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}",
            "latency_ms": args.latency_ms,
            "send_concurrency": concurrency,
            "population": args.population,
            "sizes": args.sizes,
            "total_connections": total,
            "runs": args.runs,
            "baseline_runs": args.baseline_runs,
            "stray_frames": stray,
            "clients_closed_unexpectedly": closed,
            "rows_left_before_cold_starts": left,
        },
        "ours": ours_series,
        "baseline": base_series,
        "capacity": {
            "note": "moto_rcu: what moto returns for ReturnConsumedCapacity (a fixed figure per "
            "request); rules_rcu: DynamoDB's published sizing (0.5 RCU per 4 KB read, "
            "eventually consistent) applied to the items actually read",
            "before_total": before_total,
            "after_total": total,
            "before_population": before,
            "after_population": after,
            "baseline_scan": scans,
        },
        "transports": transport_data,
        "cold_start": cold,
        "package": {
            "functions_zip_bytes": functions_zip.stat().st_size,
            "layer_zip_bytes": layer_zip.stat().st_size if layer_zip else None,
        },
    }


def _count_rows(ddb: Any, table: str) -> int:
    total = 0
    kwargs: dict[str, Any] = {"TableName": table, "Select": "COUNT"}
    while True:
        page = ddb.scan(**kwargs)
        total += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _drained(ddb: Any, table: str, timeout_s: float) -> int:
    """Wait until the connections table is empty (or the timeout); the rows left."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = _count_rows(ddb, table)
        if left == 0 or time.monotonic() > deadline:
            return left
        time.sleep(1.0)


def _query_ids(ddb: Any, table: str, index: str, user: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in ddb.get_paginator("query").paginate(
        TableName=table,
        IndexName=index,
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": user}},
    ):
        items.extend(page["Items"])
    return items


def _package(state_dir: Path) -> tuple[Path, Path | None]:
    """The zips Terraform built for this stack (the module writes them under build/)."""
    found = sorted((state_dir / "tf").glob("build/*/functions.zip"))
    if not found:
        raise coldstart.ColdStartError(f"no functions.zip under {state_dir / 'tf' / 'build'}")
    layer = sorted((state_dir / "tf").glob("build/*/authorizer-layer.zip"))
    return found[0], layer[0] if layer else None


if __name__ == "__main__":
    sys.exit(main())
