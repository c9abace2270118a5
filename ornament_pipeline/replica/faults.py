"""Faults the replica can inject, per vendor, with rates and a seed (all off by default).

Spec syntax (see README.md): segments separated by ';'. A segment `seed=N` sets the seed; any other
segment is `VENDOR:key=value,key=value` where VENDOR is a vendor key or `*` (all vendors).
Rate keys (0..1, per request): 500, 503, 429, slow, drop, truncate, noprice (product pages only).
Other keys: retry_after (seconds, default 1), slow_seconds (default 1.5), robots (a path prefix that
robots.txt disallows; several joined with '|'), truncate_at (0..1: `truncate` and `drop` always keep that
fraction of the body, as a server or proxy with a size limit cuts every load at the same place; default:
a random 30-80% per request).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from ornament_pipeline.vendors import VENDOR_KEYS

# Checked in this order against one uniform draw per request; their rates add up.
REQUEST_FAULTS = ("500", "503", "429", "slow", "drop", "truncate")
RATE_KEYS = (*REQUEST_FAULTS, "noprice")


class FaultSpecError(ValueError):
    """A --faults spec that cannot be parsed; the message says which part and why."""


@dataclass
class VendorFaults:
    """One vendor's fault settings."""

    rates: dict[str, float] = field(default_factory=dict)
    retry_after: int = 1
    slow_seconds: float = 1.5
    robots: tuple[str, ...] = ()
    truncate_at: float | None = None

    def to_spec(self) -> str:
        parts = [f"{k}={v:g}" for k, v in self.rates.items() if v]
        if self.retry_after != 1:
            parts.append(f"retry_after={self.retry_after}")
        if self.slow_seconds != 1.5:
            parts.append(f"slow_seconds={self.slow_seconds:g}")
        if self.robots:
            parts.append("robots=" + "|".join(self.robots))
        if self.truncate_at is not None:
            parts.append(f"truncate_at={self.truncate_at:g}")
        return ",".join(parts)


@dataclass
class FaultPlan:
    """Parsed faults for all vendors."""

    seed: int = 0
    vendors: dict[str, VendorFaults] = field(default_factory=lambda: {v: VendorFaults() for v in VENDOR_KEYS})

    def to_spec(self) -> str:
        segments = [f"{v}:{f.to_spec()}" for v, f in self.vendors.items() if f.to_spec()]
        return ";".join([f"seed={self.seed}", *segments]) if segments else ""


def parse_faults(spec: str | None) -> FaultPlan:
    """Parse a fault spec; an empty or None spec means no faults."""
    plan = FaultPlan()
    for segment in (s.strip() for s in (spec or "").split(";")):
        if not segment:
            continue
        if segment.startswith("seed="):
            try:
                plan.seed = int(segment[5:])
            except ValueError:
                raise FaultSpecError(f"seed must be an integer: {segment!r}") from None
            continue
        vendor, sep, body = segment.partition(":")
        if not sep:
            raise FaultSpecError(f"expected VENDOR:key=value,... or seed=N, got {segment!r}")
        vendor = vendor.strip()
        targets = VENDOR_KEYS if vendor in ("*", "all") else (vendor,)
        if vendor not in VENDOR_KEYS and vendor not in ("*", "all"):
            raise FaultSpecError(f"unknown vendor {vendor!r} (one of {', '.join(VENDOR_KEYS)} or *)")
        for item in (i.strip() for i in body.split(",")):
            if not item:
                continue
            key, eq, value = item.partition("=")
            if not eq:
                raise FaultSpecError(f"expected key=value, got {item!r}")
            for target in targets:
                _apply(plan.vendors[target], key.strip(), value.strip(), item)
    return plan


def _apply(faults: VendorFaults, key: str, value: str, item: str) -> None:
    try:
        if key in RATE_KEYS:
            rate = float(value)
            if not 0 <= rate <= 1:
                raise FaultSpecError(f"rate must be between 0 and 1: {item!r}")
            faults.rates[key] = rate
        elif key == "retry_after":
            faults.retry_after = int(value)
        elif key == "slow_seconds":
            faults.slow_seconds = float(value)
        elif key == "robots":
            faults.robots = tuple(p for p in value.split("|") if p)
        elif key == "truncate_at":
            faults.truncate_at = float(value)
            if not 0 <= faults.truncate_at < 1:
                raise FaultSpecError(f"truncate_at must be at least 0 and below 1: {item!r}")
        else:
            raise FaultSpecError(f"unknown fault {key!r} in {item!r} (known: {', '.join(RATE_KEYS)}, "
                                 "retry_after, slow_seconds, robots, truncate_at)")
    except ValueError as exc:
        if isinstance(exc, FaultSpecError):
            raise
        raise FaultSpecError(f"bad value in {item!r}") from None
    if sum(faults.rates.get(k, 0) for k in REQUEST_FAULTS) > 1:
        raise FaultSpecError("request fault rates of one vendor add up to more than 1")


class FaultDice:
    """Draws faults request by request: one seeded stream per vendor, so a run is reproducible."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._lock = threading.Lock()
        self._rngs = {v: random.Random(f"faults:{plan.seed}:{v}") for v in VENDOR_KEYS}

    def draw(self, vendor: str, product_page: bool) -> Decision:
        """The faults for the next request to `vendor`."""
        rates = self.plan.vendors[vendor].rates
        if not any(rates.values()):
            return NO_FAULT
        with self._lock:
            rng = self._rngs[vendor]
            u, u_price, u_cut = rng.random(), rng.random(), rng.random()
        acc = 0.0
        fault = None
        for key in REQUEST_FAULTS:
            acc += rates.get(key, 0.0)
            if u < acc:
                fault = key
                break
        cut = self.plan.vendors[vendor].truncate_at
        return Decision(fault, product_page and u_price < rates.get("noprice", 0.0),
                        0.3 + 0.5 * u_cut if cut is None else cut)


@dataclass(frozen=True)
class Decision:
    """What goes wrong with one request: a request fault, a missing price, where to cut the body."""

    fault: str | None = None
    noprice: bool = False
    cut: float = 0.5  # fraction of the body kept by `truncate` and `drop`


NO_FAULT = Decision()
