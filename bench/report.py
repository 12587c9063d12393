"""Benchmark reports: the machine, a Markdown table, a latency plot, latency from commit."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def machine_info() -> dict[str, Any]:
    """Describe the machine and the software versions."""
    info: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
    with contextlib.suppress(OSError):
        info["cpu"] = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    with contextlib.suppress(OSError, StopIteration):
        info["mem_gib"] = round(int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024, 1)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        git = ["git", "-C", str(ROOT)]
        info["git_head"] = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "liveblog"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.split("\n")
        info["liveblog_uncommitted_files"] = len([line for line in dirty if line.strip()])
    from importlib.metadata import PackageNotFoundError, version

    for package in ("gunicorn", "gevent", "websockets", "flask-sock", "simple-websocket"):
        with contextlib.suppress(PackageNotFoundError):
            info[package] = version(package)
    return info


def table(results: list[dict[str, Any]]) -> str:
    """Return the Markdown table of the results, one line per server."""
    head = (
        "| server | workers | broker | readers | connected / failed | all connected (s) "
        "| idle RSS (MiB) | KiB/reader | p50 (ms) | p99 (ms) | max (ms) | missed | dup "
        "| CPU/delivery (µs) | deliveries/s | other load (%) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in results:
        if "error" in r:
            lines.append(f"| {r['server']} | error: {r['error']} |")
            continue
        lat = r["latency_ms"]
        dropped = f" (+{r['lost_connections']} dropped)" if r.get("lost_connections") else ""
        lines.append(
            f"| {r['server']} | {r.get('workers', 1)} | {r.get('broker', '-')} | {r['readers']} "
            f"| {r['connected']} / {r['failed']}{dropped} | {r['connect_all_s'] or 'n/a'} "
            f"| {r['rss_idle_mib']} | {r['rss_per_reader_kib']} | {lat['p50']} | {lat['p99']} "
            f"| {lat['max']} | {r['missed']} | {r['duplicated']} | {r['cpu_per_delivery_us']} "
            f"| {r['deliveries_per_s']} | {r.get('foreign_cpu_pct_server_cores')}"
            f" / {r.get('foreign_cpu_pct_client_cores')} |"
        )
    return head + "\n".join(lines) + "\n"


def plot(results: list[dict[str, Any]], path: Path, title: str) -> str | None:
    """Draw the latency CDF and per-update p50/max; return a note if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no plot"
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for index, r in enumerate(results):
        q = r.get("latency_quantiles_ms") or []
        if not q:
            continue
        color = f"C{index}"
        label = f"{r['server']} ({r.get('workers', 1)}w)"
        left.plot(q, [i / 10 for i in range(1, len(q) + 1)], color=color, label=label)
        seqs = [u["seq"] - r["per_update"][0]["seq"] + 1 for u in r["per_update"]]
        p50 = [u["p50_ms"] for u in r["per_update"]]
        right.plot(seqs, p50, color=color, marker="o", label=f"{label} p50")
        top = [u["max_ms"] for u in r["per_update"]]
        right.plot(seqs, top, color=color, ls="--", label=f"{label} max")
    left.set_xscale("log")
    left.set_xlabel("publish → receipt latency (ms, log)")
    left.set_ylabel("percent of deliveries")
    left.grid(True, which="both", alpha=0.3)
    left.legend()
    right.set_xlabel("update #")
    right.xaxis.get_major_locator().set_params(integer=True)
    right.set_ylabel("latency (ms)")
    right.grid(True, alpha=0.3)
    if right.lines:
        right.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def noise(result: dict[str, Any]) -> float:
    """Return how much other work shared the cores during a result's publish phase."""
    return (result.get("foreign_cpu_pct_server_cores") or 0.0) + (
        result.get("foreign_cpu_pct_client_cores") or 0.0
    )


def from_commit(
    got: list[dict[int, float]], committed: dict[int, float], q: float = 99
) -> dict[str, float | None]:
    """Return delivery latencies (ms) measured from each update's commit.

    `got` holds, per reader, the monotonic receipt time of each seq; `committed` the same
    clock's time of each seq's commit (the event's `at`). This leaves out the time an update
    waited in a busy app's queue: "first reader" is commit, publish and channel, "fan-out"
    is the spread from the first reader to the last.
    """
    from procs import ms, percentile

    lags = sorted(t - committed[s] for r in got for s, t in r.items() if s in committed)
    firsts, spreads = [], []
    for seq, at in committed.items():
        times = [r[seq] for r in got if seq in r]
        if times:
            firsts.append(min(times) - at)
            spreads.append(max(times) - min(times))
    firsts.sort()
    spreads.sort()
    return {
        "p50": ms(percentile(lags, 50)),
        "p99": ms(percentile(lags, q)),
        "max": ms(lags[-1] if lags else None),
        "first_reader_p99": ms(percentile(firsts, q)),
        "fanout_p99": ms(percentile(spreads, q)),
    }
