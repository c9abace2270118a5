"""`ornaments serve` and `ornaments api-keys ...` (placeholders until the server lands)."""

import typer

api_keys_app = typer.Typer(no_args_is_help=True, help="API keys for the HTTP API.")


def serve() -> None:
    """Start the HTTP API and web page (not implemented yet)."""
    raise typer.Exit(2)
