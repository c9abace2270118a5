"""Soak: does the record stay true under faults and kills? Many replica days, two warehouses, one compare.

    .venv/bin/python benchmarks/soak_bench.py [--days 30] [--seed N] [--partitions 2019,2020]
        [--faults SPEC] [--kill-rate 0.35] [--max-attempts 6] [--control] [--keep-databases]

Per replica day (one replica, its clock moved day by day), every partition is materialized twice through
`ornament_pipeline_tests.pipeline.materialize_partition`, each side in its own process and warehouse:
- clean: faults off, never killed, one attempt (a failure there is a harness error: exit 2);
- faulted: the replica's fault spec on (its dice reseeded per attempt), and with probability --kill-rate the
  whole process group SIGKILLed after a random delay; a partition killed, failed, or whose scrape was
  incomplete (an asset check did not pass: exit 3) is run again the same day, up to --max-attempts.
Then products, price_history and change_events are compared listing by listing, timestamps mapped to the
replica day whose wall-time window contains them. Exit 1 when any row differs, 0 when none.
`--control` runs the second side with faults off and no kills: it must report 0 differences.
Cost on the small replica with the default 6 partitions: about 40 s per day on a quiet 2-core machine
(20 s per side; kills and failed attempts add reruns), so `--days 30` takes 20-30 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from soak_compare import DayWindows, compare, partitions_of
from sqlalchemy.engine import make_url

from ornament_pipeline.db.migrations import drop_database, ensure_database, migrate
from ornament_pipeline.replica.testing import ReplicaHandle, running_replica
from ornament_pipeline.vendors import VENDOR_KEYS

REPO = Path(__file__).resolve().parents[1]
MODULE = "ornament_pipeline_tests.pipeline.materialize_partition"
DEFAULT_FAULTS = "*:500=0.05,503=0.03,429=0.03,truncate=0.03,drop=0.02,noprice=0.05"
# As ornament_pipeline_tests/pipeline/conftest.py FAST: no politeness delay, quick backoff.
FAST = {"min_delay_seconds": 0.0, "max_concurrency": 2, "max_retries": 4, "backoff_base_seconds": 0.05,
        "backoff_max_seconds": 0.5, "page_timeout_seconds": 20}
RUN_TIMEOUT_SECONDS = 900  # a run hanging this long is killed and counted as failed

Partition = tuple[str, int]


def parse_partitions(spec: str) -> list[Partition]:
    """`2019,2020` (every vendor) or `ornament_shop_com:2020,...`."""
    partitions: list[Partition] = []
    for item in (i.strip() for i in spec.split(",") if i.strip()):
        vendor, _, year = item.rpartition(":")
        if vendor and vendor not in VENDOR_KEYS:
            raise SystemExit(f"--partitions: unknown vendor {vendor!r} in {item!r}")
        partitions += [(v, int(year)) for v in ([vendor] if vendor else VENDOR_KEYS)]
    return partitions


def seeded_faults(spec: str, seed: int) -> str:
    """The spec with its `seed=` segment replaced: each attempt draws other faults."""
    segments = [s for s in spec.split(";") if s.strip() and not s.strip().startswith("seed=")]
    return ";".join([f"seed={seed}", *segments]) if segments else ""


def write_config(path: Path, replica: ReplicaHandle, database_url: str) -> Path:
    path.write_text(json.dumps({
        "vendors": {v: {"base_url": replica.base_urls[v], "politeness": FAST} for v in VENDOR_KEYS},
        "database": {"url": database_url},
        "redis": {"url": None},
        "selenium": {"pool_size": 2},
        "history": {"tracked_fields": ["price", "availability"]},
        "schedules": {"retry_failed_after_minutes": 0},
    }))
    return path


@dataclass
class Attempt:
    """One materialize process: which partitions it started and finished, and how it ended."""

    started: list[str] = field(default_factory=list)
    ended: dict[str, int] = field(default_factory=dict)  # partition key -> its exit code
    returncode: int | None = None
    killed_after: float | None = None
    seconds: float = 0.0


def run_process(config: Path, partitions: list[Partition], log: Path, kill_after: float | None) -> Attempt:
    """Materialize `partitions` in one process (its own session); SIGKILL its group after `kill_after` s."""
    argv = [sys.executable, "-m", MODULE, str(config), *[str(x) for p in partitions for x in p]]
    env = {**os.environ, "SE_OFFLINE": "true",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    attempt = Attempt()
    start = time.monotonic()
    with open(log.with_suffix(".out"), "w+") as out, open(log.with_suffix(".err"), "w") as err:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=err, start_new_session=True)
        try:
            proc.wait(timeout=kill_after if kill_after is not None else RUN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            attempt.killed_after = time.monotonic() - start if kill_after is not None else None
        attempt.returncode = proc.returncode
        out.seek(0)
        for line in out:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line cut short by the kill, or not ours
            if event.get("event") == "start":
                attempt.started.append(event["partition"])
            elif event.get("event") == "end":
                attempt.ended[event["partition"]] = event["exit"]
    attempt.seconds = time.monotonic() - start
    return attempt


def key_of(partition: Partition) -> str:
    return f"{partition[0]}|{partition[1]}"  # as MultiPartitionKey prints (dimensions in name order)


@dataclass
class Stats:
    processes: int = 0
    killed: int = 0
    partition_runs: int = 0
    ok: int = 0
    check_failed: int = 0  # exit 3: the scrape was incomplete (or another check did not pass)
    failed: int = 0  # exit 1
    interrupted: int = 0  # started, then killed before its end line
    never_completed: list[tuple[int, str]] = field(default_factory=list)  # (day, partition key)
    harness_errors: list[str] = field(default_factory=list)


def run_side(label: str, day: int, config: Path, partitions: list[Partition], logs: Path, stats: Stats,
             replica: ReplicaHandle, faults: str, kill_rate: float, max_attempts: int, rng: random.Random,
             expected_seconds: float) -> None:
    """One day of one side: run until every partition completed or used its attempts."""
    pending = list(partitions)
    attempts = {key_of(p): 0 for p in partitions}
    done: set[str] = set()
    for round_no in range(max_attempts * len(partitions)):  # bounded even if a process never starts a run
        if not pending:
            break
        rng.shuffle(pending)
        replica.set_faults(seeded_faults(faults, rng.randrange(2**31)) if faults else "")
        expected = max(2.0, expected_seconds * len(pending) / len(partitions))
        kill_after = rng.uniform(0.5, 1.2 * expected) if rng.random() < kill_rate else None
        log = logs / f"day{day:03d}-{label}-{round_no}"
        attempt = run_process(config, pending, log, kill_after)
        stats.processes += 1
        stats.killed += attempt.killed_after is not None
        for key in attempt.started:
            attempts[key] += 1
            stats.partition_runs += 1
            code = attempt.ended.get(key)
            stats.ok += code == 0
            stats.check_failed += code == 3
            stats.failed += code == 1
            stats.interrupted += code is None
        done |= {key for key, code in attempt.ended.items() if code == 0}
        if attempt.killed_after is None and not attempt.started:
            stats.harness_errors.append(f"{label} day {day}: the process started no run "
                                        f"(exit {attempt.returncode}, see {log}.err)")
            break
        pending = [p for p in pending if key_of(p) not in done and attempts[key_of(p)] < max_attempts]
    replica.set_faults("")
    stats.never_completed += [(day, key) for key in attempts if key not in done]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30, help="replica days to run (default 30)")
    parser.add_argument("--start-day", type=int, default=0)
    parser.add_argument("--partitions", default="2019,2020",
                        help="years (every vendor) or VENDOR:YEAR items, comma-separated (default 2019,2020)")
    parser.add_argument("--seed", type=int, default=1, help="seeds the kills and the fault dice")
    parser.add_argument("--faults", default=DEFAULT_FAULTS, help="replica fault spec for the faulted side")
    parser.add_argument("--kill-rate", type=float, default=0.35, help="chance that an attempt is SIGKILLed")
    parser.add_argument("--max-attempts", type=int, default=6, help="per partition and day on the faulted side")
    parser.add_argument("--size", choices=("small", "full"), default="small")
    parser.add_argument("--control", action="store_true",
                        help="second side without faults or kills (must give 0 differences)")
    parser.add_argument("--examples", type=int, default=5, help="differences printed per table")
    parser.add_argument("--ignore-columns", default="",
                        help="TABLE.COLUMN items left out of the compare, e.g. products.detail_read_at")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep-databases", action="store_true")
    parser.add_argument("--log-dir", type=Path, help="per-process stdout/stderr (default: a temporary directory)")
    args = parser.parse_args()
    partitions = parse_partitions(args.partitions)
    faults, kill_rate = ("", 0.0) if args.control else (args.faults, args.kill_rate)
    labels = ("clean", "control" if args.control else "faulted")
    rng = random.Random(args.seed)
    tag = uuid.uuid4().hex[:6]
    urls = {label: make_url(args.admin_url).set(database=f"ornaments_soak_{tag}_{label}")
            .render_as_string(hide_password=False) for label in labels}
    stats = {label: Stats() for label in labels}
    windows = {label: DayWindows() for label in labels}
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="soak-"))  # configs, and the logs unless --log-dir
    logs = args.log_dir or work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        for url in urls.values():
            ensure_database(url)
            migrate(url)
        with running_replica(size=args.size, day=args.start_day) as replica:
            configs = {label: write_config(work / f"{label}.json", replica, url)
                       for label, url in urls.items()}
            for day in range(args.start_day, args.start_day + args.days):
                replica.set_day(day)
                clean_seconds = 0.0
                for label in labels:
                    faulted = label == labels[1]
                    t0, begin = time.monotonic(), datetime.now(UTC)
                    run_side(label, day, configs[label], partitions, logs, stats[label], replica,
                             faults if faulted else "", kill_rate if faulted else 0.0,
                             args.max_attempts if faulted else 1, rng, clean_seconds)
                    windows[label].add(day, begin, datetime.now(UTC))
                    clean_seconds = clean_seconds or time.monotonic() - t0
                s = stats[labels[1]]
                print(f"day {day}: {labels[0]} {clean_seconds:.0f}s; {labels[1]} processes={s.processes} "
                      f"killed={s.killed} never_completed={len(s.never_completed)} "
                      f"({time.monotonic() - started:.0f}s elapsed)", flush=True)
        for day, key in stats[labels[0]].never_completed:
            stats[labels[0]].harness_errors.append(f"{labels[0]} day {day}: {key} did not complete (see {logs})")
        incomplete: dict[tuple[str, int | None], list[int]] = {}
        for day, key in stats[labels[1]].never_completed:
            vendor, _, year = key.partition("|")
            incomplete.setdefault((vendor, int(year)), []).append(day)
        owners = partitions_of(urls[labels[0]]) | partitions_of(urls[labels[1]])
        notes = {k: f"{labels[1]} never completed this partition on day(s) {incomplete[p]}"
                 for k, p in owners.items() if p in incomplete}
        ignored = frozenset(c.strip() for c in args.ignore_columns.split(",") if c.strip())
        diffs = compare(urls[labels[0]], windows[labels[0]], urls[labels[1]], windows[labels[1]], labels, notes,
                        args.examples, ignored)
    finally:
        if args.keep_databases:
            print("databases kept:", ", ".join(urls.values()))
        else:
            for url in urls.values():
                drop_database(url)

    for d in diffs:
        if d.examples:
            print(f"\nfirst differences in {d.table}:")
            print("\n".join(d.examples))
    print(f"\n{'table':<15} {labels[0] + ' rows':>11} {labels[1] + ' rows':>13} {'listings differing':>19} "
          f"{'row differences':>16}  differing columns")
    for d in diffs:
        print(f"{d.table:<15} {d.rows[labels[0]]:>11} {d.rows[labels[1]]:>13} {d.listings_differing:>19} "
              f"{d.row_differences:>16}  " + ", ".join(f"{c} x{n}" for c, n in d.columns.most_common()))
    for label in labels:
        s = stats[label]
        print(f"{label}: processes={s.processes} killed={s.killed} partition runs={s.partition_runs} ok={s.ok} "
              f"incomplete(exit 3)={s.check_failed} failed(exit 1)={s.failed} interrupted={s.interrupted} "
              f"partition-days never completed={len(s.never_completed)}")
    never = stats[labels[1]].never_completed
    if never:
        print(f"{labels[1]} partition-days never completed within {args.max_attempts} attempts (harness limit, "
              "not a record difference): " + ", ".join(f"day {d} {k}" for d, k in never))
    errors = [e for s in stats.values() for e in s.harness_errors]
    for error in errors:
        print("harness error:", error)
    if errors or args.log_dir:
        print("logs:", logs)
    else:
        shutil.rmtree(work)
    total = sum(d.row_differences for d in diffs)
    print(f"days={args.days} (from {args.start_day}) partitions={len(partitions)} faults={faults or 'off'!r} "
          f"kill_rate={kill_rate} wall={time.monotonic() - started:.0f}s differences={total}")
    print("command:", shlex.join([sys.executable, *sys.argv]))
    return 2 if errors else 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
