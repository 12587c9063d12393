"""Hostile mixed load: readers' delivery with and without every attack of issue 9 at once.

This is a harness, not a test. For each mode (`calm`, then `attack`) it starts a fresh
default `liveblog serve` (SQLite in a temp dir, in-process broker, pinned to CPU 0), adds a
story for the readers, a story for the bombs and a 1,000-post story, connects N readers
(bench/client.py, on CPU 1) and publishes M updates `--interval` apart. In `attack` mode
bench/attackers.py runs meanwhile as its own process (CPU 1, niced so the readers keep
their clock): bleach bombs and amplification through the API, a login flood against one
user, a 512 MiB WebSocket message, a WebSocket flood from one address, and the 1,000-post
page over and over. Throughout, /healthz is timed every 0.25 s and the server's memory
sampled. Latency is reported twice: from the moment the update was sent, and from its
commit (the event's `at`, read back from the events API), which leaves out the time an
update waited in the busy app's queue, split into commit → first reader and the fan-out
from the first reader to the last.

`--on-schedule` sends every update at its time without waiting for the previous answer
(each in its own task), and `--attack-args "--heavy 7"` adds clients posting, without
pause, the heaviest body the sanitizer's bounds let through: with both, the run is the
former bench/isolation.py's (readers' delivery while the app side sanitizes as hard as
it is allowed to):

    .venv/bin/python bench/attacks.py --readers 300 --updates 20 --on-schedule \\
        --attack-args "--heavy 7" --out bench/results/2026-12-06-isolation

    .venv/bin/python bench/attacks.py --readers 300 --updates 30 --interval 0.5 \\
        --out bench/results/2026-12-06-attacks

Outputs under --out: results.json and results.md. Everything it starts is stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from client import Fleet
from probes import commit_times, probe_health, sample_memory
from procs import http_json, log, ms, percentile, raise_open_file_limit
from report import from_commit, machine_info
from servers import LiveblogTarget, start_liveblog

BENCH = Path(__file__).resolve().parent
VICTIM_PASSWORD = "sandi-rahasia-yang-panjang"  # noqa: S105 - a throwaway bench account


def prepare(target: LiveblogTarget, args: argparse.Namespace) -> dict[str, str]:
    """Add the login victim, the bombs' story and the long story; return their names."""
    from liveblog.accounts import create_user
    from liveblog.db import Database

    db = Database(target.server.env["LIVEBLOG_DATABASE_URL"])
    try:
        create_user(db, "victim", "reporter", VICTIM_PASSWORD, "Korban Uji")
    finally:
        db.dispose()
    base = f"http://{target.host}:{target.port}"
    names = {"user": "victim"}
    for key, title in (("slug", "Bom (bench)"), ("long_slug", "Malam panjang (bench)")):
        slug = f"{key.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
        story = {"title": title, "language": "id", "timezone": "Asia/Jakarta", "slug": slug}
        status, answer = http_json(base, "POST", "/api/v1/stories", story, target.token)
        if status != 201:
            raise RuntimeError(f"could not create {slug}: {status} {answer!r}")
        names[key] = slug
    for n in range(args.long_posts):
        body = (
            f"<p>Pembaruan {n}: wawancara langsung di X tertunda dari 20.00 ke 20.45 ET; "
            "klaim serangan siber belum dapat diverifikasi secara independen.</p>"
        )
        path = f"/api/v1/stories/{names['long_slug']}/posts"
        status, answer = http_json(base, "POST", path, {"body": body}, target.token)
        if status != 201:
            raise RuntimeError(f"long story post {n}: {status} {answer!r}")
    return names


def start_attackers(
    target: LiveblogTarget, names: dict[str, str], args: argparse.Namespace
) -> subprocess.Popen[bytes]:
    """Start bench/attackers.py on the client CPUs, niced below the readers."""
    cmd = ["taskset", "-c", args.client_cpus] if args.client_cpus else []
    cmd += ["nice", "-n", "5", sys.executable, str(BENCH / "attackers.py")]
    cmd += ["--base", f"http://{target.host}:{target.port}", "--token", target.token]
    cmd += ["--slug", names["slug"], "--live-slug", target.slug]
    cmd += ["--long-slug", names["long_slug"], "--user", names["user"]]
    cmd += ["--duration", str(args.updates * args.interval + 2), *shlex.split(args.attack_args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


async def measure(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one mode against a fresh server; return its results."""
    workdir = Path(tempfile.mkdtemp(prefix=f"liveblog-attacks-{mode}-"))
    target = start_liveblog(args, workdir, uuid.uuid4().hex[:8])
    attackers: subprocess.Popen[bytes] | None = None
    try:
        names = prepare(target, args)
        workers = set(target.server.workers())
        # At most 40 readers per address, under the server's default cap of 50 per address.
        sources = max(4, -(-args.readers // 40))
        fleet = Fleet(target, [f"127.0.0.{2 + i}" for i in range(sources)])
        t0 = time.monotonic()
        await asyncio.gather(
            *(fleet.connect_one(i, t0, args.connect_timeout) for i in range(args.readers))
        )
        log(f"[{mode}] {len(fleet.readers)}/{args.readers} readers connected")
        stop = asyncio.Event()
        health: list[float] = []
        memory: list[int] = []
        probes = [
            asyncio.ensure_future(probe_health(target, stop, health)),
            asyncio.ensure_future(sample_memory(target, stop, memory)),
        ]
        await asyncio.sleep(1.0)
        rss_before = target.server.rss_kib()
        if mode == "attack":
            attackers = start_attackers(target, names, args)
            await asyncio.sleep(1.0)  # let the bombs land first
        seqs = list(range(1, args.updates + 1))
        alive = list(fleet.readers)
        fleet.expected = set(seqs)
        fleet.remaining = len(alive) * len(seqs)
        published: dict[int, float] = {}
        acked: dict[int, float] = {}  # when the write API answered: the app side's share
        statuses: Counter[int] = Counter()

        async def publish(seq: int) -> None:
            published[seq] = time.monotonic()
            try:
                statuses[await asyncio.wait_for(target.publish(seq), 60)] += 1
                acked[seq] = time.monotonic()
            except (TimeoutError, OSError):
                statuses[-1] += 1

        start = time.monotonic()
        sent = []
        for k, seq in enumerate(seqs):
            await asyncio.sleep(max(0.0, start + k * args.interval - time.monotonic()))
            if args.on_schedule:
                sent.append(asyncio.ensure_future(publish(seq)))
            else:
                await publish(seq)
        await asyncio.gather(*sent)
        try:
            await asyncio.wait_for(fleet.done.wait(), args.update_timeout)
        except TimeoutError:
            log(f"[{mode}] not every update arrived within {args.update_timeout}s")
        attack: dict[str, Any] = {}
        if attackers is not None:
            out, err = await asyncio.to_thread(attackers.communicate, timeout=300)
            attack = (
                json.loads(out or b"{}")
                if attackers.returncode == 0
                else {"error": err.decode(errors="replace")[-2000:]}
            )
        stop.set()
        await asyncio.gather(*probes)
        log_text = (workdir / "liveblog.log").read_text(errors="replace")
        latencies = sorted(r.got[s] - published[s] for r in alive for s in seqs if s in r.got)
        committed = await asyncio.to_thread(commit_times, target, len(seqs))
        health.sort()
        return {
            "mode": mode,
            "readers": args.readers,
            "connected": len(alive),
            "updates": len(seqs),
            "publish_statuses": {str(k): v for k, v in statuses.items()},
            "expected": len(alive) * len(seqs),
            "delivered": len(latencies),
            "missed": len(alive) * len(seqs) - len(latencies),
            "duplicated": sum(r.dups for r in alive),
            "dropped_readers": fleet.lost,
            "close_codes": {str(k): v for k, v in fleet.closes.items()},
            "latency_ms": {
                "p50": ms(percentile(latencies, 50)),
                "p99": ms(percentile(latencies, 99)),
                "max": ms(latencies[-1] if latencies else None),
            },
            "from_commit_ms": from_commit([r.got for r in alive], committed),
            "per_update": [
                {
                    "seq": s,
                    "publish_ack_ms": ms(acked[s] - published[s]) if s in acked else None,
                    "slowest_reader_ms": ms(
                        max((r.got[s] for r in alive if s in r.got), default=published[s])
                        - published[s]
                    ),
                }
                for s in seqs
            ],
            "healthz_ms": {
                "samples": len(health),
                "p50": ms(percentile(health, 50)),
                "p99": ms(percentile(health, 99)),
                "max": ms(health[-1] if health else None),
            },
            "rss_growth_mib": round((max(memory, default=0) - rss_before) / 1024, 1),
            "worker_timeouts": log_text.count("WORKER TIMEOUT"),
            "workers_replaced": len(workers - set(target.server.workers())),
            "attack": attack,
        }
    finally:
        if attackers is not None and attackers.poll() is None:
            attackers.kill()
            attackers.wait(10)
        target.close()
        shutil.rmtree(workdir, ignore_errors=True)


def table(results: list[dict[str, Any]]) -> str:
    """Return the Markdown table, one line per mode."""
    lines = [
        "| mode | readers | delivered / expected | missed | dup | dropped | p50 / p99 / max (ms) "
        "| from commit p50 / p99 / max (ms) | commit → first reader p99 | first → last p99 "
        "| /healthz p99 / max (ms) | RSS growth (MiB) | worker timeouts | 5xx | logins checked |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lat, health, com = r["latency_ms"], r["healthz_ms"], r["from_commit_ms"]
        answers = r["attack"].get("answers", {})
        checked = answers.get("login", {}).get("401", "-") if answers else "-"
        lines.append(
            f"| {r['mode']} | {r['connected']} | {r['delivered']} / {r['expected']} "
            f"| {r['missed']} | {r['duplicated']} | {r['dropped_readers']} "
            f"| {lat['p50']} / {lat['p99']} / {lat['max']} "
            f"| {com['p50']} / {com['p99']} / {com['max']} | {com['first_reader_p99']} "
            f"| {com['fanout_p99']} | {health['p99']} / {health['max']} "
            f"| {r['rss_growth_mib']} | {r['worker_timeouts']} "
            f"| {r['attack'].get('server_errors', '-')} | {checked} |"
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--readers", type=int, default=300)
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--long-posts", type=int, default=1000)
    parser.add_argument("--modes", default="calm,attack")
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--client-cpus", default="1")
    parser.add_argument("--connect-timeout", type=float, default=60.0)
    parser.add_argument("--update-timeout", type=float, default=60.0)
    parser.add_argument("--attack-args", default="", help="extra bench/attackers.py options")
    parser.add_argument(
        "--on-schedule",
        action="store_true",
        help="send each update at its time, without waiting for the previous one's answer",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    # What bench/servers.py's start_liveblog reads: the default single-process server.
    args.db, args.broker, args.workers, args.liveblog_src, args.body_bytes = (
        "sqlite",
        "",
        1,
        None,
        280,
    )
    args.ws_per_ip = 50  # the default cap: the WebSocket flood from one address meets it
    if (os.cpu_count() or 1) < 2 or not shutil.which("taskset"):
        args.server_cpus = args.client_cpus = None
    if args.out is None:
        args.out = BENCH / "results" / f"{datetime.now(UTC):%Y-%m-%d}-attacks"
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every mode; write results.json and results.md under --out."""
    args = parse_args(argv)
    raise_open_file_limit()
    if args.client_cpus:
        os.sched_setaffinity(0, {int(c) for c in args.client_cpus.split(",")})
    results = [asyncio.run(measure(mode, args)) for mode in args.modes.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info(),
        "results": results,
    }
    (args.out / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    md = table(results)
    (args.out / "results.md").write_text(md)
    print(md, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
