"""The auditor end to end at the full replica's scale: change events per second from merge to delivered alert.

Run: `.venv/bin/python benchmarks/auditor_bench.py [--days 0,1,2,3] [--workers 8] [--size full]`.

1. A fresh database on the local Postgres (`BENCH_ADMIN_URL`, default
   postgresql://postgres@127.0.0.1:5432/postgres), dropped at the end (`--keep` keeps it).
2. One watch (all four alert kinds) per Hallmark item number of day 0: every listing of the replica is watched.
3. The auditor loop (`ornaments watch run`'s, LISTEN-driven, `--workers` delivery threads) runs in this process
   beside the merges, delivering to a local webhook receiver (HTTP/1.1 keep-alive, checks every signature).
4. Per replica day: the full replica's truth is merged partition by partition with the warehouse's own
   merge_observation (no browser), as a complete daily sync would; the clock stops when the last
   alert of the day has been accepted by the receiver.

Prints, per day: change events, alerts raised, webhook deliveries, merge time, time after the last merge until
the last delivery, total time, events/s and alerts/s from the first merge to the last delivered alert (with
`--backlog`: over the auditor's own time only), and p50/p95 latency from event to webhook delivery.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import logging
import os
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ornament_pipeline.auditor.alerts import raise_alerts  # noqa: E402
from ornament_pipeline.auditor.delivery import RetryPolicy, channels_for, make_webhook  # noqa: E402
from ornament_pipeline.auditor.runner import run_forever  # noqa: E402
from ornament_pipeline.db.engine import sqlalchemy_url  # noqa: E402
from ornament_pipeline.db.migrations import drop_database, migrate  # noqa: E402
from ornament_pipeline.replica import truth  # noqa: E402
from ornament_pipeline.replica.catalogue import DEFAULT_SEED  # noqa: E402
from ornament_pipeline.vendors import VENDOR_KEYS  # noqa: E402
from ornament_pipeline.warehouse.scrapes import merge_observation  # noqa: E402

SECRET = "bench-secret"
T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
BASE_URLS = {vendor: f"http://127.0.0.1:{8701 + n}" for n, vendor in enumerate(VENDOR_KEYS)}


class Receiver:
    """Counts accepted alerts by idempotency key; rejects (401) a bad signature."""

    def __init__(self) -> None:
        self.keys: dict[str, int] = {}
        self.bad_signatures = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"   # keep-alive, as a real receiver behind a proxy would offer

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                ok = hmac.compare_digest(expected, self.headers.get("X-Ornaments-Signature", ""))
                with receiver.lock:
                    if ok:
                        key = self.headers["X-Ornaments-Idempotency-Key"]
                        receiver.keys[key] = receiver.keys.get(key, 0) + 1
                    else:
                        receiver.bad_signatures += 1
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self) -> int:
        with self.lock:
            return len(self.keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="full", choices=["small", "full"])
    parser.add_argument("--days", default="0,1,2,3", help="replica days, in order (default 0,1,2,3)")
    parser.add_argument("--workers", type=int, default=8, help="delivery threads")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--backlog", action="store_true",
                        help="stop the auditor during each day's merges and time how fast it works off the backlog")
    args = parser.parse_args()
    days = [int(d) for d in args.days.split(",")]
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("ornament_pipeline.auditor").setLevel(logging.ERROR)

    admin = os.environ.get("BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"ornaments_bench_auditor_{uuid.uuid4().hex[:8]}"
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    migrate(url)
    engine = create_engine(sqlalchemy_url(url), pool_size=args.workers + 4)
    receiver = Receiver()
    stop = threading.Event()
    try:
        day0 = truth(args.size, days[0], DEFAULT_SEED, BASE_URLS)
        items = sorted({x.item_number for x in day0 if x.item_number})
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO watches (item_number) SELECT unnest(CAST(:items AS text[]))"),
                         {"items": items})
        print(f"{args.size} replica: {len(day0)} listings on day {days[0]}, {len(items)} watches "
              f"(every item number), {args.workers} delivery workers")

        webhook = make_webhook(receiver.url, SECRET, timeout_seconds=10)

        def start_auditor() -> threading.Thread:
            thread = threading.Thread(target=run_forever, kwargs={
                "engine": engine, "webhook": webhook, "policy": RetryPolicy(backoff_seconds=0.5),
                "poll_seconds": 0.5, "workers": args.workers, "stop": stop}, daemon=True)
            thread.start()
            return thread

        auditor = start_auditor()
        print("mode: " + ("backlog (auditor stopped during merges; 'after s' = its time to work the day off)"
                          if args.backlog else "live (auditor running beside the merges)"))
        header = (f"{'day':>4} {'events':>7} {'alerts':>7} {'deliv.':>7} {'merge s':>8} {'after s':>8} "
                  f"{'total s':>8} {'events/s':>9} {'alerts/s':>9} {'p50 ms':>8} {'p95 ms':>8}")
        print(header)
        all_events = all_alerts = 0
        all_seconds = 0.0
        for day in days:
            listings = day0 if day == days[0] else truth(args.size, day, DEFAULT_SEED, BASE_URLS)
            partitions: dict[tuple[str, int], list] = {}
            for x in listings:
                partitions.setdefault((x.vendor, x.release_year), []).append(x)
            with engine.connect() as conn:
                first_event = conn.execute(text("SELECT COALESCE(max(id), 0) FROM change_events")).scalar_one()
            if args.backlog:
                stop.set()
                auditor.join()
                stop.clear()
            started = time.perf_counter()
            for n, ((vendor, year), part) in enumerate(sorted(partitions.items())):
                at = T0 + timedelta(days=day, seconds=n)
                with engine.begin() as conn:
                    merge_observation(conn, vendor, year, part, at, complete=True, tracked=("price", "availability"))
            merged = time.perf_counter() - started
            raising = ""
            if args.backlog:
                # The two stages apart: events into alerts (one set-based pass), then the loop delivers them.
                t = time.perf_counter()
                raised = raise_alerts(engine, channels_for(webhook))
                raising = f"   raise: {raised.events / (time.perf_counter() - t):.0f} events/s"
                auditor = start_auditor()
            with engine.connect() as conn:
                events = conn.execute(text("SELECT count(*) FROM change_events WHERE id > :id"),
                                      {"id": first_event}).scalar_one()
            # Done when every event of the day has been read and every alert it raised delivered.
            while True:
                with engine.connect() as conn:
                    pending = conn.execute(text(
                        "SELECT (SELECT count(*) FROM change_events e, auditor_cursors c WHERE c.name = 'alerts'"
                        "        AND (e.txid, e.id) > (c.last_txid, c.last_event_id))"
                        " + (SELECT count(*) FROM alert_deliveries WHERE status = 'pending')")).scalar_one()
                if pending == 0:
                    break
                time.sleep(0.01)
            total = time.perf_counter() - started
            after = total - merged
            with engine.connect() as conn:
                alerts, deliveries, p50, p95 = conn.execute(text(
                    "SELECT count(DISTINCT a.id), count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),"
                    " percentile_cont(0.95) WITHIN GROUP (ORDER BY lag)"
                    " FROM (SELECT a.id, extract(epoch FROM d.delivered_at - e.recorded_at) AS lag"
                    "       FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id"
                    "       JOIN change_events e ON e.id = a.event_id"
                    "       WHERE e.id > :id AND d.channel = 'webhook') a"), {"id": first_event}).one()
            all_events, all_alerts, all_seconds = all_events + events, all_alerts + alerts, all_seconds + total
            seconds = after if args.backlog else total
            print(f"{day:>4} {events:>7} {alerts:>7} {deliveries:>7} {merged:>8.2f} {after:>8.2f} {total:>8.2f} "
                  f"{events / seconds:>9.0f} {alerts / seconds:>9.0f} {1000 * (p50 or 0):>8.0f} "
                  f"{1000 * (p95 or 0):>8.0f}{raising}")
        print(f" all {all_events:>7} {all_alerts:>7} {'':>7} {'':>8} {'':>8} {all_seconds:>8.2f} "
              f"{all_events / all_seconds:>9.0f} {all_alerts / all_seconds:>9.0f}   (merge included)")
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM alerts")).scalar_one()
        twice = sum(1 for n in receiver.keys.values() if n > 1)
        print(f"receiver: {receiver.count()} distinct alerts accepted of {stored} raised; {twice} received twice;"
              f" {receiver.bad_signatures} bad signatures")
    finally:
        stop.set()
        time.sleep(0.6)
        receiver.server.shutdown()
        engine.dispose()
        if args.keep:
            print(f"kept database {url}")
        else:
            drop_database(url)


if __name__ == "__main__":
    main()
