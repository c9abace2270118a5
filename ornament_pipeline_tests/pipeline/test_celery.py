"""Dagster's Celery executor: a backfill through webserver + daemon whose steps run on two Celery workers, separate
processes each in its own directory, over RabbitMQ (a vhost of this test's own)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import create_engine

from ornament_pipeline.cli.dev import write_instance_yaml
from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.db.migrations import ensure_database
from ornament_pipeline.pipeline.launch import Dagster
from ornament_pipeline.pipeline.partitions import partition_key
from ornament_pipeline.replica.testing import ReplicaHandle
from ornament_pipeline_tests.conftest import drop_database
from ornament_pipeline_tests.pipeline.conftest import write_config
from ornament_pipeline_tests.pipeline.deployment import REPO, running_dagster
from ornament_pipeline_tests.pipeline.test_partitions import stored, truth

pytestmark = pytest.mark.browser

BIN = Path(sys.executable).parent
# One partition of each vendor, each of another year: the backfill's ranges (BackfillPolicy.single_run) are then
# one per partition, so three runs at once, one step each. (Three vendors of one year would be one ranged run.)
PARTITIONS = [("hookedonhallmark_com", 2020), ("ornament_shop_com", 2005), ("hallmark_ornaments_com", 1998)]
WORKERS = ("worker_a", "worker_b")
ENDED = ("SUCCESS", "FAILURE", "CANCELED")
CELERY_WORKSPACE = """\
load_from:
  - python_module:
      module_name: ornament_pipeline.celery_definitions
      location_name: ornament_pipeline
"""


def rabbitmqctl(*args: str) -> str:
    result = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"rabbitmqctl {' '.join(args)}: {result.stderr or result.stdout}"
    return result.stdout


@pytest.fixture
def broker_url() -> Iterator[str]:
    """A RabbitMQ vhost of this test's own (on the machine's RabbitMQ, guest/guest): no other queue or worker
    can take its tasks, and a process on the default vhost would never see them."""
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("rabbitmqctl not found: this test needs RabbitMQ on 127.0.0.1:5672 (Debian's rabbitmq-server)")
    vhost = f"ornaments_test_{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"pyamqp://guest:guest@127.0.0.1:5672/{vhost}"
    finally:
        rabbitmqctl("delete_vhost", vhost)


@dataclass
class Worker:
    name: str
    log: Path
    process: subprocess.Popen[bytes]

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Celery's warm shutdown on SIGTERM, then whatever is left of the process group is killed."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


@dataclass
class Deployment:
    dagster: Dagster
    workers: list[Worker]
    home: Path  # the daemon's and webserver's DAGSTER_HOME
    storage_url: str  # Dagster's storage, which that home's dagster.yaml reads from DAGSTER_PG_URL


@pytest.fixture
def deployment(tmp_path: Path, replica: ReplicaHandle, migrated_db_url: str, redis_url: str,
               broker_url: str) -> Iterator[Deployment]:
    """Two `dagster-celery` workers, then daemon + webserver loading the Celery code location by module, all on
    Postgres storage and the test's vhost."""
    storage_url = migrated_db_url.rsplit("/", 1)[0] + f"/{migrated_db_url.rsplit('/', 1)[1]}_dagster"
    ensure_database(storage_url)
    home = tmp_path / "dagster_home"
    home.mkdir()
    write_instance_yaml(home)
    config = write_config(tmp_path / "celery.json", replica, migrated_db_url, redis_url=redis_url)
    # What both sides read: the warehouse, the replica, the broker (the executor's from ORNAMENTS_CELERY_BROKER),
    # Dagster's storage (each task carries the instance's config, which names DAGSTER_PG_URL, not its value).
    common = {**os.environ, "CONFIG_PATH": str(config), "DATABASE_URL": migrated_db_url, "SE_OFFLINE": "true",
              "DAGSTER_PG_URL": storage_url,
              "ORNAMENTS_CELERY_BROKER": broker_url, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
              "PYTHONPATH": str(REPO)}
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(CELERY_WORKSPACE)
    workers: list[Worker] = []
    try:
        for name in WORKERS:
            # Its own working directory and scratch DAGSTER_HOME (where dagster-celery writes the worker's Celery
            # config): nothing on disk shared with the daemon's home. Steps reach the run's storage through the
            # instance reference each task carries (Postgres).
            scratch = tmp_path / name
            (scratch / "home").mkdir(parents=True)
            (scratch / "home" / "dagster.yaml").write_text("")  # Dagster's defaults, said to be meant
            (scratch / "celery.yaml").write_text(
                f"execution:\n  config:\n    broker: '{broker_url}'\n    backend: 'rpc://'\n")
            log = scratch / "worker.log"
            with open(log, "wb") as out:
                process = subprocess.Popen(
                    # -i: the code location imported before the pool forks, not by each task's first step.
                    [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
                     "-y", str(scratch / "celery.yaml"), "-n", name, "-i", "ornament_pipeline.celery_definitions",
                     "--", "--concurrency=1", "--without-gossip", "--without-mingle"],
                    cwd=scratch, env={**common, "DAGSTER_HOME": str(scratch / "home")}, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True)
            workers.append(Worker(name, log, process))
        # The workers start while Dagster does.
        with running_dagster(tmp_path, {**common, "DAGSTER_HOME": str(home)}, workspace_file=workspace) as client:
            deadline = time.monotonic() + 120
            while not all(" ready." in worker.text() for worker in workers):
                dead = [worker for worker in workers if worker.process.poll() is not None]
                if dead or time.monotonic() > deadline:
                    failed = (dead or workers)[0]
                    pytest.fail(f"worker {failed.name} did not start:\n{failed.text()[-3000:]}")
                time.sleep(0.5)
            yield Deployment(client, workers, home, storage_url)
    finally:
        for worker in workers:
            stop(worker.process)
        create_engine(sqlalchemy_url(storage_url)).dispose()
        drop_database(storage_url.rsplit("/", 1)[1])


@pytest.mark.timeout(600)
def test_backfill_steps_run_on_two_celery_workers(deployment: Deployment, replica: ReplicaHandle, migrated_db_url: str,
                                                   broker_url: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    dagster, workers = deployment.dagster, deployment.workers
    vhost = broker_url.rsplit("/", 1)[1]
    # Each worker says which broker it really connected to: the test's vhost, not the default one.
    for worker in workers:
        assert f"Connected to amqp://guest:**@127.0.0.1:5672/{vhost}" in worker.text(), worker.text()[-3000:]

    started = time.monotonic()
    backfill_id = dagster.backfill([str(partition_key(v, y)) for v, y in PARTITIONS], title="celery backfill")
    deadline = started + 300
    # Done when every partition's run has ended (the backfill itself is marked done at a later daemon tick).
    while True:
        status = dagster.backfill_status(backfill_id)
        runs = status["runs"]
        if status["status"] not in ("REQUESTED", "CANCELING", "FAILING") or (
                len(runs) == len(PARTITIONS) and all(run["status"] in ENDED for run in runs)):
            break
        if time.monotonic() > deadline:
            pytest.fail(f"backfill did not finish: {status['status']}\n{(tmp_path / 'daemon.log').read_text()[-3000:]}")
        time.sleep(1)
    elapsed = time.monotonic() - started
    assert len(runs) == len(PARTITIONS) and {run["status"] for run in runs} == {"SUCCESS"}, (status["status"], runs)

    # Every step of every run ran in a Celery worker (the executor's engine event names it), and both took steps.
    ran_on: dict[tuple[str, str], str] = {}
    monkeypatch.setenv("DAGSTER_PG_URL", deployment.storage_url)
    with dg.DagsterInstance.from_config(str(deployment.home)) as instance:
        for run in runs:
            plan = instance.get_execution_plan_snapshot(instance.get_run_by_id(run["runId"]).execution_plan_snapshot_id)
            for record in instance.all_logs(run["runId"], of_type=dg.DagsterEventType.ENGINE_EVENT):
                metadata = record.dagster_event.engine_event_data.metadata
                if "Celery worker" in metadata:
                    ran_on[(run["runId"], record.step_key)] = metadata["Celery worker"].value
            steps = {step.key for step in plan.steps}
            assert {step for run_id, step in ran_on if run_id == run["runId"]} == steps, (run["runId"], ran_on)
    assert {hostname.split("@")[0] for hostname in ran_on.values()} == set(WORKERS), ran_on
    for worker in workers:
        assert "Task execute_plan[" in worker.text() and "succeeded" in worker.text(), worker.text()[-3000:]

    # The broker both sides used: the vhost has Dagster's queue, with the two workers consuming from it.
    consumers = dict(line.split("\t") for line in rabbitmqctl(
        "list_queues", "-p", vhost, "--no-table-headers", "name", "consumers").splitlines())
    assert consumers.get("dagster") == "2", consumers

    for vendor, year in PARTITIONS:
        expected = truth(replica, vendor, year)
        assert expected, (vendor, year)
        assert stored(migrated_db_url, vendor, year) == expected, (vendor, year)
    print(f"celery backfill of {len(PARTITIONS)} partitions, {len(ran_on)} steps: {elapsed:.1f} s;"
          f" per worker {[sum(1 for h in ran_on.values() if h.startswith(w + '@')) for w in WORKERS]}")
