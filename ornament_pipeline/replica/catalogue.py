"""The replica's deterministic catalogue: Hallmark designs and each vendor's listings of them.

Everything here is a pure function of (size, seed): the same arguments give the same catalogue in
every process. What changes from day to day (price, stock, which listings are up) lives in clock.py.
"""

from __future__ import annotations

import datetime as _dt
import random
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from ornament_pipeline.vendors import FIRST_YEAR, HALLMARK_ORNAMENTS, HOOKEDONHALLMARK, ORNAMENT_SHOP

SIZES = ("small", "full")
DEFAULT_SEED = 20201225
LAST_YEAR = _dt.date.today().year

# Designs released per year, roughly Hallmark's curve (18 in 1973, ~200 around 2000, ~450 lately).
_CURVE = ((1973, 18), (1974, 20), (1976, 40), (1980, 60), (1985, 110), (1990, 150), (1995, 180),
          (2000, 200), (2005, 260), (2010, 330), (2014, 390), (2018, 430), (2020, 450), (2100, 450))

# `small`: every year present, few designs a year; these years have enough for several pages.
SMALL_RICH_YEARS = {1975: 40, 1998: 44, 2005: 36, 2020: 48}

# Real series: (name, first year, last year, name template). {n} is the ordinal in the series.
SERIES: tuple[tuple[str, int, int, str], ...] = (
    ("Betsey Clark", 1973, 1985, "Betsey Clark {n} in Series"),
    ("Frosty Friends", 1980, 2100, "Frosty Friends {n} in Series"),
    ("Here Comes Santa", 1979, 2100, "Here Comes Santa {n} in Series"),
    ("Rocking Horse", 1981, 1996, "Rocking Horse {n} in Series"),
    ("Nostalgic Houses and Shops", 1984, 2100, "Nostalgic Houses and Shops {n} in Series"),
    ("Thimble", 1978, 1989, "Thimble {n} in Series"),
    ("Carousel", 1978, 1983, "Carousel {n} in Series"),
    ("Snoopy and Friends", 1979, 1983, "Snoopy and Friends {n} in Series"),
    ("Norman Rockwell", 1980, 1989, "Norman Rockwell {n} in Series"),
    ("Holiday Wildlife", 1982, 1988, "Holiday Wildlife {n} in Series"),
    ("Clothespin Soldier", 1982, 1987, "Clothespin Soldier {n} in Series"),
    ("Tin Locomotive", 1982, 1989, "Tin Locomotive {n} in Series"),
    ("Twelve Days of Christmas", 1984, 1995, "Twelve Days of Christmas {n} in Series"),
    ("Mr. and Mrs. Claus", 1986, 1995, "Mr. and Mrs. Claus {n} in Series"),
    ("Reindeer Champs", 1986, 1993, "Reindeer Champs {n} in Series"),
    ("Mary's Angels", 1988, 2100, "Mary's Angels {n} in Series"),
    ("Puppy Love", 1991, 2100, "Puppy Love {n} in Series"),
    ("Classic American Cars", 1991, 2100, "Classic American Cars {n} in Series"),
    ("Star Trek", 1991, 2100, "Star Trek {n} in Series"),
    ("Holiday Barbie", 1993, 2100, "Holiday Barbie {n} in Series"),
    ("Kiddie Car Classics", 1994, 2100, "Kiddie Car Classics {n} in Series"),
    ("Star Wars", 1996, 2100, "Star Wars {n} in Series"),
    ("Lionel Trains", 1996, 2100, "Lionel Trains {n} in Series"),
    ("Snow Buddies", 1998, 2100, "Snow Buddies {n} in Series"),
    ("Harry Potter", 2000, 2100, "Harry Potter {n} in Series"),
    ("Marvel Studios", 2014, 2100, "Marvel Studios {n} in Series"),
)
LICENSED = ("Star Wars", "Star Trek", "Holiday Barbie", "Harry Potter", "Marvel Studios", "Lionel Trains")
# One-off designs: (theme, first year it makes sense).
THEMES: tuple[tuple[str, int], ...] = (
    ("Baby's First Christmas", 1976), ("Our First Christmas Together", 1977), ("Mom", 1976),
    ("Dad", 1980), ("Grandmother", 1977), ("Grandson", 1977), ("Granddaughter", 1977),
    ("Teacher", 1979), ("Son", 1980), ("Daughter", 1980), ("Godchild", 1981), ("Friendship", 1979),
    ("Angel", 1973), ("Santa", 1973), ("Snowman", 1973), ("Little Drummer Boy", 1974),
    ("Nutcracker", 1976), ("Christmas Tree", 1973), ("Elf", 1973), ("Mrs. Santa", 1973),
    ("Raggedy Ann", 1974), ("Raggedy Andy", 1974), ("Drummer Boy", 1975), ("Soldier", 1973),
    ("Snoopy", 1977), ("Peanuts", 1977), ("Mickey Mouse", 1977), ("Winnie the Pooh", 1979),
    ("Norman Rockwell", 1974), ("Charmers", 1974), ("Currier & Ives", 1974), ("Yesteryears", 1976),
    ("Bellringer", 1977), ("Holiday Highlights", 1977), ("Christmas Kitty", 1989),
    ("Santa's Workshop", 1980), ("Reindeer", 1973), ("Teddy Bear", 1980), ("Candy Cane", 1983),
    ("Gingerbread House", 1984), ("Star of Bethlehem", 1976), ("Nativity", 1977), ("Toy Train", 1976),
    ("Polar Bear", 1985), ("Penguin Pal", 1988), ("Cardinal", 1976), ("Rocking Chair", 1990),
    ("Cookie Jar", 1992), ("Stocking", 1982), ("Wreath", 1979),
)
VARIANTS = ("", "", "", " (Adorable)", " (Glass Ball)", " (Porcelain)", " (Photo Holder)", " (Blown Glass)",
            " (Handcrafted)", " (Musical)", " (Magic Light)", " (Acrylic)", " (Yarn)", " (Satin)")

CONDITIONS: dict[str, tuple[str, ...]] = {
    HOOKEDONHALLMARK: ("MIB", "NB", "DB", "SDB", "NT", "HTF"),
    ORNAMENT_SHOP: ("MIB", "NB", "DB", "MIP", "NT"),
    HALLMARK_ORNAMENTS: ("NB", "MIB", "DB", "SDB", "MNT", "SPOT", "YELW", "OPEN", "KOC"),
}
CONDITION_FACTOR = {"MIB": 1.0, "MIP": 1.0, "NB": 0.6, "DB": 0.8, "SDB": 0.9, "NT": 0.75, "MNT": 0.85,
                    "HTF": 1.35, "KOC": 1.2, "SPOT": 0.7, "YELW": 0.65, "OPEN": 0.85, None: 1.0}
# (share of designs carried, price factor)
VENDOR_PROFILE = {HOOKEDONHALLMARK: (0.66, 1.0), ORNAMENT_SHOP: (0.5, 1.12), HALLMARK_ORNAMENTS: (0.46, 0.94)}
ORNAMENT_SHOP_MISSING_YEARS = (1973, 1974)  # no category at all: an empty partition


@dataclass(frozen=True)
class Design:
    """One Hallmark Keepsake ornament (what an item number identifies)."""

    item_number: str
    year: int
    title: str  # without the year: "Frosty Friends 41st in Series"
    group: str  # sub-category it falls in on hookedonhallmark: a series name, "Licensed", ...
    base_price: float


@dataclass(frozen=True)
class CatalogueListing:
    """One vendor's listing of a design in one condition; fixed for all days."""

    vendor: str
    vendor_id: int
    design: Design
    condition: str | None  # None: the SKU carries no condition code
    name: str
    slug: str
    base_price: float
    first_day: int  # new listings appear on this day (<= 0: present from the start)
    variant: int  # 0..999, picks markup variants (sale display, dl rows, _3d_item types, ...)
    brand: str | None

    @property
    def sku(self) -> str:
        return self.design.item_number + (self.condition or "")

    @property
    def year(self) -> int:
        return self.design.year


@dataclass(frozen=True)
class Catalogue:
    """All designs and listings for one (size, seed)."""

    size: str
    seed: int
    years: tuple[int, ...]
    designs: tuple[Design, ...]
    listings: dict[str, tuple[CatalogueListing, ...]]  # vendor -> listings, sorted by (year, name, id)

    def vendor_years(self, vendor: str) -> tuple[int, ...]:
        """Years for which the vendor has a category page."""
        if vendor == ORNAMENT_SHOP:
            return tuple(y for y in self.years if y not in ORNAMENT_SHOP_MISSING_YEARS)
        return self.years


def designs_per_year(year: int) -> int:
    """Hallmark's release count for `year`, interpolated along _CURVE."""
    for (y0, c0), (y1, c1) in zip(_CURVE, _CURVE[1:], strict=False):
        if y0 <= year <= y1:
            return round(c0 + (c1 - c0) * (year - y0) / (y1 - y0))
    raise ValueError(year)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def slugify(text: str, sep: str = "-") -> str:
    """'2020 Frosty Friends 41st in Series' -> '2020-Frosty-Friends-41st-in-Series'."""
    return re.sub(r"[^A-Za-z0-9]+", sep, text.replace("'", "").replace("&", "and")).strip(sep)


def _item_number(rng: random.Random, year: int, kind: str, used: set[str]) -> str:
    while True:
        if year == 1973:
            number = f"XHD{rng.randrange(100, 999)}"
        elif kind == "mini":
            number = f"QXM{rng.randrange(1000, 9999)}"
        elif kind == "licensed":
            number = f"QXI{rng.randrange(1000, 9999)}"
        elif year >= 2008 and rng.random() < 0.35:
            number = f"{rng.choice(('QXG', 'QXR'))}{rng.randrange(1000, 9999)}"
        elif year < 1990:
            number = f"QX{rng.randrange(100, 999)}{rng.randrange(1, 10)}"
        else:
            number = f"QX{rng.randrange(1000, 9999)}"
        if number not in used:
            used.add(number)
            return number


def _base_price(rng: random.Random, year: int) -> float:
    age = LAST_YEAR - year
    price = 9.0 + 0.55 * age + rng.lognormvariate(1.6, 0.7)
    if rng.random() < 0.004:  # a rare few into the thousands
        price *= rng.uniform(15, 60)
    return price


def _designs(size: str, seed: int, years: tuple[int, ...]) -> list[Design]:
    rng = random.Random(f"designs:{seed}")
    used: set[str] = set()
    designs: list[Design] = []
    for year in years:
        count = designs_per_year(year)
        if size == "small":
            count = SMALL_RICH_YEARS.get(year, 3 if year % 5 else 5)
        titles: set[str] = set()
        series = [s for s in SERIES if s[1] <= year <= s[2]]
        themes = [t for t, first in THEMES if first <= year]
        for i in range(count):
            if i < len(series) and (size == "full" or rng.random() < 0.5):
                name, first, _, template = series[i]
                title = template.format(n=ordinal(year - first + 1))
                group = "Licensed" if name in LICENSED else name if year % 2 else "Series"
                kind = "licensed" if name in LICENSED else "std"
            else:
                theme = rng.choice(themes)
                kind = "mini" if year >= 1988 and rng.random() < 0.15 else "std"
                title = theme + rng.choice(VARIANTS) + (" Miniature" if kind == "mini" else "")
                if title in titles:  # same theme twice in a year: Hallmark adds a number
                    title = f"{title} {sum(t.startswith(title) for t in titles) + 1}"
                group = "Miniature Ornaments" if kind == "mini" else "Keepsake Ornaments"
            titles.add(title)
            designs.append(Design(_item_number(rng, year, kind, used), year, title, group,
                                  _base_price(rng, year)))
    return designs


def _name(vendor: str, design: Design, condition: str | None) -> str:
    base = f"{design.year} {design.title}"
    if vendor == ORNAMENT_SHOP:
        return base + (f" - {condition}" if condition and condition != "MIB" else "")
    return base + (f" {condition}" if condition else "")


def _listings(vendor: str, seed: int, designs: list[Design], every_year: bool) -> tuple[CatalogueListing, ...]:
    """The vendor's listings; every_year: carry at least one design of every year (small catalogues)."""
    rng = random.Random(f"listings:{seed}:{vendor}")
    years_carried: set[int] = set()
    share, factor = VENDOR_PROFILE[vendor]
    codes = CONDITIONS[vendor]
    chosen: list[tuple[Design, str | None]] = []
    for i, design in enumerate(designs):
        if vendor == ORNAMENT_SHOP and design.year in ORNAMENT_SHOP_MISSING_YEARS:
            continue
        last_of_year = design is designs[-1] or designs[i + 1].year != design.year
        if rng.random() >= share and not (every_year and last_of_year and design.year not in years_carried):
            continue
        years_carried.add(design.year)
        n = 1 if rng.random() < 0.7 else 2 if rng.random() < 0.75 else 3
        conditions: list[str | None] = rng.sample(codes, n)
        if vendor == ORNAMENT_SHOP and design.year >= LAST_YEAR - 1:
            conditions = [None]  # new stock: no condition code at all
        elif conditions[0] == "MIB" and rng.random() < 0.3:
            conditions[0] = None  # an SKU without a condition code
        chosen.extend((design, c) for c in conditions)
    id_base = {HOOKEDONHALLMARK: 1000, ORNAMENT_SHOP: 100, HALLMARK_ORNAMENTS: 15000}[vendor]
    ids = rng.sample(range(id_base, id_base + 3 * len(chosen) + 10), len(chosen))
    out = []
    for (design, condition), vendor_id in zip(chosen, ids, strict=True):
        name = _name(vendor, design, condition)
        if vendor == ORNAMENT_SHOP:
            slug = slugify(f"{design.year} {design.title} {design.item_number} {condition or ''}").lower()
        else:
            slug = slugify(name)
        price = design.base_price * factor * CONDITION_FACTOR[condition] * rng.uniform(0.85, 1.2)
        first_day = 0 if rng.random() < 0.9 else rng.randrange(1, 400)
        brand = "Hallmark" if vendor == ORNAMENT_SHOP and rng.random() < 0.85 else None
        out.append(CatalogueListing(vendor, vendor_id, design, condition, name, slug, price, first_day,
                                    rng.randrange(1000), brand))
    out.sort(key=lambda li: (li.year, li.name, li.vendor_id))
    return tuple(out)


@lru_cache(maxsize=4)
def catalogue(size: str = "small", seed: int = DEFAULT_SEED) -> Catalogue:
    """The catalogue for (size, seed); cached, and identical in every process."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, not {size!r}")
    years = tuple(range(FIRST_YEAR, LAST_YEAR + 1))
    designs = _designs(size, seed, years)
    vendors = (HOOKEDONHALLMARK, ORNAMENT_SHOP, HALLMARK_ORNAMENTS)
    listings = {v: _listings(v, seed, designs, size == "small") for v in vendors}
    return Catalogue(size, seed, years, tuple(designs), listings)


def money(value: float) -> Decimal:
    """A shelf price: whole dollars ending .95, .99 or .00 the way resellers price."""
    dollars = max(3, int(value))
    cents = (".95", ".99", ".00", ".95")[dollars % 4]
    return Decimal(f"{dollars}{cents}")
