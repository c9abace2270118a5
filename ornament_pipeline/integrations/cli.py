"""`ornaments scrape VENDOR --years | --year YEAR | --url URL` (registered by the CLI root)."""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from typing import Annotated, NoReturn

import typer

from ornament_pipeline.config import Politeness, Settings, VendorConfig, get_settings
from ornament_pipeline.integrations.errors import ScrapeError
from ornament_pipeline.integrations.registry import UnknownVendorError, get_integration
from ornament_pipeline.listing import Listing
from ornament_pipeline.vendors import LIVE_BASE_URLS, VENDOR_KEYS


class OutputFormat(StrEnum):
    json = "json"
    table = "table"


def _exit(code: int) -> NoReturn:
    """Exit with `code`. SystemExit, not typer.Exit: the root runs click with standalone_mode=False,
    where click turns typer.Exit into a return value and the exit code would be lost."""
    raise SystemExit(code)


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _failure(exc: ScrapeError) -> None:
    _err(f"failed: vendor={exc.vendor} url={exc.url} reason={exc.reason}")


def _settings_for(vendor: str, base_url: str | None) -> Settings:
    settings = get_settings()
    if base_url is None and vendor in settings.vendors:
        return settings
    current = settings.vendors.get(vendor)
    entry = VendorConfig(
        base_url=base_url or LIVE_BASE_URLS[vendor],
        enabled=current.enabled if current else True,
        politeness=current.politeness if current else Politeness(),
    )
    return settings.model_copy(update={"vendors": {**settings.vendors, vendor: entry}})


def _table(rows: list[dict[str, object]], columns: tuple[str, ...]) -> None:
    cells = [[("" if row[c] is None else str(row[c])) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _print_listings(listings: list[Listing], fmt: OutputFormat) -> None:
    rows = [listing.to_json_dict() for listing in listings]
    if fmt is OutputFormat.json:
        for row in rows:
            typer.echo(json.dumps(row))
    else:
        _table(rows, ("vendor_id", "sku", "name", "price", "availability", "release_year", "link"))


def scrape(
    vendor: Annotated[str, typer.Argument(help=f"One of: {', '.join(VENDOR_KEYS)}")],
    years: Annotated[bool, typer.Option("--years", help="List the vendor's year pages.")] = False,
    year: Annotated[int | None, typer.Option("--year", help="Scrape every listing of one year.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Scrape one product page.")] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Site root (default: <VENDOR>_BASE_URL or config).")
    ] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="json (one object a line) or table.")] = (
        OutputFormat.json
    ),
    refresh: Annotated[bool, typer.Option("--refresh", help="Ignore the cached year links.")] = False,
) -> None:
    """Scrape one vendor: its year links, one year's listings, or one product page."""
    if vendor not in VENDOR_KEYS:
        _err(f"error: {UnknownVendorError(f'unknown vendor {vendor!r}; expected one of {list(VENDOR_KEYS)}')}")
        _exit(2)
    if sum([years, year is not None, url is not None]) != 1:
        _err("error: give exactly one of --years, --year YEAR, --url URL")
        _exit(2)
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        _err(f"error: --base-url must start with http:// or https://, not {base_url!r}")
        _exit(2)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = _settings_for(vendor, base_url)
    def progress(message: str) -> None:
        if year is not None:
            _err(f"progress: {message}")

    with get_integration(vendor, settings, progress=progress) as integration:
        try:
            if years:
                links = integration.get_year_links(refresh=refresh)
                if fmt is OutputFormat.json:
                    for key, link in links.items():
                        typer.echo(json.dumps({"year": key, "url": link}))
                else:
                    _table([{"year": k, "url": v} for k, v in links.items()], ("year", "url"))
                return
            if url is not None:
                _print_listings([integration.get_ornament_by_url(url)], fmt)
                return
            assert year is not None
            result = integration.get_ornaments_by_year(year)
        except ScrapeError as exc:
            _failure(exc)
            _exit(1)
    _print_listings(result.listings, fmt)
    for failure in result.failed_pages:
        _failure(failure)
    status = "complete" if result.complete else f"INCOMPLETE, {len(result.failed_pages)} page(s) failed"
    if result.year_url is None and result.complete:
        status = "no page for this year"
    _err(f"{vendor} {year}: {len(result.listings)} listings from {result.pages_visited} pages; {status}")
    if not result.complete:
        _exit(1)

