"""`ornaments scrape ...` (placeholder until the integrations land)."""

import typer


def scrape(vendor: str) -> None:
    """Scrape one vendor (not implemented yet)."""
    raise typer.Exit(2)
