"""`ornaments replica serve|truth`: run the three replica sites, or print what they serve."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import typer

from ornament_pipeline.replica.catalogue import DEFAULT_SEED, SIZES
from ornament_pipeline.replica.clock import truth as truth_rows
from ornament_pipeline.replica.faults import FaultSpecError, parse_faults
from ornament_pipeline.replica.server import (
    DEFAULT_ADMIN_PORT,
    DEFAULT_PORTS,
    HOST,
    PortInUse,
    Replica,
    ReplicaRunner,
    bind_all,
)
from ornament_pipeline.vendors import VENDOR_KEYS

app = typer.Typer(no_args_is_help=True, help="Local replica of the three vendor sites.")
PORTS_HELP = "Ports in the order " + ",".join(VENDOR_KEYS)
DEFAULT_PORTS_TEXT = ",".join(map(str, DEFAULT_PORTS))


def _ports(text: str) -> tuple[int, int, int]:
    try:
        ports = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"expected three comma-separated ports, got {text!r}") from None
    if len(ports) != 3 or not all(0 < p < 65536 for p in ports):
        raise typer.BadParameter(f"expected three comma-separated ports, got {text!r}")
    return ports  # type: ignore[return-value]


def _size(size: str) -> str:
    if size not in SIZES:
        raise typer.BadParameter(f"size must be one of {', '.join(SIZES)}")
    return size


@app.command()
def serve(
    size: str = typer.Option("small", help="Catalogue size: small or full."),
    day: int = typer.Option(0, min=0, help="Replica day (prices, stock, listings)."),
    seed: int = typer.Option(DEFAULT_SEED, help="Catalogue seed."),
    ports: str = typer.Option(DEFAULT_PORTS_TEXT, help=PORTS_HELP),
    faults: str = typer.Option("", help="Fault spec, e.g. '*:500=0.05,429=0.02' (see replica/README.md)."),
    admin_port: int = typer.Option(DEFAULT_ADMIN_PORT, help="Port of the admin interface."),
) -> None:
    """Serve the three sites until stopped (Ctrl-C)."""
    try:
        parse_faults(faults)
    except FaultSpecError as exc:
        raise typer.BadParameter(str(exc), param_hint="--faults") from None
    try:
        bound = bind_all(_ports(ports), admin_port)
    except PortInUse as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    replica = Replica(_size(size), seed, day, bound.base_urls, faults)
    runner = ReplicaRunner(replica, bound)
    for vendor, url in bound.base_urls.items():
        typer.echo(f"{vendor} {url}")
    typer.echo(f"admin {bound.admin_url}")
    sys.stdout.flush()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, runner.stop)
        await runner.serve()

    asyncio.run(main())


@app.command()
def truth(
    size: str = typer.Option("small", help="Catalogue size: small or full."),
    day: int = typer.Option(0, min=0, help="Replica day."),
    seed: int = typer.Option(DEFAULT_SEED, help="Catalogue seed."),
    vendor: str = typer.Option(None, help="Only this vendor."),
    year: int = typer.Option(None, help="Only this release year."),
    ports: str = typer.Option(DEFAULT_PORTS_TEXT, help=PORTS_HELP + " (links point at them)."),
    base_url_host: str = typer.Option(HOST, help="Host in the links."),
) -> None:
    """Print what the sites serve that day, one JSON object per line."""
    if vendor is not None and vendor not in VENDOR_KEYS:
        raise typer.BadParameter(f"vendor must be one of {', '.join(VENDOR_KEYS)}", param_hint="--vendor")
    base_urls = {v: f"http://{base_url_host}:{p}" for v, p in zip(VENDOR_KEYS, _ports(ports), strict=True)}
    out = sys.stdout
    for row in truth_rows(_size(size), day, seed, base_urls, vendor, year):
        out.write(json.dumps(row.to_json_dict()) + "\n")
