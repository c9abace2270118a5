"""Versioned SQL migrations from `ornament_pipeline/sql/migrations/NNNN_name.sql`, applied in order, once each.

The files are package data, read with `importlib.resources`, so an installed wheel migrates without a checkout.

Concurrent callers serialise on an advisory lock, so two `ornaments db init` on a fresh database both succeed.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

import psycopg2
from psycopg2 import errors, sql
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

MIGRATIONS_DIR: Traversable = files("ornament_pipeline") / "sql" / "migrations"
# Arbitrary but fixed: the key every migrating process locks on.
_LOCK_KEY = 7_316_228_406

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)"""


class MigrationError(Exception):
    """A migration could not be applied; the message names the file."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Traversable

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def available_migrations(directory: Traversable = MIGRATIONS_DIR) -> list[Migration]:
    # A broken install must not pass for "up to date" by migrating nothing.
    if not directory.is_dir():
        raise MigrationError(f"{directory}: migrations directory not found")
    found = []
    for path in sorted((p for p in directory.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name):
        version, _, name = path.name.removesuffix(".sql").partition("_")
        if not version.isdigit():
            raise MigrationError(f"{path}: migration files must be named NNNN_name.sql")
        found.append(Migration(version, name, path))
    if not found:
        raise MigrationError(f"{directory}: no migration files (NNNN_name.sql) found")
    return found


def _connect(url: str) -> psycopg2.extensions.connection:
    # libpq takes the URL itself (including ?host=/socket/dir), once the SQLAlchemy driver suffix is gone.
    return psycopg2.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))


def drop_database(url: str) -> None:
    """Drop the database named in `url` if it exists, closing its sessions (benchmarks and tests clean up)."""
    parsed = make_url(url)
    conn = _connect(parsed.set(database="postgres").render_as_string(hide_password=False))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(parsed.database)))
    finally:
        conn.close()


def ensure_database(url: str) -> bool:
    """Create the database named in `url` when it is missing. True when it was created here."""
    parsed = make_url(url)
    maintenance = parsed.set(database="postgres").render_as_string(hide_password=False)
    conn = _connect(maintenance)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,))
            if cur.fetchone():
                return False
            try:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(parsed.database)))
            except (errors.DuplicateDatabase, errors.UniqueViolation):
                return False  # another process created it a moment ago
            log.info("created database %s", parsed.database)
            return True
    finally:
        conn.close()


def migrate(url: str, directory: Traversable = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations; return the versions applied (empty when up to date)."""
    ensure_database(url)
    migrations = available_migrations(directory)
    conn = _connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
            conn.commit()
            cur.execute(_CREATE_LEDGER)
            cur.execute("SELECT version, checksum FROM schema_migrations")
            applied = dict(cur.fetchall())
            conn.commit()
        done = []
        for migration in migrations:
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    log.warning("%s changed after it was applied; it is not re-run", migration.path)
                continue
            _apply(conn, migration)
            done.append(f"{migration.version}_{migration.name}")
        return done
    finally:
        with conn.cursor() as cur:
            conn.rollback()
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
            conn.commit()
        conn.close()


_migrated: set[str] = set()


def ensure_migrated(url: str) -> None:
    """`migrate` once per process and URL."""
    if url not in _migrated:
        migrate(url)
        _migrated.add(url)


def _apply(conn: psycopg2.extensions.connection, migration: Migration) -> None:
    try:
        with conn.cursor() as cur:
            cur.execute(migration.path.read_text(encoding="utf-8"))
            cur.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
        conn.commit()
    except psycopg2.Error as exc:
        conn.rollback()
        detail = (exc.pgerror or str(exc)).strip()
        raise MigrationError(f"{migration.path}: {detail}") from exc
    log.info("applied migration %s", migration.path.name)
