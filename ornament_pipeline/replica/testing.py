"""`running_replica()`: the three sites on free ports in a background thread, for tests and benchmarks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from ornament_pipeline.listing import Listing
from ornament_pipeline.replica.catalogue import DEFAULT_SEED
from ornament_pipeline.replica.clock import truth
from ornament_pipeline.replica.server import Replica, ReplicaRunner, bind_all, serve_in_thread


@dataclass
class ReplicaHandle:
    """A running replica: where it is, and its admin interface as methods."""

    base_urls: dict[str, str]
    admin_url: str
    size: str
    seed: int
    day: int
    faults: str | None = None
    _client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30), repr=False)

    def _post(self, path: str, payload: dict) -> dict:
        response = self._client.post(self.admin_url + path, json=payload)
        if response.status_code != 200:
            raise ValueError(f"replica admin {path}: {response.json().get('error', response.text)}")
        return response.json()

    def set_day(self, day: int) -> None:
        """Move the replica's clock to `day` (takes effect for the next request)."""
        self.day = self._post("/day", {"day": day})["day"]

    def set_faults(self, spec: str | None) -> None:
        """Replace the fault plan (README.md has the syntax); None or "" switches faults off."""
        self.faults = self._post("/faults", {"spec": spec or ""})["faults"] or None

    def set_options(self, vendor: str, **options: str) -> None:
        """Site options, e.g. set_options("hookedonhallmark_com", index_layout="sub-categories")."""
        self._post("/options", {vendor: options})

    def truth(self, vendor: str | None = None, year: int | None = None) -> list[Listing]:
        """What the sites serve now (the current day)."""
        return truth(self.size, self.day, self.seed, self.base_urls, vendor, year)


@contextmanager
def running_replica(size: str = "small", day: int = 0, seed: int = DEFAULT_SEED, faults: str | None = None,
                    ports: tuple[int, int, int] | None = None,
                    admin_port: int | None = None) -> Iterator[ReplicaHandle]:
    """Serve the replica until the block exits; ports=None picks free ports."""
    bound = bind_all(ports, admin_port)
    try:
        replica = Replica(size, seed, day, bound.base_urls, faults)
    except Exception:
        bound.close()
        raise
    runner = ReplicaRunner(replica, bound)
    thread = serve_in_thread(runner)
    handle = ReplicaHandle(bound.base_urls, bound.admin_url, size, seed, day, faults)
    try:
        yield handle
    finally:
        handle._client.close()
        runner.stop()
        thread.join(timeout=15)
