"""What the HTTP API costs over the SQL it runs: requests/second and p99 latency, API against SQL alone.

Run: `.venv/bin/python benchmarks/api_bench.py [--days 3] [--seconds 10] [--connections 1,8] [--rounds 3]`.

1. Loads the full replica's truth for `--days` days into a fresh database on the local Postgres
   (`BENCH_ADMIN_URL`, default postgresql://postgres@127.0.0.1:5432/postgres) with the warehouse's own
   merge_observation, as complete daily syncs would; the database is dropped at the end.
2. Captures the exact SQL (and bound parameters) the API runs for two requests: a filtered product search
   and a history read, plus the API key lookup every request makes.
3. SQL alone: N threads (for each N in `--connections`), each with its own psycopg2 connection, run those
   statements back to back for `--seconds`.
4. API: `ornaments serve --workers W --no-access-log` (W = `--workers`, default the CPU count), with an API key
   checked on every request, loaded by `wrk` (Debian package `wrk`) with N connections on loopback for `--seconds`.
It prints requests/second and p50/p99 latency for both, round after round (SQL and API alternating), and the
median over the rounds of the API/SQL ratios (target: p99 under 3x).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ornament_pipeline.db.engine import sqlalchemy_url  # noqa: E402
from ornament_pipeline.db.migrations import drop_database, migrate  # noqa: E402
from ornament_pipeline.server.auth import create_key  # noqa: E402
from ornament_pipeline.server.queries.products import ProductFilters, product_history, search_products  # noqa: E402
from ornament_pipeline.server.testing import load_truth  # noqa: E402
from ornament_pipeline_tests.ports import free_port  # noqa: E402

SEARCH = ProductFilters(vendor="hookedonhallmark_com", year=2020, availability="available",
                        min_price=Decimal("10"), max_price=Decimal("200"))
SEARCH_PATH = ("/api/v1/products?vendor=hookedonhallmark_com&year=2020&availability=available"
               "&min_price=10&max_price=200&sort=price&order=asc&limit=50")
KEY_LOOKUP = ("SELECT id, name, scope, prefix, key_hash, created_at, revoked_at, last_used_at FROM api_keys"
              " WHERE prefix = %(prefix)s")
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}



def capture_sql(url: str, call) -> list[tuple[str, Any]]:
    """The statements (psycopg2 form) and parameters `call(conn)` executes, recorded by the driver's cursor
    (the API's reads skip SQLAlchemy's execution events, see server/queries/rows.py)."""
    captured: list[tuple[str, Any]] = []

    class RecordingCursor(psycopg2.extensions.cursor):
        def execute(self, query, vars=None):  # noqa: A002 - psycopg2's own parameter name
            captured.append((query, vars))
            return super().execute(query, vars)

    engine = create_engine(sqlalchemy_url(url), connect_args={"cursor_factory": RecordingCursor})
    try:
        with engine.connect() as conn:
            call(conn)
    finally:
        engine.dispose()
    return captured


def summary(latencies_s: list[float], elapsed: float) -> dict[str, float]:
    flat = sorted(latencies_s)
    return {"rps": len(flat) / elapsed, "p50_ms": statistics.median(flat) * 1000,
            "p99_ms": flat[int(0.99 * (len(flat) - 1))] * 1000}


def sql_load(dsn: str, statements: list[tuple[str, Any]], seconds: float, connections: int) -> dict[str, float]:
    """Run the statements back to back from `connections` threads; one latency per round of statements."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    ready = threading.Barrier(connections + 1)
    stop = [0.0]

    def worker(i: int) -> None:
        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        cur = conn.cursor()
        for statement, params in statements:  # warm up
            cur.execute(statement, params)
            cur.fetchall()
        ready.wait()
        while time.monotonic() < stop[0]:
            t0 = time.perf_counter()
            for statement, params in statements:
                cur.execute(statement, params)
                cur.fetchall()
            latencies[i].append(time.perf_counter() - t0)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    stop[0] = time.monotonic() + 3600
    ready.wait()
    started = time.monotonic()
    stop[0] = started + seconds
    for t in threads:
        t.join()
    return summary([x for per in latencies for x in per], time.monotonic() - started)


def wrk_load(url: str, key: str, seconds: float, connections: int) -> dict[str, float]:
    out = subprocess.run(["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                          "--latency", "-H", f"X-API-Key: {key}", url],
                         capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"the API answered errors under load:\n{out}")

    def latency(pct: str) -> float:
        value, unit = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * _UNITS[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"rps": rps, "p50_ms": latency("50"), "p99_ms": latency("99")}


def start_api(url: str, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "ORNAMENTS_API_OPEN_READS": "false"}
    command = [str(Path(sys.executable).with_name("ornaments")), "serve", "--port", str(port),
               "--workers", str(workers), "--no-access-log"]
    log = tempfile.TemporaryFile()  # uvicorn's own lines; shown only if the server fails to start
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1) as response:
                if response.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    log.seek(0)
    raise SystemExit(f"the API server did not start:\n{log.read().decode(errors='replace')}")


def measure(args: argparse.Namespace, url: str, engine) -> None:
    t0 = time.monotonic()
    load_truth(engine, "full", args.days)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
        products, versions = conn.execute(text(
            "SELECT (SELECT count(*) FROM products), (SELECT count(*) FROM price_history)")).one()
        product_id = conn.execute(text(
            "SELECT product_id FROM price_history GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")).scalar_one()
        _, key = create_key(conn, "bench", "read")
    print(f"loaded {products} products, {versions} versions ({args.days} days of the full replica)"
          f" in {time.monotonic() - t0:.0f}s")
    auth = (KEY_LOOKUP, {"prefix": key[4:12]})
    cases = {
        "filtered product search": (
            [auth, *capture_sql(url, lambda c: search_products(c, SEARCH, "price", "asc", 50, None))],
            SEARCH_PATH),
        "history read": (
            [auth, *capture_sql(url, lambda c: product_history(c, product_id, 1000, None))],
            f"/api/v1/products/{product_id}/history"),
    }
    levels = [int(n) for n in args.connections.split(",")]
    port = free_port()
    api = start_api(url, port, args.workers)
    try:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        print(f"{args.seconds:.0f}s per measurement; SQL = the API's own statements (key lookup + query) over"
              " psycopg2 from N threads; API = wrk with N connections over loopback, X-API-Key on every request\n")
        print(f"{'round':>5} {'case':<26} {'N':>3} {'':<4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
        ratios: dict[tuple[str, int], list[tuple[float, float]]] = {}
        for _, path in cases.values():
            wrk_load(f"http://127.0.0.1:{port}{path}", key, 2, max(levels))  # warm up the server and its pool
        # SQL and API alternate, round after round: on a shared machine the load drifts, and a ratio taken from
        # two neighbouring measurements is steadier than one taken across the whole run.
        for round_ in range(1, args.rounds + 1):
            for label, (statements, path) in cases.items():
                for n in levels:
                    sql = sql_load(dsn, statements, args.seconds, n)
                    http = wrk_load(f"http://127.0.0.1:{port}{path}", key, args.seconds, n)
                    for kind, r in (("SQL", sql), ("API", http)):
                        print(f"{round_:>5} {label:<26} {n:>3} {kind:<4} {r['rps']:>9.0f} {r['p50_ms']:>8.2f}"
                              f" {r['p99_ms']:>8.2f}")
                    ratios.setdefault((label, n), []).append(
                        (http["p99_ms"] / sql["p99_ms"], http["p50_ms"] / sql["p50_ms"]))
        print()
        for (label, n), measured in ratios.items():
            p99 = statistics.median(r[0] for r in measured)
            p50 = statistics.median(r[1] for r in measured)
            verdict = "meets" if p99 < 3 else "MISSES"
            rounds = ", ".join(f"{r[0]:.2f}" for r in measured)
            print(f"{label}, N={n}: API/SQL p99 {p99:.2f}x median of {len(measured)} rounds ({rounds});"
                  f" {verdict} the < 3x target; p50 {p50:.2f}x")
    finally:
        api.terminate()
        api.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", default="1,8", help="comma-separated concurrency levels")
    parser.add_argument("--rounds", type=int, default=3, help="SQL/API measurement pairs per case")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="`ornaments serve --workers`")
    parser.add_argument("--admin-url", default=os.environ.get(
        "BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("needs wrk on PATH (Debian: apt-get install wrk)")
    name = f"ornaments_bench_{uuid.uuid4().hex[:8]}"
    url = make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
    migrate(url)
    engine = create_engine(sqlalchemy_url(url))
    try:
        measure(args, url, engine)
    finally:
        engine.dispose()
        drop_database(url)


if __name__ == "__main__":
    main()
