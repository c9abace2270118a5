"""`ornaments replica ...` (placeholder until the replica lands)."""

import typer

app = typer.Typer(no_args_is_help=True, help="Local replica of the three vendor sites.")
