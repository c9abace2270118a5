"""`ornaments serve` and `ornaments api-keys create|list|revoke`."""

from __future__ import annotations

import logging

import typer

from ornament_pipeline.config import get_settings

api_keys_app = typer.Typer(no_args_is_help=True, help="API keys for the HTTP API.")
log = logging.getLogger(__name__)


def _engine():
    from ornament_pipeline.db.engine import warehouse_engine

    return warehouse_engine(get_settings())


@api_keys_app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="A unique name for whoever holds the key"),
    scope: str = typer.Option("read", "--scope",
                              help="read (GET routes), collector (also its own watches and alert destinations)"
                                   " or admin (everything)"),
    collector: str | None = typer.Option(None, "--collector",
                                         help="For a collector key: the collector it belongs to (default: the key's"
                                              " name); keys of one collector share its watches"),
) -> None:
    """Create a key and print it, alone on the last line. It is shown this once: only its hash is stored."""
    from ornament_pipeline.server.auth import SCOPES, create_key
    from ornament_pipeline.server.queries.api_keys import KeyNameTaken

    if scope not in SCOPES:
        raise typer.BadParameter(f"must be one of {', '.join(SCOPES)}", param_hint="--scope")
    try:
        with _engine().begin() as conn:
            stored, key = create_key(conn, name, scope, collector)
    except (KeyNameTaken, ValueError) as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    owner = f" of collector {stored.collector!r}" if stored.collector else ""
    typer.echo(f"created {stored.scope} key {stored.name!r}{owner} (prefix {stored.prefix}); it will not be shown"
               f" again:")
    typer.echo(key)


@api_keys_app.command("list")
def list_() -> None:
    """Every key: name, scope, prefix, created, last used, revoked (never the key itself)."""
    from ornament_pipeline.server.queries.api_keys import list_keys

    with _engine().connect() as conn:
        keys = list_keys(conn)
    if not keys:
        typer.echo("no API keys")
        return
    typer.echo(f"{'NAME':<24} {'SCOPE':<9} {'COLLECTOR':<16} {'PREFIX':<9} {'CREATED':<17} {'LAST USED':<17}"
               f" REVOKED")
    fmt = "%Y-%m-%d %H:%M"
    for k in keys:
        typer.echo(f"{k.name:<24} {k.scope:<9} {k.collector or '-':<16} {k.prefix:<9} {k.created_at.strftime(fmt):<17} "
                   f"{k.last_used_at.strftime(fmt) if k.last_used_at else 'never':<17} "
                   f"{k.revoked_at.strftime(fmt) if k.revoked_at else '-'}")


@api_keys_app.command("revoke")
def revoke(name: str = typer.Argument(..., help="The key's name")) -> None:
    """Revoke a key at once: requests with it get 401 from then on."""
    from ornament_pipeline.server.queries.api_keys import revoke_key

    with _engine().begin() as conn:
        done = revoke_key(conn, name)
    if not done:
        typer.secho(f"error: no active API key named {name!r}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)
    typer.echo(f"revoked {name!r}")


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on"),
    workers: int = typer.Option(1, "--workers", min=1, max=64,
                                help="Server processes; about one per CPU core for the most requests per second"),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="Log a line per request"),
) -> None:
    """Start the HTTP API (/api/v1, /docs) and the collectors' web page (/) on the configured Postgres."""
    import os

    import uvicorn

    from ornament_pipeline.server.config import server_config

    # Resolve (and start, if embedded) the database once here; worker processes inherit its URL.
    os.environ["DATABASE_URL"] = _engine().url.render_as_string(hide_password=False)
    config = server_config(get_settings())
    reads = "open to anyone" if config.open_reads else "need an API key"
    typer.echo(f"serving http://{host}:{port}/ (API at /api/v1, docs at /docs; reads {reads};"
               f" {workers} worker{'s' if workers > 1 else ''})")
    uvicorn.run("ornament_pipeline.server.app:serving_app", factory=True, host=host, port=port, workers=workers,
                log_level="info", access_log=access_log)
