"""One scrape of a vendor's site at a time across processes: the Postgres advisory lock of pipeline/site_lock.py."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import create_engine

from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.pipeline.site_lock import site_lock

HOLD = """
import sys, time
from sqlalchemy import create_engine
from ornament_pipeline.pipeline.site_lock import site_lock
import logging
with site_lock(create_engine(sys.argv[1]), "ornament_shop_com", logging.getLogger("x")):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_second_scrape_of_a_site_waits_and_says_for_whom(new_db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    engine = create_engine(sqlalchemy_url(new_db_url.rsplit("/", 1)[0] + "/postgres"))
    log = logging.getLogger("test_site_lock")
    order: list[str] = []
    with site_lock(engine, "ornament_shop_com", log):
        def second() -> None:
            with site_lock(engine, "ornament_shop_com", log, poll_seconds=0.05):
                order.append("second")
        thread = threading.Thread(target=second)
        with caplog.at_level(logging.INFO, logger="test_site_lock"):
            thread.start()
            time.sleep(1.0)
            with site_lock(engine, "hallmark_ornaments_com", log):  # another site is free meanwhile
                order.append("other site")
            order.append("first done")
        assert "second" not in order
    thread.join(10)
    assert order == ["other site", "first done", "second"]
    assert any("ornament_shop_com: waiting for the site: another scrape holds it" in r.getMessage()
               for r in caplog.records)


def test_a_killed_holder_frees_the_site(new_db_url: str) -> None:
    url = sqlalchemy_url(new_db_url.rsplit("/", 1)[0] + "/postgres")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        got = threading.Event()

        def take() -> None:
            with site_lock(create_engine(url), "ornament_shop_com", logging.getLogger("x"), poll_seconds=0.05):
                got.set()
        threading.Thread(target=take, daemon=True).start()
        assert not got.wait(1.0)  # held by the other process
        holder.send_signal(signal.SIGKILL)
        assert got.wait(15)  # its connection closed with it, and Postgres let go of the lock
    finally:
        holder.kill()
        holder.wait()
