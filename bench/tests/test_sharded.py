"""The sharded broadcast's arithmetic and output (the measurement itself: `make bench`), and
one small real run: 2,000 recipients, one and two workers, through moto and the counting sink."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import sharded
from bench.__main__ import parse_args


def run(workers: int, rate: float, cpu_s: float, wall_s: float = 10.0) -> dict[str, Any]:
    return {
        "workers": workers,
        "deliveries_per_s": rate,
        "cpu_us_per_delivery": 1e6 * cpu_s / (rate * wall_s),
        "cores_busy": cpu_s / wall_s,
        "duplicates": 0,
    }


def test_efficiency_is_measured_against_linear_scaling_of_one_worker() -> None:
    figures = sharded.summarize(
        20_000, 20.0, [run(1, 1000, 3), run(2, 1900, 6), run(4, 2400, 16), run(8, 2500, 18)]
    )
    assert [round(r["efficiency"], 3) for r in figures["runs"]] == [1.0, 0.95, 0.6, 0.312]
    text = sharded.table(figures)
    assert "efficiency" in text and "1,000,000 connections" in text


def test_projection_is_capped_by_the_account_quota_and_states_its_assumptions() -> None:
    projected = sharded.projection(20.0, 100.0)
    # 32 in flight / 20 ms = 1,600/s per worker; CPU: 0.29 vCPU / 100 us = 2,894/s.
    assert projected["per_worker_deliveries_per_s"] == pytest.approx(1600)
    rows = {(r["connections"], r["max_concurrency"]): r for r in projected["rows"]}
    assert rows[(100_000, 10)]["deliveries_per_s"] == 10_000  # 16,000 capped at 10,000
    assert rows[(1_000_000, 100)]["deliver_s"] == pytest.approx(100)
    assert rows[(1_000_000, 10)]["limited_by"] == "API Gateway account quota"
    slow = sharded.projection(20.0, 1000.0)  # CPU-bound workers: 289/s each
    assert slow["rows"][0]["deliveries_per_s"] == pytest.approx(10 * 289.4, rel=1e-2)
    assert slow["rows"][0]["limited_by"] == "worker concurrency"
    assert any("10,000 requests/s" in a for a in projected["assumptions"])


def test_sharded_arguments() -> None:
    args = parse_args(["--sharded-only", "--sharded-workers", "1,2", "--quick"])
    assert (args.sharded_only, args.sharded_workers, args.sharded_recipients) == (
        True,
        [1, 2],
        2000,
    )
    with pytest.raises(SystemExit):
        parse_args(["--sharded-recipients", "500"])


def test_a_small_real_run_delivers_every_recipient_once(tmp_path: Path) -> None:
    figures = sharded.measure(2000, [1, 2], 5.0, tmp_path, say=lambda _: None)
    for r in figures["runs"]:
        assert (r["state"], r["delivered"], r["posts"], r["duplicates"]) == ("done", 2000, 2000, 0)
        assert sum(r["shards_per_worker"]) == r["shards"] == 2
    sharded.plot(figures, tmp_path / "sharded.png")
    assert (tmp_path / "sharded.png").stat().st_size > 1000
