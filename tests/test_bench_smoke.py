"""CI runs the benchmarks only as smoke tests: small, and judged on correctness.

The fan-out benchmark, 200 readers and 3 updates against a real `liveblog serve` and the
websockets reference, and the attack benchmark in its isolation form (updates on
schedule, heavy posts): each run must finish, write its results, and deliver every update
to every reader exactly once. Timings are not asserted (CI machines are shared and noisy);
see docs/PERFORMANCE.md for the real measurements.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_fanout_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "results"
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "fanout.py"),
        "--readers", "200",
        "--updates", "3",
        "--interval", "0.2",
        "--servers", "liveblog,reference",
        "--settle", "0.5",
        "--connect-timeout", "20",
        "--update-timeout", "10",
        "--total-timeout", "50",
        "--out", str(out),
    ]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=58, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr[-4000:]

    report = json.loads((out / "results.json").read_text())
    results = {r["server"]: r for r in report["results"]}
    assert set(results) == {"liveblog", "reference"}, report["results"]
    for name, r in results.items():
        assert "error" not in r, (name, r)
        assert r["connected"] == 200, (name, r["failures"])
        assert r["expected_deliveries"] == 600, name
        assert r["deliveries"] == 600, name
        assert r["missed"] == 0, name
        assert r["duplicated"] == 0, name
        assert r["corrupt"] == 0, name
    assert (out / "results.md").read_text().count("\n| ") == 2


def test_attacks_benchmark_isolation_smoke(tmp_path: Path) -> None:
    out = tmp_path / "results"
    attack = "--heavy 2 --bombs 1 --bomb-rounds 1 --logins 5 --ws-flood 10 --big-mib 1"
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "attacks.py"),
        "--readers", "20",
        "--updates", "4",
        "--interval", "0.3",
        "--long-posts", "5",
        "--modes", "attack",
        "--on-schedule",
        "--attack-args", f"{attack} --page-threads 1",
        "--connect-timeout", "30",
        "--update-timeout", "30",
        "--out", str(out),
    ]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=170, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr[-4000:]

    (result,) = json.loads((out / "results.json").read_text())["results"]
    assert result["connected"] == 20
    assert result["delivered"] == result["expected"] == 80
    assert result["missed"] == 0
    assert result["duplicated"] == 0
    assert result["from_commit_ms"]["p99"] is not None
    assert result["attack"]["answers"]["heavy_post"].get("201", 0) >= 1, result["attack"]
    assert result["worker_timeouts"] == 0
