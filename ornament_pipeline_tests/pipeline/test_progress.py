"""A slow, faulty scrape keeps the run's event log informed: a line at least every 10 s, every retry with its
status, reason and delay, every failed page with its reason, and page counts (real Chromium, replica, Dagster)."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest

from ornament_pipeline.integrations.progress import ScrapeProgress
from ornament_pipeline.pipeline.assets import SYNC_ASSETS
from ornament_pipeline.pipeline.partitions import partition_key
from ornament_pipeline.pipeline.resources import ScraperResource, SettingsResource, WarehouseResource
from ornament_pipeline.replica.faults import FaultDice
from ornament_pipeline.replica.testing import ReplicaHandle
from ornament_pipeline_tests.conftest import pipeline_instance
from ornament_pipeline_tests.pipeline.conftest import write_config

VENDOR, YEAR = "hookedonhallmark_com", 1990
MAX_SILENCE_SECONDS = 10.0
# One page at a time, so the seeded fault stream is served in a fixed order; backoff short but real.
POLITENESS = {"min_delay_seconds": 0.0, "max_concurrency": 1, "max_retries": 3, "backoff_base_seconds": 0.3,
              "backoff_max_seconds": 3.0, "page_timeout_seconds": 20}
RETRY = re.compile(rf"^{VENDOR}: retry (\d+) of (\S+) in (\d+\.\d)s: status (\d+|none), (.+)$")
FAILED = re.compile(rf"^{VENDOR}: page failed: (\S+): (.+)$")


@pytest.fixture
def served_faults(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Which faults the replica (in this process) served to VENDOR: the truth the retry lines are checked by."""
    served: Counter[str] = Counter()
    lock = threading.Lock()
    draw = FaultDice.draw

    def recording(self: FaultDice, vendor: str, product_page: bool):  # noqa: ANN202
        decision = draw(self, vendor, product_page)
        if vendor == VENDOR:
            with lock:
                served[decision.fault or "none"] += 1
        return decision

    monkeypatch.setattr(FaultDice, "draw", recording)
    return served


def test_without_dagster_the_heartbeat_goes_to_python_logging(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("ornament_pipeline.test_progress")
    with caplog.at_level(logging.INFO, logger=logger.name), ScrapeProgress(logger, heartbeat_seconds=0.2) as progress:
        with progress.phase("v 1990", "product pages", expected=2), progress.loading("http://site/slow"):
            time.sleep(0.7)  # one slow page: the heartbeat speaks while it loads
            progress.page_done()
    beats = [r.getMessage() for r in caplog.records if "still working" in r.getMessage()]
    assert len(beats) >= 2, caplog.records
    assert beats[0].startswith("v 1990: product pages: 0 of 2 pages done") and "loading http://site/slow" in beats[0]
    assert caplog.records[-1].getMessage() == "v 1990: product pages: finished, 1 of 2 pages done"


@pytest.mark.browser
def test_a_slow_faulty_scrape_reports_progress_retries_and_failures(
    tmp_path: Path, replica: ReplicaHandle, migrated_db_url: str, served_faults: Counter[str]
) -> None:
    blocked = urlsplit(replica.truth(VENDOR, YEAR)[0].link).path  # one product page robots.txt forbids
    replica.set_faults(f"seed=3;{VENDOR}:slow=0.45,503=0.15,429=0.15,retry_after=1,slow_seconds=6,"
                       f"robots={blocked}")
    config = write_config(tmp_path / "pipeline.json", replica, migrated_db_url)
    settings = json.loads(config.read_text())
    settings["vendors"][VENDOR]["politeness"] = POLITENESS
    config.write_text(json.dumps(settings))
    resource = SettingsResource(config_path=str(config))
    instance = pipeline_instance()

    result = dg.materialize(SYNC_ASSETS, partition_key=partition_key(VENDOR, YEAR), instance=instance,
                            resources={"settings": resource, "warehouse": WarehouseResource(settings=resource),
                                       "scraper": ScraperResource(settings=resource)}, raise_on_error=False)
    assert result.success

    step = [e for e in instance.all_logs(result.run_id) if e.step_key == "vendor_year_sync"]
    start = next(e.timestamp for e in step if e.dagster_event and e.dagster_event.event_type_value == "STEP_START")
    end = next(e.timestamp for e in step if e.dagster_event and e.dagster_event.event_type_value == "STEP_SUCCESS")
    lines = [(e.timestamp, e.user_message, e.level) for e in step if e.dagster_event is None]
    messages = [message for _, message, _ in lines]
    assert end - start > 25, f"the faults should make the step slow, it took {end - start:.1f}s"

    # Never silent for more than 10 s, the slow page loads and backoff sleeps included.
    times = [start, *(t for t, _, _ in lines), end]
    gaps = [(later - earlier, message) for earlier, later, message
            in zip(times[:-1], times[1:], [*messages, "step end"], strict=True)]
    assert max(gaps)[0] <= MAX_SILENCE_SECONDS, f"silent for {max(gaps)[0]:.1f}s before {max(gaps)[1]!r}"
    assert any("still working" in m and "loading http" in m for m in messages), "a heartbeat names the slow page"

    # Every retry: status, reason and delay. Each 429/503 the replica served is one retry line or a failed page.
    retries = [RETRY.match(m) for m in messages if RETRY.match(m)]
    failed = [FAILED.match(m) for m in messages if FAILED.match(m)]
    for status in ("429", "503"):
        assert served_faults[status] >= 1, f"seed 3 should serve a {status}: {served_faults}"
        logged = sum(1 for r in retries if r.group(4) == status)
        logged += sum(1 for f in failed if f"HTTP {status}" in f.group(2))
        assert logged == served_faults[status], (status, served_faults, messages)
    assert all(r.group(5).startswith("HTTP") and float(r.group(3)) > 0 for r in retries), retries
    assert any(r.group(4) == "429" and float(r.group(3)) >= 1.0 for r in retries), "Retry-After: 1 is honoured"
    assert all(level == logging.WARNING for _, m, level in lines if RETRY.match(m) or FAILED.match(m))

    # The forbidden product page failed, with its reason.
    assert any(f.group(1).endswith(blocked) and "disallowed by robots.txt" in f.group(2) for f in failed), failed

    # Page counts: listing pages read with listings so far, product pages read of those expected.
    assert any(re.search(rf"{VENDOR} {YEAR}: listing pages: page 1 read \(\d+ tiles\), 1 of \d+ pages done, "
                         r"\d+ listings so far", m) for m in messages), messages
    need = len(replica.truth(VENDOR, YEAR))
    assert any(re.search(rf"product pages not read yet: finished, {need - 1} of {need} pages done, "
                         r"\d+ failed", m) for m in messages), messages
