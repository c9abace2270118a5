"""`ornaments watch add|list|remove|run`: watched ornaments that raise alerts, and the auditor loop."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from sqlalchemy import Engine

from ornament_pipeline.auditor.watches import Watch, WatchError, WatchNotFound, add_watch, list_watches, remove_watch

app = typer.Typer(no_args_is_help=True, help="Watched ornaments that raise alerts.")


def _engine() -> Engine:
    from ornament_pipeline.config import get_settings
    from ornament_pipeline.db.engine import warehouse_engine

    return warehouse_engine(get_settings())


def _fail(message: str, code: int) -> SystemExit:
    """`error: <message>` on stderr and exit `code`, no traceback.

    A SystemExit rather than typer.Exit or a click exception: the root command runs click with
    standalone_mode=False, where an Exit's code is returned (the process would exit 0) and typer's own click
    exceptions are not the ones the root catches. Usage checks are done here for the same reason."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return SystemExit(code)


def _check_format(value: str) -> None:
    if value not in ("table", "json"):
        raise _fail(f"--format: expected table or json, got {value!r}", 2)


def _dash(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def _table(watches: list[Watch]) -> str:
    header = ("ID", "ITEM", "COND", "VENDOR", "MAX PRICE", "DROP %", "KINDS", "OWNER", "LABEL")
    rows = [header] + [
        (str(w.id), w.item_number, _dash(w.condition), _dash(w.vendor), _dash(w.max_price), _dash(w.drop_percent),
         ",".join(w.kinds), _dash(w.owner), _dash(w.label)) for w in watches
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


@app.command("add")
def add(
    item_number: Annotated[str | None, typer.Option("--item-number", help="Hallmark item number, e.g. QX1571.")
                           ] = None,
    condition: Annotated[str | None, typer.Option(help="Only this condition code (e.g. NB, MIB).")] = None,
    vendor: Annotated[str | None, typer.Option(help="Only this vendor (a vendor key).")] = None,
    max_price: Annotated[str | None, typer.Option("--max-price", help="Target price: alert at or below it.")] = None,
    drop_percent: Annotated[str | None, typer.Option("--drop-percent",
                                                     help="Alert on a price drop of at least this percent.")] = None,
    kinds: Annotated[str | None, typer.Option(
        help="Comma-separated: price_drop,back_in_stock,new_listing,all_time_low (default all).")] = None,
    label: Annotated[str | None, typer.Option(help="A note shown with the alerts.")] = None,
    output: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Watch an ornament for the operator (alerts go to the configured webhook); alerts start with the next change
    the auditor reads."""
    _check_format(output)
    if not item_number:
        raise _fail("--item-number is required (a Hallmark item number, e.g. QX1571)", 2)
    try:
        watch = add_watch(_engine(), item_number, condition, vendor, max_price, drop_percent, kinds, label)
    except WatchError as exc:
        raise _fail(str(exc), 2) from None
    typer.echo(json.dumps(watch.to_json_dict()) if output == "json" else f"added watch {watch.id}\n{_table([watch])}")


@app.command("list")
def list_(
    item_number: Annotated[str | None, typer.Option("--item-number", help="Only watches of this item.")] = None,
    output: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """List watches: the operator's (OWNER -) and every collector's."""
    _check_format(output)
    watches = list_watches(_engine(), item_number)
    if output == "json":
        typer.echo(json.dumps([w.to_json_dict() for w in watches], indent=2))
    elif watches:
        typer.echo(_table(watches))
    else:
        typer.echo("no watches")


@app.command("remove")
def remove(watch_id: Annotated[str, typer.Argument(metavar="ID", help="The watch id (see `list`).")]) -> None:
    """Remove a watch (alerts it already raised are kept and still delivered)."""
    try:
        watch = remove_watch(_engine(), watch_id)
    except WatchNotFound as exc:
        raise _fail(str(exc), 1) from None
    except WatchError as exc:
        raise _fail(str(exc), 2) from None
    typer.echo(f"removed watch {watch.id} ({watch.item_number})")


@app.command("run")
def run(
    once: Annotated[bool, typer.Option("--once", help="Raise and deliver what is due now, then exit.")] = False,
    poll_seconds: Annotated[float, typer.Option(min=0.1, help="Longest sleep between looks.")] = 10.0,
) -> None:
    """Run the auditor outside Dagster: raise alerts from the change stream and deliver them (until Ctrl-C)."""
    from ornament_pipeline.auditor.main import run_with_settings
    from ornament_pipeline.config import get_settings

    # A ConfigError (e.g. a webhook URL without its secret) reaches the root command: one line, exit 2.
    status = run_with_settings(_engine(), get_settings(), once=once, poll_seconds=poll_seconds)
    if status:
        raise SystemExit(status)   # run_with_settings has printed the error
