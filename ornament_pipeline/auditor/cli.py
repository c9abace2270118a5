"""`ornaments watch ...` (placeholder until the auditor lands)."""

import typer

app = typer.Typer(no_args_is_help=True, help="Watched ornaments that raise alerts.")
