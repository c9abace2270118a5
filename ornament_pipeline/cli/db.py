"""`ornaments db ...`: the warehouse schema."""

from __future__ import annotations

import typer

from ornament_pipeline.config import get_settings
from ornament_pipeline.db.engine import database_url
from ornament_pipeline.db.migrations import migrate

app = typer.Typer(no_args_is_help=True, help="Warehouse database.")


@app.command("init")
def init() -> None:
    """Create the database if needed and apply pending migrations (a no-op when up to date)."""
    url = database_url(get_settings())
    applied = migrate(url)
    if applied:
        typer.echo(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        typer.echo("database schema is up to date")
