"""The Dagster code location loads, in process and through `dg check defs`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_defs_load() -> None:
    from ornament_pipeline.definitions import defs

    assert defs is not None


def test_dg_check_defs_passes(new_db_url: str) -> None:
    from ornament_pipeline.db.migrations import ensure_database

    # DAGSTER_PG_URL is no longer needed (./dagster.yaml names no storage; test_fresh_clone.py runs without it).
    ensure_database(new_db_url)
    dg = Path(sys.executable).with_name("dg")
    env = {**os.environ, "CONFIG_PATH": str(REPO / "config" / "default.json"), "DAGSTER_PG_URL": new_db_url}
    env.pop("DAGSTER_HOME", None)
    result = subprocess.run([str(dg), "check", "defs"], cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr
