"""The benchmark's own logic: argument checks, capacity arithmetic, target lines, table and plot.
(The measurements need the local stack: `make bench`.)"""

from __future__ import annotations

import copy
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from bench import capacity, report
from bench.__main__ import parse_args
from bench.swarm import Swarm, SwarmError


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sizes", "1,x"], "comma list of whole numbers"),
        (["--sizes", "0,10"], "between 1 and 5000"),
        (["--latency-ms", "0"], "> 0 and <= 1000"),
        (["--latency-ms", "fast"], "number of milliseconds"),
        (["--population", "-1"], "between 0 and 10000"),
        (["--runs", "many"], "a whole number"),
    ],
)
def test_bad_arguments_are_refused_clearly(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_defaults_and_quick_mode(tmp_path: Path) -> None:
    full = parse_args([])
    assert (full.sizes, full.population, full.latency_ms) == ([1, 10, 100, 1000], 2000, 20.0)
    assert full.results == Path(__file__).resolve().parents[1] / "results"
    quick = parse_args(["--quick", "--state-dir", str(tmp_path)])
    assert quick.sizes == [1, 10, 100] and quick.population == 200
    assert quick.results == tmp_path / "results"  # a smoke run never overwrites the committed one
    assert parse_args(["--sizes", "100,1,10,1"]).sizes == [1, 10, 100]


def test_item_sizes_follow_dynamodb_rules() -> None:
    item = {
        "connectionId": {"S": "L0SM9cOFvHcCIhw="},  # 12 + 16
        "userId": {"S": "alice"},  # 6 + 5
        "connectedAt": {"N": "1731332746514"},  # 11 + (13 digits -> 7 + 1)
        "expiresAt": {"N": "1731340246"},  # 9 + (10 digits -> 5 + 1)
    }
    assert capacity.item_size(item) == 28 + 11 + 19 + 15
    assert capacity.attribute_size({"N": "100"}) == 2  # trailing zeros are not significant
    assert capacity.rcu(0) == 0.5 and capacity.rcu(4096) == 0.5 and capacity.rcu(4097) == 1.0


def _data() -> dict[str, Any]:
    def series(strategy: str, target: str, n: int, seconds: float) -> dict[str, Any]:
        counts = {"targeted": n, "delivered": n, "stale": 0, "failed": 0}
        return {
            "strategy": strategy,
            "target": target,
            "n": n,
            "median_s": seconds,
            "deliveries_per_s": n / seconds,
            "runs": [{"seconds": seconds, "returned_s": seconds, "received": n, "counts": counts}],
        }

    query = {"moto_rcu": 1.0, "rules_rcu": 5.5, "items": 1000, "pages": 1, "seconds": 0.2}
    cold = {
        "clients": ["dynamodb"],
        "import_s": 0.25,
        "total_s": 0.36,
        "floor_s": 0.30,
        "min_total_s": 0.33,
        "min_floor_s": 0.28,
        "ratio": 1.2,
    }
    return {
        "meta": {
            "date": "2024-11-11T13:45:46Z",
            "machine": "x86_64, 2 cores",
            "command": "make bench",
            "runs": 5,
            "baseline_runs": 3,
            "latency_ms": 20.0,
            "send_concurrency": 32,
            "population": 2000,
            "total_connections": 3001,
        },
        "ours": [
            {**series("ours", "target-1000", 1000, 0.9), "lookup_s": 0.2},
            series("ours", "broadcast", 3001, 3.0),
        ],
        "baseline": [
            series("baseline", "target-1000", 1000, 24.0),
            series("baseline", "broadcast", 3001, 70.0),
        ],
        "capacity": {
            "before_total": 1000,
            "after_total": 3001,
            "before_population": [{"user": "target-1000", **query}],
            "after_population": [{"user": "target-1000", **query}],
            "baseline_scan": [{"user": "target-1000", **query, "scanned": 3001}],
        },
        "cold_start": {"push": cold},
        "package": {"functions_zip_bytes": 27000, "layer_zip_bytes": None},
    }


def test_target_lines_pass_and_fail_on_the_figures() -> None:
    data = _data()
    lines = {t["target"].split(":")[0]: t for t in report.targets(data)}
    assert lines["N=1000"]["pass"]  # 24 / 0.9 = 26.7x
    assert [t["pass"] for t in report.targets(data)] == [True] * len(report.targets(data))

    slow = copy.deepcopy(data)
    slow["ours"][0]["median_s"] = 1.5  # 16x and 2.4x the 0.625 s bound
    slow["cold_start"]["push"]["ratio"] = 1.3
    slow["capacity"]["after_population"][0]["rules_rcu"] = 6.0
    slow["package"]["functions_zip_bytes"] = 60 * 1024
    failed = [t["target"] for t in report.targets(slow) if not t["pass"]]
    assert len(failed) == 6  # speedup, bound, fan-out part, capacity, cold start, package
    assert any("fan-out part" in t for t in failed)

    busy = copy.deepcopy(data)
    busy["meta"]["rows_left_before_cold_starts"] = 12
    (cold_line,) = [t for t in report.targets(busy) if t["target"].startswith("cold start")]
    assert "12 disconnects still pending" in cold_line["measured"]
    (quiet_line,) = [t for t in report.targets(data) if t["target"].startswith("cold start")]
    assert "pending" not in quiet_line["measured"]


def test_table_json_and_plot(tmp_path: Path) -> None:
    data = _data()
    data["targets"] = report.targets(data)
    text = report.table(data)
    assert "target-1000" in text and "26.7x" in text and "PASS" in text
    report.write_json(data, tmp_path / "r" / "fanout.json")
    assert json.loads((tmp_path / "r" / "fanout.json").read_text())["meta"]["latency_ms"] == 20
    assert "| target-1000 | 1000 | 900.0 | 24,000 |" in report.markdown(data)
    report.plot(data, tmp_path / "r" / "fanout.png")
    assert (tmp_path / "r" / "fanout.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unreachable_gateway_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    swarm = Swarm(f"ws://127.0.0.1:{port}/prod")
    swarm.start()
    try:
        with pytest.raises(SwarmError, match="2 of 2 connections failed"):
            swarm.connect([("alice", "t"), ("bob", "t")])
    finally:
        swarm.close()


def test_from_json_redraws_without_measuring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.__main__ import main

    assert main(["--from-json", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().out
    broken = tmp_path / "broken" / "fanout.json"
    broken.parent.mkdir()
    broken.write_text(json.dumps({"meta": {}}))
    assert main(["--from-json", str(broken)]) == 2
    assert "figures are incomplete" in capsys.readouterr().out
    good = tmp_path / "good" / "fanout.json"
    good.parent.mkdir()
    good.write_text(json.dumps(_data()))
    assert main(["--from-json", str(good)]) == 0
    assert "PASS  N=1000" in capsys.readouterr().out
    assert {p.name for p in good.parent.iterdir()} == {"fanout.json", "fanout.md", "fanout.png"}
    assert json.loads(good.read_text())["targets"]


def test_the_connections_stand_in_records_posts_by_connection_id() -> None:
    """poll's cold start replies through the function's own transport to this stand-in: the
    frame lands under the (URL-decoded) connection id, and only a history frame counts."""
    import http.client
    from urllib.parse import urlsplit

    from bench.coldstart import _is_history, connections_sink

    with connections_sink("prod") as (url, frames):
        parts = urlsplit(url)
        assert parts.path == "/prod"
        body = json.dumps({"type": "history", "id": "r", "data": {"items": [], "next": None}})
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
        conn.request("POST", "/prod/@connections/abc%3D", body=body.encode())
        assert conn.getresponse().status == 200
        conn.close()
    assert list(frames) == ["abc="] and _is_history(frames["abc="])
    assert not _is_history(b'{"type": "error"}') and not _is_history(b"not json")
