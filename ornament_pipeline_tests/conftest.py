"""Shared fixtures: real Postgres (a fresh database per test that asks) and real Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import dagster as dg
import pytest
import redis
from sqlalchemy.engine import make_url

from ornament_pipeline.db import migrations
from ornament_pipeline.pipeline.partitions import add_years
from ornament_pipeline_tests.auditor.receiver import Receiver, serve

ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def drop_database(name: str) -> None:
    migrations.drop_database(make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False))


@pytest.fixture
def new_db_url() -> Iterator[str]:
    """The URL of a database that does not exist yet (dropped afterwards)."""
    name = f"ornaments_test_{uuid.uuid4().hex[:10]}"
    yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    drop_database(name)


@pytest.fixture
def migrated_db_url(new_db_url: str) -> str:
    from ornament_pipeline.db.migrations import migrate

    migrate(new_db_url)
    return new_db_url


@pytest.fixture
def redis_url() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local webhook receiver (auditor/receiver.py) on 127.0.0.1, stopped at the end."""
    state = Receiver()
    server, thread = serve(state)
    yield state
    if state.hold is not None:
        state.hold.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def pipeline_instance() -> dg.DagsterInstance:
    """An ephemeral Dagster instance holding the year partitions, as the year_partitions sensor keeps them."""
    instance = dg.DagsterInstance.ephemeral()
    add_years(instance)
    return instance
