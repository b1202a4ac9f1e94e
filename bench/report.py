"""The table, the PASS/FAIL target lines, the JSON of raw figures and the plot."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

SPEEDUP_TARGET = 20.0
BOUND_TARGET = 1.5
COLD_TARGET = 1.25
PACKAGE_TARGET_BYTES = 50 * 1024


def _ms(seconds: float | None) -> str:
    return (
        "-"
        if seconds is None
        else f"{1000 * seconds:,.0f}"
        if seconds >= 1
        else (f"{1000 * seconds:,.1f}")
    )


def fanout_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    latency = data["meta"]["latency_ms"] / 1000
    conc = data["meta"]["send_concurrency"]
    for ours, base in zip(data["ours"], data["baseline"], strict=True):
        n = ours["n"]
        bound = n * latency / conc
        rows.append(
            {
                "what": ours["target"],
                "n": n,
                "ours_s": ours["median_s"],
                "baseline_s": base["median_s"],
                "ratio": ours["median_s"] / base["median_s"],
                "speedup": base["median_s"] / ours["median_s"],
                "bound_s": bound,
                "vs_bound": ours["median_s"] / bound,
                "lookup_s": ours.get("lookup_s"),
                "deliveries_per_s": ours["deliveries_per_s"],
                "baseline_deliveries_per_s": base["deliveries_per_s"],
                "counts": ours["runs"][-1]["counts"],
                "ours_runs": len(ours["runs"]),
                "baseline_runs": len(base["runs"]),
            }
        )
    return rows


def targets(data: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    rows = [r for r in fanout_rows(data) if not r["what"].startswith("broadcast")]
    big = max(rows, key=lambda r: r["n"])
    out.append(
        {
            "target": f"N={big['n']}: >= {SPEEDUP_TARGET:.0f}x faster than the baseline",
            "pass": big["speedup"] >= SPEEDUP_TARGET,
            "measured": f"{big['speedup']:.1f}x",
        }
    )
    out.append(
        {
            "target": f"N={big['n']}: within {BOUND_TARGET}x of N x latency / concurrency",
            "pass": big["vs_bound"] <= BOUND_TARGET,
            "measured": f"{big['vs_bound']:.2f}x ({_ms(big['ours_s'])} ms vs "
            f"{_ms(big['bound_s'])} ms)",
        }
    )
    if big.get("lookup_s") is not None:
        fan = big["ours_s"] - big["lookup_s"]
        out.append(
            {
                "target": f"N={big['n']}, fan-out part (ours less the emulator's lookup time): "
                f"within {BOUND_TARGET}x of the bound",
                "pass": fan / big["bound_s"] <= BOUND_TARGET,
                "measured": f"{fan / big['bound_s']:.2f}x ({_ms(fan)} ms; moto's Query took "
                f"{_ms(big['lookup_s'])} ms)",
            }
        )
    cap = data["capacity"]
    same = all(
        a["rules_rcu"] == b["rules_rcu"] and a["moto_rcu"] == b["moto_rcu"]
        for a, b in zip(cap["before_population"], cap["after_population"], strict=True)
    )
    out.append(
        {
            "target": "lookup capacity independent of the other users' connections",
            "pass": same,
            "measured": "; ".join(
                f"{a['user']}: {a['rules_rcu']} -> {b['rules_rcu']} RCU"
                for a, b in zip(cap["before_population"], cap["after_population"], strict=True)
            ),
        }
    )
    # Rows the stack had not yet removed after the clients left: their disconnects were still
    # running during the cold starts (older results do not record it).
    busy = int(data["meta"].get("rows_left_before_cold_starts") or 0)
    caveat = f"; {busy} disconnects still pending when measured" if busy else ""
    for role, cold in data["cold_start"].items():
        out.append(
            {
                "target": f"cold start {role} within {COLD_TARGET}x of the floor",
                "pass": cold["ratio"] <= COLD_TARGET,
                "measured": f"{cold['ratio']:.3f}x (median of paired ratios; medians "
                f"{_ms(cold['total_s'])} ms vs {_ms(cold['floor_s'])} ms{caveat})",
            }
        )
    size = data["package"]["functions_zip_bytes"]
    out.append(
        {
            "target": "handler package under 50 KB zipped",
            "pass": size < PACKAGE_TARGET_BYTES,
            "measured": f"{size / 1024:.1f} KB",
        }
    )
    return out


def table(data: dict[str, Any]) -> str:
    meta = data["meta"]
    lines = [
        f"Fan-out: @connections latency {meta['latency_ms']:g} ms, SEND_CONCURRENCY "
        f"{meta['send_concurrency']}, {meta['population']} other users' connections "
        f"({meta['total_connections']} in the table); median of the runs",
        "",
        f"{'target':<16}{'N':>6}{'ours ms':>10}{'baseline ms':>13}{'ours/base':>11}"
        f"{'speedup':>9}{'bound ms':>10}{'ours/bound':>12}{'deliv/s':>10}{'lookup ms':>11}"
        "  counts",
    ]
    for r in fanout_rows(data):
        c = r["counts"]
        lines.append(
            f"{r['what']:<16}{r['n']:>6}{_ms(r['ours_s']):>10}{_ms(r['baseline_s']):>13}"
            f"{r['ratio']:>11.3f}{r['speedup']:>8.1f}x{_ms(r['bound_s']):>10}"
            f"{r['vs_bound']:>11.2f}x{r['deliveries_per_s']:>10,.0f}{_ms(r['lookup_s']):>11}  "
            f"{c['targeted']}/{c['delivered']}/{c['stale']}/{c['failed']}"
        )
    lines.append(
        "counts: the push function's targeted/delivered/stale/failed; lookup: moto's time for "
        "the function's GSI Query (part of 'ours')"
    )
    lines += ["", "Lookup read capacity (RCU; moto's report / DynamoDB sizing rules):"]
    cap = data["capacity"]
    for a, b, s in zip(
        cap["before_population"], cap["after_population"], cap["baseline_scan"], strict=True
    ):
        lines.append(
            f"  {a['user']:<14} Query: {a['moto_rcu']:g}/{a['rules_rcu']:g} with "
            f"{cap['before_total']} rows, {b['moto_rcu']:g}/{b['rules_rcu']:g} with "
            f"{cap['after_total']} rows;  baseline Scan: {s['moto_rcu']:g}/{s['rules_rcu']:g} "
            f"({s['scanned']} items read)"
        )
    tr = data.get("transports")
    if tr:
        lines += ["", f"Transport options (fan-out core, N={tr['options'][0]['n']}):"]
        for o in tr["options"] + [
            s for s in tr["concurrency_sweep"] if s["concurrency"] != meta["send_concurrency"]
        ]:
            lines.append(
                f"  {o['transport']:<20} concurrency {o['concurrency']:>4}: "
                f"{_ms(o['median_s']):>8} ms  ({o['vs_bound']:.2f}x bound "
                f"{_ms(o['bound_s'])} ms)  client CPU {o['cpu_ms_per_send']:.3f} ms/send"
            )
    lines += ["", "Cold start (fresh process: import + first invocation) vs floor:"]
    for role, cold in data["cold_start"].items():
        lines.append(
            f"  {role:<11} import {_ms(cold['import_s']):>6} ms  total {_ms(cold['total_s']):>6}"
            f" ms  floor {_ms(cold['floor_s']):>6} ms ({'+'.join(cold['clients'])})  "
            f"paired ratio {cold['ratio']:.2f} (min {_ms(cold['min_total_s'])} vs "
            f"{_ms(cold['min_floor_s'])} ms)"
        )
    pkg = data["package"]
    lines.append(
        f"Package: functions.zip {pkg['functions_zip_bytes'] / 1024:.1f} KB; authorizer layer "
        f"{pkg['layer_zip_bytes'] / 1024 / 1024:.1f} MB"
        if pkg.get("layer_zip_bytes")
        else f"Package: functions.zip {pkg['functions_zip_bytes'] / 1024:.1f} KB"
    )
    lines += ["", "Targets:"]
    for t in data["targets"]:
        lines.append(f"  {'PASS' if t['pass'] else 'FAIL'}  {t['target']}: {t['measured']}")
    return "\n".join(lines)


def write_json(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def plot(data: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = fanout_rows(data)
    targeted = [r for r in rows if not r["what"].startswith("broadcast")]
    broadcast = [r for r in rows if r["what"].startswith("broadcast")]
    meta = data["meta"]
    fig, ax = plt.subplots(figsize=(7.5, 5.2), dpi=120)
    ns = [r["n"] for r in targeted]
    ax.plot(
        ns,
        [r["baseline_s"] for r in targeted],
        "o-",
        color="#c0392b",
        label="baseline: Scan + sequential posts",
    )
    ax.plot(
        ns,
        [r["ours_s"] for r in targeted],
        "s-",
        color="#2471a3",
        label="ours: GSI Query + concurrent posts",
    )
    xs = sorted({*ns, *(r["n"] for r in broadcast)})
    latency_s = meta["latency_ms"] / 1000
    conc = meta["send_concurrency"]
    ax.plot(
        xs,
        [n * latency_s / conc for n in xs],
        "--",
        color="#7f8c8d",
        label=f"bound N x {meta['latency_ms']:g} ms / {conc}",
    )
    # Sends go out in rounds of at most `conc`: no fan-out beats ceil(N / conc) round trips.
    ax.plot(
        xs,
        [math.ceil(n / conc) * latency_s for n in xs],
        ":",
        color="#7f8c8d",
        label=f"ceil(N / {conc}) round trips",
    )
    for r in broadcast:
        ax.plot([r["n"]], [r["baseline_s"]], "^", color="#c0392b", markersize=9)
        ax.plot([r["n"]], [r["ours_s"]], "^", color="#2471a3", markersize=9)
        ax.annotate(
            f"broadcast ({r['n']})",
            (r["n"], r["ours_s"]),
            textcoords="offset points",
            xytext=(-40, -16),
            fontsize=8,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("connections reached (N)")
    ax.set_ylabel("backend call -> last client received (s)")
    ax.set_title(
        f"Fan-out time, @connections latency {meta['latency_ms']:g} ms, "
        f"{meta['total_connections']} connections in the table",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def markdown(data: dict[str, Any]) -> str:
    """The result tables as Markdown (bench/results/fanout.md; docs/benchmarks.md quotes it)."""
    meta = data["meta"]
    out = [
        f"Measured {meta['date']} on {meta['machine']} by `{meta['command']}`: @connections "
        f"latency {meta['latency_ms']:g} ms, SEND_CONCURRENCY {meta['send_concurrency']}, "
        f"{meta['total_connections']} live connections in the table "
        f"({meta['population']} of other users). Medians of {meta['runs']} runs (baseline: "
        f"{meta['baseline_runs']}, 1 at N = 1000 and for the broadcast).",
        "",
        "| target | N | ours ms | baseline ms | ours / baseline | speedup | bound ms "
        "| ours / bound | deliveries/s | moto lookup ms | targeted/delivered/stale/failed |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in fanout_rows(data):
        c = r["counts"]
        out.append(
            f"| {r['what']} | {r['n']} | {_ms(r['ours_s'])} | {_ms(r['baseline_s'])} | "
            f"{r['ratio']:.3f} | {r['speedup']:.1f}x | {_ms(r['bound_s'])} | "
            f"{r['vs_bound']:.2f}x | {r['deliveries_per_s']:,.0f} | {_ms(r['lookup_s'])} | "
            f"{c['targeted']}/{c['delivered']}/{c['stale']}/{c['failed']} |"
        )
    cap = data["capacity"]
    out += [
        "",
        "| lookup | moto RCU | RCU by DynamoDB's sizing rules | items read |",
        "|---|--:|--:|--:|",
    ]
    for a, b, s in zip(
        cap["before_population"], cap["after_population"], cap["baseline_scan"], strict=True
    ):
        out.append(
            f"| Query {a['user']}, {cap['before_total']} rows | {a['moto_rcu']:g} | "
            f"{a['rules_rcu']:g} | {a['items']} |"
        )
        out.append(
            f"| Query {b['user']}, {cap['after_total']} rows | {b['moto_rcu']:g} | "
            f"{b['rules_rcu']:g} | {b['items']} |"
        )
        out.append(
            f"| baseline Scan for {s['user']}, {cap['after_total']} rows | {s['moto_rcu']:g} | "
            f"{s['rules_rcu']:g} | {s['scanned']} |"
        )
    tr = data.get("transports")
    if tr:
        out += [
            "",
            "| transport | concurrency | N | fan-out ms | bound ms | vs bound "
            "| client CPU ms/send |",
            "|---|--:|--:|--:|--:|--:|--:|",
        ]
        rows = tr["options"] + [
            s for s in tr["concurrency_sweep"] if s["concurrency"] != meta["send_concurrency"]
        ]
        for o in rows:
            out.append(
                f"| {o['transport']} | {o['concurrency']} | {o['n']} | {_ms(o['median_s'])} | "
                f"{_ms(o['bound_s'])} | {o['vs_bound']:.2f}x | {o['cpu_ms_per_send']:.3f} |"
            )
    out += [
        "",
        "| function | import ms | import + first invocation ms | floor ms (clients) "
        "| paired ratio | min vs min ms |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for role, cold in data["cold_start"].items():
        out.append(
            f"| {role} | {_ms(cold['import_s'])} | {_ms(cold['total_s'])} | "
            f"{_ms(cold['floor_s'])} ({'+'.join(cold['clients'])}) | {cold['ratio']:.2f} | "
            f"{_ms(cold['min_total_s'])} vs {_ms(cold['min_floor_s'])} |"
        )
    pkg = data["package"]
    out += ["", f"functions.zip: {pkg['functions_zip_bytes'] / 1024:.1f} KB"]
    if pkg.get("layer_zip_bytes"):
        out[-1] += f"; authorizer layer: {pkg['layer_zip_bytes'] / 1024 / 1024:.1f} MB"
    out += ["", "| target | result | measured |", "|---|---|---|"]
    for t in data["targets"]:
        out.append(f"| {t['target']} | {'PASS' if t['pass'] else 'FAIL'} | {t['measured']} |")
    return "\n".join(out) + "\n"
