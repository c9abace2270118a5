"""The `ornaments` command. Each part of the project adds its own sub-commands here."""

from __future__ import annotations

import logging
import sys

import typer

from ornament_pipeline.auditor.cli import app as watch_app
from ornament_pipeline.cli import db
from ornament_pipeline.cli.dev import dev
from ornament_pipeline.cli.sync import sync
from ornament_pipeline.config import ConfigError
from ornament_pipeline.grid import grid
from ornament_pipeline.integrations.cli import scrape
from ornament_pipeline.replica.cli import app as replica_app
from ornament_pipeline.server.cli import api_keys_app, serve

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
app.add_typer(db.app, name="db")
app.add_typer(replica_app, name="replica")
app.command("scrape")(scrape)
app.command("dev")(dev)
app.command("sync")(sync)
app.add_typer(watch_app, name="watch")
app.add_typer(api_keys_app, name="api-keys")
app.command("serve")(serve)
app.command("grid")(grid)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app()  # standalone: click turns usage errors and typer.Exit into exit codes itself
    except ConfigError as exc:
        typer.secho(f"config error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)
