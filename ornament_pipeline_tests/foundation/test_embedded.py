"""With no DATABASE_URL, the project starts an embedded PostgreSQL from the pip wheel and uses it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ORNAMENTS = [sys.executable, "-m", "ornament_pipeline.cli"]


def test_db_init_uses_embedded_postgres_when_no_url(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    config = tmp_path / "embedded.json"
    config.write_text(json.dumps({"vendors": {}, "database": {"embedded_data_dir": str(data_dir)}}))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"CONFIG_PATH": str(config)}
    first = subprocess.run([*ORNAMENTS, "db", "init"], env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "applied" in first.stdout
    assert first.stderr.count("using an embedded PostgreSQL server") == 1
    assert (data_dir / "PG_VERSION").read_text().strip() == "18"
    # The data persists: the second run finds the schema in place.
    second = subprocess.run([*ORNAMENTS, "db", "init"], env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "database schema is up to date"
