"""One error type for every page that could not be fetched or parsed, and the result of a year scrape."""

from __future__ import annotations

from dataclasses import dataclass, field

from ornament_pipeline.listing import Listing


class ScrapeError(Exception):
    """A page of `vendor` at `url` could not be fetched or parsed, for `reason`.

    `status` is the HTTP status when one was seen; `retryable` tells the fetch policy whether another
    attempt may succeed (timeouts, 429, 5xx, a crashed browser, a page cut short).
    """

    def __init__(
        self,
        vendor: str,
        url: str,
        reason: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{vendor}: {url}: {reason}")
        self.vendor = vendor
        self.url = url
        self.reason = reason
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after

    def to_json_dict(self) -> dict[str, object]:
        return {"vendor": self.vendor, "url": self.url, "reason": self.reason, "status": self.status}


class ParseError(ScrapeError):
    """The page arrived but lacks what must be there (or contradicts itself)."""


@dataclass
class YearScrape:
    """Every listing a year scrape got, and every page that failed. Never an empty success."""

    vendor: str
    year: int
    listings: list[Listing] = field(default_factory=list)
    failed_pages: list[ScrapeError] = field(default_factory=list)
    pages_visited: int = 0
    year_url: str | None = None  # None: the vendor has no page for this year

    @property
    def complete(self) -> bool:
        """True when every page of the year was scraped (the listings are the whole year)."""
        return not self.failed_pages
