"""Fan-out benchmark: a connect storm of N WebSocket readers, then M updates to all of them.

This is a harness, not a test. In one run it measures, one after the other, a real
`liveblog serve` (SQLite in a temp dir, or a throwaway PostgreSQL database; in-process or
Redis broker) and `bench/reference.py` (asyncio + `websockets.broadcast()`), each pinned to
the server core, with a lean asyncio reader fleet pinned to the other core:

1. connect storm: N readers connect all at once (time until all connected, failures);
2. idle: RSS of the server processes (master + workers) and their idle CPU;
3. publish: M updates `--interval` seconds apart, through POST /api/v1/stories/<slug>/posts
   for liveblog and the reference's /control socket; the publish time is taken right
   before the request, readers match deliveries by seq and check the body marker;
4. report: latency p50/p99/max (publish to receipt), missed/duplicated deliveries, server
   CPU time per delivery, deliveries per second.

Outputs under --out: results.json, results.md (one table line per server), latency.png.

--lean swaps in a cheaper reader for servers faster than the default client: after the hello
its sockets are read through one epoll and only frame headers are parsed (the n-th text
frame is update n; only the last one is decoded to check its seq and marker).

    .venv/bin/python bench/fanout.py --readers 5000 --updates 20 --interval 0.3 \\
        --out bench/results/2026-11-25-N5000

Every phase is bounded (--connect-timeout, --update-timeout, --total-timeout); the servers
it starts are stopped by PID whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from client import Fleet, LeanReader, Progress
from procs import (
    cpu_busy,
    cpu_delta,
    foreign_pct,
    log,
    ms,
    percentile,
    raise_open_file_limit,
    rounded,
    wait_quiet,
)
from report import machine_info, noise, plot, table
from servers import Target, start_liveblog, start_reference

BENCH = Path(__file__).resolve().parent


async def measure(target: Target, args: argparse.Namespace, deadline: float) -> dict[str, Any]:
    """Run the storm, idle and publish phases against one target; return its results."""
    progress = Progress(target.name)
    result: dict[str, Any] = {"server": target.name, **target.info, "readers": args.readers}

    # Warm-up: the first writes pay for lazy imports and caches; measure the write CPU.
    before = target.server.cpu()
    for k in range(args.warmup):
        if k == 1:  # the first one pays for lazy imports: leave it out of the write cost
            before = target.server.cpu()
        status = await target.publish(target.first_seq)
        if status not in (200, 201):
            raise RuntimeError(f"{target.name}: warm-up publish answered {status}")
        target.first_seq += 1
    if args.warmup > 1:
        result["publish_cpu_ms_no_readers"] = round(
            cpu_delta(before, target.server.cpu()) / (args.warmup - 1) * 1000, 2
        )
    sources = [f"127.0.0.{2 + i}" for i in range(args.sources)]
    fleet = Fleet(target, sources, lean=args.lean)
    await asyncio.sleep(0.5)
    result["rss_base_mib"] = round(target.server.rss_kib() / 1024, 1)

    # 1. Connect storm: every reader at once.
    gc.collect()
    gc.freeze()
    cpu0 = target.server.cpu()
    busy0 = cpu_busy()
    t0 = time.monotonic()
    timeout = min(args.connect_timeout, deadline - t0)
    tasks = [asyncio.ensure_future(fleet.connect_one(i, t0, timeout)) for i in range(args.readers)]
    while True:
        finished = sum(task.done() for task in tasks)
        progress.show(
            f"connect storm {len(fleet.readers)}/{args.readers} "
            f"failed {sum(fleet.failures.values())}"
        )
        if finished == len(tasks):
            break
        await asyncio.sleep(0.1)
    storm_s = time.monotonic() - t0
    storm_cpu = cpu_delta(cpu0, target.server.cpu())
    storm_foreign = foreign_pct(busy0, cpu_busy(), args.server_cpus, storm_cpu, storm_s)
    connected = len(fleet.readers)
    progress.end(f"connected {connected}/{args.readers}, failed {dict(fleet.failures)}")
    times = sorted(fleet.connect_times)
    result.update(
        connected=connected,
        failed=args.readers - connected,
        failures=dict(fleet.failures),
        connect_all_s=round(times[-1], 3) if connected == args.readers else None,
        connect_phase_s=round(storm_s, 3),
        connect_p50_s=rounded(percentile(times, 50), 3),
        connect_p99_s=rounded(percentile(times, 99), 3),
        connect_cpu_ms_per_reader=round(storm_cpu / max(1, connected) * 1000, 3),
        connect_foreign_cpu_pct=storm_foreign,
    )

    # 2. Idle: let the storm settle, then memory and idle CPU.
    cpu1 = target.server.cpu()
    await asyncio.sleep(args.settle)
    idle_cpu = cpu_delta(cpu1, target.server.cpu())
    rss = target.server.rss_kib()
    result.update(
        rss_idle_mib=round(rss / 1024, 1),
        rss_per_reader_kib=round((rss - result["rss_base_mib"] * 1024) / max(1, connected), 2),
        idle_cpu_pct=round(idle_cpu / args.settle * 100, 1),
        server_pids=target.server.pids(),
    )

    # 3. Publish M updates, `interval` apart; readers count what arrives.
    # Every reader that got its hello is owed every update: one the server has dropped
    # since counts as missing them all.
    alive = list(fleet.readers)
    dropped_before = sum(r.closed for r in alive)
    seqs = list(range(target.first_seq, target.first_seq + args.updates))
    fleet.expected = set(seqs)
    fleet.lean_updates, fleet.lean_last_seq = len(seqs), seqs[-1] if seqs else 0
    fleet_total = len(alive) * len(seqs)
    fleet.remaining = fleet_total - dropped_before * len(seqs)
    if fleet.remaining <= 0:
        fleet.done.set()
    published: dict[int, float] = {}
    acked: dict[int, float] = {}
    statuses: dict[int, int] = {}
    if args.lean:
        fleet.go_raw()
    gc.disable()
    client_cpu0 = time.process_time()
    client_times0 = os.times()
    cpu2 = target.server.cpu()
    busy2 = cpu_busy()
    start = time.monotonic()
    try:
        for k, seq in enumerate(seqs):
            delay = start + k * args.interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.monotonic() > deadline:
                raise TimeoutError("total run timeout while publishing")
            published[seq] = time.monotonic()
            try:
                statuses[seq] = await asyncio.wait_for(target.publish(seq), args.update_timeout)
                acked[seq] = time.monotonic()
            except (TimeoutError, OSError) as exc:
                statuses[seq] = -1  # counted under publish_statuses; its deliveries are missed
                log(f"[{target.name}] publish {seq} failed: {exc!r}")
            got = fleet.delivered()
            progress.show(f"published {k + 1}/{len(seqs)}, deliveries {got}/{fleet_total}")
        wait = min(args.update_timeout, max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fleet.done.wait(), wait)
        end = time.monotonic()
        cpu3 = target.server.cpu()
        server_cpu = cpu_delta(cpu2, cpu3)
        busy3 = cpu_busy()
        client_cpu = time.process_time() - client_cpu0
        client_times = os.times()
    finally:
        fleet.stop_raw()
        gc.enable()
        gc.unfreeze()
    progress.end(f"published {len(published)}, deliveries {fleet.delivered()}")

    # 4. Tally.
    latencies: list[float] = []
    last_receipt = start
    missed = duplicated = 0
    per_update: dict[int, list[float]] = {seq: [] for seq in seqs}
    for reader in alive:
        if isinstance(reader, LeanReader):  # the n-th frame is update n, at its buffer's time
            missed += max(0, len(seqs) - reader.n)
            duplicated += max(0, reader.n - len(seqs))
            done = 0
            for upto, at in reader.marks:
                for seq in seqs[done : min(upto, len(seqs))]:
                    lat = at - published[seq]
                    latencies.append(lat)
                    per_update[seq].append(lat)
                    last_receipt = max(last_receipt, at)
                done = upto
            continue
        duplicated += reader.dups
        for seq in seqs:
            at = reader.got.get(seq)
            if at is None:
                missed += 1
                continue
            lat = at - published[seq]
            latencies.append(lat)
            per_update[seq].append(lat)
            last_receipt = max(last_receipt, at)
    latencies.sort()
    # Fan-out spread: each delivery's lag behind the first reader to get the same update,
    # which leaves out the publish path (HTTP + database for liveblog).
    spread = sorted(
        lat - min(per_update[seq]) for seq in seqs if per_update[seq] for lat in per_update[seq]
    )
    deliveries = len(latencies)
    span = max(1e-9, last_receipt - start)
    result.update(
        updates=len(seqs),
        expected_deliveries=len(alive) * len(seqs),
        deliveries=deliveries,
        missed=missed,
        duplicated=duplicated,
        corrupt=fleet.corrupt,
        unexpected=fleet.unexpected,
        lost_connections=fleet.lost,
        dropped_before_publish=dropped_before,
        close_codes={str(k): v for k, v in fleet.closes.items()},
        publish_statuses=dict(Counter(statuses.values())),
        frame_bytes=fleet.frame_bytes,
        latency_ms={
            "p50": ms(percentile(latencies, 50)),
            "p90": ms(percentile(latencies, 90)),
            "p99": ms(percentile(latencies, 99)),
            "max": ms(latencies[-1] if latencies else None),
            "mean": ms(sum(latencies) / deliveries if deliveries else None),
        },
        spread_ms={
            "p50": ms(percentile(spread, 50)),
            "p99": ms(percentile(spread, 99)),
            "max": ms(spread[-1] if spread else None),
        },
        publish_ack_ms={
            "p50": ms(percentile(sorted(acked[s] - published[s] for s in acked), 50)),
            "max": ms(max((acked[s] - published[s] for s in acked), default=None)),
        },
        per_update=[
            {
                "seq": seq,
                "delivered": len(per_update[seq]),
                "p50_ms": ms(percentile(sorted(per_update[seq]), 50)),
                "max_ms": ms(max(per_update[seq], default=None)),
                "ack_ms": ms(acked[seq] - published[seq] if seq in acked else None),
            }
            for seq in seqs
        ],
        publish_phase_s=round(end - start, 3),
        # Other processes' CPU time on the server's (and the client's) cores meanwhile: a
        # busy machine skews the numbers; compare runs only when these are near 0.
        foreign_cpu_pct_server_cores=foreign_pct(
            busy2, busy3, args.server_cpus, server_cpu, end - start
        ),
        foreign_cpu_pct_client_cores=foreign_pct(
            busy2, busy3, args.client_cpus, client_cpu, end - start
        ),
        softirq_pct_server_cores=foreign_pct(
            busy2, busy3, args.server_cpus, 0.0, end - start, "-irq"
        ),
        softirq_pct_client_cores=foreign_pct(
            busy2, busy3, args.client_cpus, 0.0, end - start, "-irq"
        ),
        server_cpu_s=round(server_cpu, 3),
        server_cpu_per_worker_s={
            str(pid): round(cpu3.get(pid, 0) - cpu2.get(pid, 0), 3) for pid in cpu3
        },
        cpu_per_delivery_us=round(server_cpu / deliveries * 1e6, 2) if deliveries else None,
        deliveries_per_s=round(deliveries / span),
        deliveries_per_server_cpu_s=round(deliveries / server_cpu) if server_cpu else None,
        client_cpu_s=round(client_cpu, 3),
        client_cpu_per_delivery_us=round(client_cpu / deliveries * 1e6, 2) if deliveries else None,
        client_cpu_user_s=round(client_times.user - client_times0.user, 3),
        client_cpu_system_s=round(client_times.system - client_times0.system, 3),
        client="lean" if args.lean else "full",
        latency_quantiles_ms=[ms(percentile(latencies, q / 10)) for q in range(1, 1001)]
        if latencies
        else [],
    )
    fleet.close_all()
    await asyncio.sleep(0.5)
    return result


def start_profilers(
    args: argparse.Namespace, name: str, target: Target
) -> list[subprocess.Popen[bytes]]:
    """With --profile, run `py-spy record` on each server worker (on the client's CPUs)."""
    if not args.profile:
        return []
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists() and not shutil.which(spy):
        log("py-spy is not installed: no profile")
        return []
    args.out.mkdir(parents=True, exist_ok=True)
    procs = []
    for pid in target.server.workers():
        for fmt, ext in (("flamegraph", "svg"), ("raw", "txt")):
            cmd = ["taskset", "-c", args.client_cpus] if args.client_cpus else []
            cmd += [spy, "record", "--pid", str(pid), "--rate", str(args.profile_rate)]
            cmd += ["--format", fmt]
            cmd += ["-o", str(args.out / f"profile-{name}-{pid}.{ext}")]
            cmd += ["--duration", str(int(args.total_timeout))]
            # Native stacks need the process stopped for each sample, which perturbs it a
            # lot; Python stacks are sampled without stopping it.
            cmd.append("--native" if args.profile == "native" else "--nonblocking")
            procs.append(
                subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
    time.sleep(1.0)  # let py-spy attach before the storm
    return procs


def stop_profilers(procs: list[subprocess.Popen[bytes]]) -> None:
    """Stop py-spy with SIGINT (it writes its output then), by PID."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


async def run_all(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[Any]]:
    """Measure every requested server, one after the other, `--repeat` rounds, within the
    total timeout; return the quietest round's result per server, and every round's."""
    deadline = time.monotonic() + args.total_timeout
    run = uuid.uuid4().hex[:8]
    rounds: list[list[dict[str, Any]]] = []
    frame_bytes: int | None = None
    for number in range(args.repeat):
        results: list[dict[str, Any]] = []
        rounds.append(results)
        for name in args.servers:
            if time.monotonic() > deadline:
                results.append({"server": name, "error": "total run timeout before start"})
                continue
            if args.repeat > 1:
                log(f"-- round {number + 1}/{args.repeat}: {name}")
            result = await run_one(args, name, f"{run}{number}", frame_bytes, deadline)
            if name == "liveblog" and result.get("frame_bytes"):
                frame_bytes = result["frame_bytes"]
            result["round"] = number + 1
            results.append(result)
    best = []
    for index in range(len(args.servers)):
        candidates = [r[index] for r in rounds if "error" not in r[index]]
        if not candidates:
            best.append(rounds[-1][index])
            continue
        # Of the rounds about as quiet as the quietest, the one with the median p99.
        quiet = min(noise(r) for r in candidates) + 5.0
        calm = sorted(
            (r for r in candidates if noise(r) <= quiet),
            key=lambda r: r["latency_ms"]["p99"] or 0.0,
        )
        best.append(calm[(len(calm) - 1) // 2])
    return best, rounds


async def run_one(
    args: argparse.Namespace, name: str, run: str, frame_bytes: int | None, deadline: float
) -> dict[str, Any]:
    """Start one server, measure it, stop it; return its results (or the error)."""
    busy = wait_quiet(args.wait_quiet) if args.wait_quiet else None
    workdir = Path(tempfile.mkdtemp(prefix=f"liveblog-bench-{name}-"))
    target: Target | None = None
    try:
        if name == "liveblog":
            target = start_liveblog(args, workdir, run)
        else:
            target = start_reference(args, workdir, run)
            target.payload_bytes = frame_bytes or args.payload_bytes  # type: ignore[attr-defined]
            await target.open_control()  # type: ignore[attr-defined]
        log(f"[{name}] serving on port {target.port}, pids {target.server.pids()}")
        spies = start_profilers(args, name, target)
        try:
            result = await measure(target, args, deadline)
        finally:
            stop_profilers(spies)
        result["machine_busy_pct_before"] = busy
        return result
    except Exception as exc:  # noqa: BLE001 - report it and go on with the next server
        log(f"[{name}] failed: {exc!r}")
        logfile = workdir / f"{name}.log"
        if logfile.exists():
            log(logfile.read_text(errors="replace")[-3000:])
        return {"server": name, "error": repr(exc)[:300]}
    finally:
        if target is not None:
            target.close()
        shutil.rmtree(workdir, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description="WebSocket fan-out benchmark: liveblog vs a websockets.broadcast() reference."
    )
    parser.add_argument("--readers", type=int, default=1000, help="N readers (connect storm)")
    parser.add_argument("--updates", type=int, default=20, help="M updates to publish")
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between updates")
    parser.add_argument("--servers", default="liveblog,reference")
    parser.add_argument("--workers", type=int, default=1, help="liveblog gunicorn workers")
    parser.add_argument("--broker", default="", help="liveblog broker URL (redis://...)")
    parser.add_argument(
        "--db", default="sqlite", help="sqlite, or a PostgreSQL admin URL for a throwaway DB"
    )
    parser.add_argument("--out", type=Path, default=None, help="results directory")
    parser.add_argument("--server-cpus", default="0", help="taskset list for the servers")
    parser.add_argument("--client-cpus", default="1", help="CPUs for this (client) process")
    parser.add_argument("--no-pin", action="store_true", help="pin nothing")
    parser.add_argument("--sources", type=int, default=0, help="client source IPs (0: auto)")
    parser.add_argument("--warmup", type=int, default=3, help="updates before the readers")
    parser.add_argument(
        "--lean",
        action="store_true",
        help="readers count frames from their headers (n-th frame = update n) and decode "
        "only the last: a cheaper client, for measuring servers faster than the default one",
    )
    parser.add_argument("--settle", type=float, default=2.0, help="idle seconds after connect")
    parser.add_argument("--body-bytes", type=int, default=280, help="liveblog post body size")
    parser.add_argument(
        "--payload-bytes", type=int, default=640, help="reference frame size if liveblog not run"
    )
    parser.add_argument(
        "--profile",
        choices=["", "python", "native"],
        default="",
        help="py-spy record each server worker into --out (python or native stacks)",
    )
    parser.add_argument("--profile-rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds; the table shows, of each server's quiet rounds, the median-p99 one",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        help="before each server, wait up to this many seconds for an idle machine",
    )
    parser.add_argument(
        "--liveblog-src",
        type=Path,
        default=None,
        help="experiments: a directory holding a modified copy of the liveblog package",
    )
    parser.add_argument("--connect-timeout", type=float, default=120.0)
    parser.add_argument("--update-timeout", type=float, default=30.0)
    parser.add_argument("--total-timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(args.servers) - {"liveblog", "reference"}
    if unknown:
        parser.error(f"unknown servers: {sorted(unknown)}")
    if args.workers > 1 and not args.broker:
        parser.error("--workers above 1 needs --broker redis://...")
    if args.sources <= 0:
        args.sources = max(1, -(-args.readers // 20000))
    if args.no_pin or (os.cpu_count() or 1) < 2 or not shutil.which("taskset"):
        args.server_cpus = None
        args.client_cpus = None
    if args.out is None:
        args.out = BENCH / "results" / f"{datetime.now(UTC):%Y-%m-%d}-N{args.readers}"
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; write results.json, results.md and latency.png under --out."""
    args = parse_args(argv)
    limit = raise_open_file_limit()
    if limit < args.readers + 256:
        log(f"warning: open-file limit {limit} is below readers + 256")
    if args.client_cpus:
        os.sched_setaffinity(0, {int(c) for c in args.client_cpus.split(",")})
    args.out.mkdir(parents=True, exist_ok=True)
    command = " ".join([Path(sys.executable).name, *sys.argv]) if argv is None else str(argv)
    started = time.monotonic()
    results, rounds = asyncio.run(run_all(args))
    report: dict[str, Any] = {
        "command": command,
        "machine": machine_info(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "wall_s": round(time.monotonic() - started, 1),
        "results": results,
    }
    if args.repeat > 1:
        report["rounds"] = [
            [{k: v for k, v in r.items() if k != "latency_quantiles_ms"} for r in one]
            for one in rounds
        ]
    ok = [r for r in results if "error" not in r]
    ref = next((r for r in ok if r["server"] == "reference"), None)
    lb = next((r for r in ok if r["server"] == "liveblog"), None)
    if ref and lb and ref["latency_ms"]["p99"] and ref["cpu_per_delivery_us"]:
        report["liveblog_vs_reference"] = {
            "p99_ratio": round(lb["latency_ms"]["p99"] / ref["latency_ms"]["p99"], 2),
            "cpu_per_delivery_ratio": round(
                lb["cpu_per_delivery_us"] / ref["cpu_per_delivery_us"], 2
            ),
            "rss_per_reader_ratio": round(lb["rss_per_reader_kib"] / ref["rss_per_reader_kib"], 2)
            if ref["rss_per_reader_kib"]
            else None,
        }
    title = f"{args.readers} readers, {args.updates} updates every {args.interval}s"
    note = plot(results, args.out / "latency.png", title)
    if note:
        report["plot"] = note
        log(note)
    (args.out / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    md = table(results)
    (args.out / "results.md").write_text(md)
    print(md, end="")
    if "liveblog_vs_reference" in report:
        print(f"liveblog vs reference: {report['liveblog_vs_reference']}")
    return 0 if ok and len(ok) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
