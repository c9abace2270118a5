"""Migrations are package data; a directory without them is an error, never "schema is up to date"."""

from __future__ import annotations

from pathlib import Path

import pytest

from ornament_pipeline.db.migrations import MIGRATIONS_DIR, MigrationError, available_migrations, migrate


def test_migrations_are_read_from_the_package() -> None:
    assert Path(str(MIGRATIONS_DIR)).parent.parent.name == "ornament_pipeline"
    assert [m.version for m in available_migrations()][:1] == ["0001"]


@pytest.mark.parametrize("make", [lambda p: p / "absent", lambda p: p])
def test_no_migration_files_is_an_error_not_up_to_date(tmp_path: Path, new_db_url: str, make) -> None:
    directory = make(tmp_path)
    with pytest.raises(MigrationError, match=str(directory)):
        migrate(new_db_url, directory)
