"""What a running scrape reports while it works: one reporter that the integration and the fetcher call with
structured events (pages done and known, listings so far, retries, failed pages), turned into log lines.

The lines go to a `logging.Logger`: Python logging by default (the CLI), or Dagster's `context.log` (a
`logging.Logger` too), which puts them in the run's event log. A heartbeat thread writes a line whenever
nothing was said for `HEARTBEAT_SECONDS`, so a slow page load or a backoff sleep never leaves the log silent.
Dagster's log manager may be called from that thread: its handler serialises `emit` under the handler lock and
keeps its re-entrancy guard per thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
# The promise is a line at least every 10 s; the heartbeat fires earlier to leave room for a loaded machine.
HEARTBEAT_SECONDS = 8.0


@dataclass
class _Phase:
    scope: str  # "vendor year"
    name: str  # "listing pages", "product pages of tiles", ...
    expected: int | None  # pages known to exist (None: not known)
    done: int = 0
    failed: int = 0
    listings: int | None = None  # listings found so far (listing pages only)
    announced: int | None = None  # the product count the first page shows


class ScrapeProgress:
    """Progress of one scrape. Use as a context manager to run the heartbeat (re-entrant); events may come
    from any thread. `sink` is a logger, or a `str -> None` callable (the CLI's), for every line."""

    def __init__(self, sink: logging.Logger | Callable[[str], None] | None = None, *,
                 heartbeat_seconds: float = HEARTBEAT_SECONDS) -> None:
        if sink is None:
            sink = log
        if isinstance(sink, logging.Logger):
            self._emit: Callable[[int, str], None] = sink.log
        else:
            callback = sink
            self._emit = lambda level, message: callback(message)
        self.heartbeat_seconds = heartbeat_seconds
        self._lock = threading.Lock()
        self._phases: list[_Phase] = []
        self._loading: dict[int, tuple[str, float]] = {}  # per thread: URL and since when
        self._waiting: dict[int, tuple[str, float]] = {}  # per thread: URL and when its retry starts
        self._last_line = time.monotonic()
        self._active = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> ScrapeProgress:
        with self._lock:
            self._active += 1
            if self._active == 1:
                self._stop.clear()
                self._last_line = time.monotonic()
                self._thread = threading.Thread(target=self._beat, name="scrape-progress", daemon=True)
                self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._active -= 1
            thread = self._thread if self._active == 0 else None
            if thread is not None:
                self._thread = None
                self._stop.set()
        if thread is not None:
            thread.join()

    def _beat(self) -> None:
        while True:
            with self._lock:
                due = self._last_line + self.heartbeat_seconds - time.monotonic()
            if due > 0:
                if self._stop.wait(due):
                    return
                continue
            if self._stop.is_set():
                return
            self._line(logging.INFO, self._status())

    def _line(self, level: int, message: str) -> None:
        with self._lock:
            self._last_line = time.monotonic()
        self._emit(level, message)

    def _status(self) -> str:
        """The heartbeat: where the current phase stands and what the scrape is waiting for."""
        now = time.monotonic()
        with self._lock:
            phase = self._phases[-1] if self._phases else None
            loading = sorted(self._loading.values(), key=lambda item: item[1])
            waiting = sorted(self._waiting.values(), key=lambda item: item[1])
        head = f"{phase.scope}: {phase.name}: {self._counts(phase)}" if phase else "scrape"
        doing = [f"retrying {url} in {max(0.0, at - now):.1f}s" for url, at in waiting]
        doing += [f"loading {url} for {now - since:.0f}s" for url, since in loading]
        return f"{head}; still working" + (f" ({'; '.join(doing)})" if doing else "")

    @staticmethod
    def _counts(phase: _Phase) -> str:
        text = f"{phase.done} of {phase.expected if phase.expected is not None else '?'} pages done"
        if phase.failed:
            text += f", {phase.failed} failed"
        if phase.listings is not None:
            text += f", {phase.listings} listings so far"
            if phase.announced is not None:
                text += f" (the site says {phase.announced})"
        return text

    # -- phases ----------------------------------------------------------------------------------
    @contextmanager
    def phase(self, scope: str, name: str, expected: int | None = None) -> Iterator[None]:
        """A stretch of pages (`expected`: how many are known now); says when it starts and how it ended."""
        current = _Phase(scope, name, expected)
        with self._lock:
            self._phases.append(current)
        self._line(logging.INFO, f"{scope}: {name}: started"
                   + (f", {expected} page{'' if expected == 1 else 's'} to read" if expected is not None else ""))
        try:
            yield
        finally:
            with self._lock:
                self._phases.remove(current)
            self._line(logging.INFO, f"{scope}: {name}: finished, {self._counts(current)}")

    def _current(self) -> _Phase | None:
        return self._phases[-1] if self._phases else None

    def expect(self, pages: int) -> None:
        """`pages` more pages of the current phase are known to exist (a next page, sub-categories)."""
        with self._lock:
            phase = self._current()
            if phase is not None:
                phase.expected = (phase.expected or phase.done + phase.failed) + pages

    def listing_page_done(self, url: str, shown: int, listings: int, announced: int | None = None) -> None:
        """A listing page was read: `shown` tiles on it, `listings` distinct so far, `announced` the site's count."""
        with self._lock:
            phase = self._current()
            if phase is None:
                return
            phase.done += 1
            phase.listings = listings
            if announced is not None and phase.announced is None:
                phase.announced = announced
            message = f"{phase.scope}: {phase.name}: page {phase.done} read ({shown} tiles), {self._counts(phase)}"
        self._line(logging.INFO, message)

    def page_done(self) -> None:
        """A page of the current phase (a product page) was read; the heartbeat and phase end summarise these."""
        with self._lock:
            phase = self._current()
            if phase is not None:
                phase.done += 1

    def failed(self, vendor: str, url: str, reason: str, status: int | None = None) -> None:
        """A page could not be read (after its retries): named with its reason."""
        with self._lock:
            phase = self._current()
            if phase is not None:
                phase.failed += 1
        self._line(logging.WARNING, f"{vendor}: page failed: {url}: {reason}"
                   + (f" (HTTP {status})" if status is not None and f"HTTP {status}" not in reason else ""))

    def counting(self, read: Callable[[str], T], vendor: str) -> Callable[[str], T]:
        """`read(url)` with each page counted as done, or reported as failed with its reason, in the current phase."""

        def counted(url: str) -> T:
            try:
                value = read(url)
            except Exception as exc:
                self.failed(vendor, getattr(exc, "url", url), getattr(exc, "reason", str(exc)),
                            getattr(exc, "status", None))
                raise
            self.page_done()
            return value

        return counted

    # -- the fetcher's events --------------------------------------------------------------------
    @contextmanager
    def loading(self, url: str) -> Iterator[None]:
        """A page load in progress (the heartbeat names it and how long it has taken)."""
        key = threading.get_ident()
        with self._lock:
            self._loading[key] = (url, time.monotonic())
        try:
            yield
        finally:
            with self._lock:
                self._loading.pop(key, None)

    def retry(self, vendor: str, url: str, attempt: int, status: int | None, reason: str, delay: float) -> None:
        """Attempt `attempt` at `url` failed (`status`, `reason`); the next starts in `delay` seconds."""
        with self._lock:
            self._waiting[threading.get_ident()] = (url, time.monotonic() + delay)
        self._line(logging.WARNING, f"{vendor}: retry {attempt} of {url} in {delay:.1f}s: "
                   f"status {status if status is not None else 'none'}, {reason}")

    def retrying(self) -> None:
        """The backoff of this thread's retry is over."""
        with self._lock:
            self._waiting.pop(threading.get_ident(), None)

    def note(self, message: str, level: int = logging.INFO) -> None:
        self._line(level, message)


def as_progress(progress: ScrapeProgress | Callable[[str], None] | logging.Logger | None) -> ScrapeProgress:
    """A reporter from what a caller passed: a reporter, a logger, a `str -> None` callable, or None (logging)."""
    return progress if isinstance(progress, ScrapeProgress) else ScrapeProgress(progress)
