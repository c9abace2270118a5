"""`ornaments sync`: the old integrator's four syncs, launched on a running Dagster (`ornaments dev`)."""

from typing import Annotated

import typer

from ornament_pipeline.config import get_settings
from ornament_pipeline.pipeline.launch import Dagster, LaunchError


def sync(
    vendor: str | None = typer.Option(None, help="Every year of this vendor (a backfill)."),
    year: int | None = typer.Option(None, help="Every vendor for this year; with --vendor, one partition."),
    product_id: Annotated[list[int] | None, typer.Option("--id", help="Re-read these products (repeatable).")] = None,
    query: str | None = typer.Option(None, help="Re-read products whose name or SKU contains this text."),
    dagster_url: str | None = typer.Option(None, help="Dagster webserver [default: server.dagster_url]."),
) -> None:
    """Start a sync by vendor, by year, by product id or by query; prints the backfill or run id."""
    chosen = [bool(vendor or year), bool(product_id), query is not None]
    if sum(chosen) != 1:
        raise typer.BadParameter("give --vendor and/or --year, or --id, or --query (one kind of sync)")
    client = Dagster(dagster_url or get_settings().server.dagster_url)
    try:
        if product_id:
            run_id = client.run_job("sync_by_id", {"ops": {"resync_by_id": {"config": {"product_ids": product_id}}}})
            typer.echo(f"run {run_id}")
            return
        if query is not None:
            config = {"text": query, "vendor": vendor, "year": year}
            run_id = client.run_job("sync_by_query", {"ops": {"resync_by_query": {"config": config}}})
            typer.echo(f"run {run_id}")
            return
        partitions = client.sync_partitions(vendor, year)
        title = f"sync {vendor or 'all vendors'} {year or 'all years'}"
        typer.echo(f"backfill {client.backfill(partitions, title)} ({len(partitions)} partitions)")
    except LaunchError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
