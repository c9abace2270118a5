"""The job that reads each enabled vendor's year index with the browser, and where it leaves what it found.

A sensor tick must stay short (Dagster ends one after 60 s) and must not start browsers, so the reading is
this job's work: one `AssetObservation` of `year_index/<vendor>` per vendor read, its metadata `years` the
sorted year list. `sensors.new_year_links` requests this job and reads those observations back.
"""

import dagster as dg

from ornament_pipeline.integrations.errors import ScrapeError
from ornament_pipeline.pipeline.resources import ScraperResource, SettingsResource

JOB_NAME = "discover_year_links"
# Tag of the job (its op is in pool `year_index`); the sensor requests one only while none is queued or running.
DISCOVERY_TAG = "ornaments/year_index"


def year_index_key(vendor: str) -> dg.AssetKey:
    return dg.AssetKey(["year_index", vendor])


def observed_years(record: dg.EventLogRecord) -> list[int]:
    """The years of one `year_index/<vendor>` observation record."""
    observation = record.asset_observation
    if observation is None or "years" not in observation.metadata:
        raise ValueError(f"event {record.storage_id} is not a year index observation with `years`")
    years = observation.metadata["years"].value
    if not isinstance(years, list):
        raise ValueError(f"event {record.storage_id}: `years` is not a list")
    return [int(year) for year in years]


@dg.op(pool="year_index",
       description="Reads each enabled vendor's year index (bypassing the cache); one observation per vendor.")
def read_year_indexes(context: dg.OpExecutionContext, scraper: ScraperResource,
                      settings: SettingsResource) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    failures: list[str] = []
    for vendor in settings.get().enabled_vendors:
        try:
            with scraper.integration(vendor) as integration:
                url = integration.year_index_url
                years = sorted(integration.get_year_links(refresh=True))
        except ScrapeError as exc:
            # A cut-short or unreadable index is not "no years": nothing is observed, the run fails below.
            failures.append(f"{vendor}: {exc.url}: {exc.reason}")
            context.log.error("year index of %s not read: %s: %s", vendor, exc.url, exc.reason)
            continue
        except Exception as exc:  # noqa: BLE001 - one vendor's error must not hide the others' indexes
            failures.append(f"{vendor}: {type(exc).__name__}: {exc}"[:500])
            context.log.exception("year index of %s not read", vendor)
            continue
        context.log_event(dg.AssetObservation(year_index_key(vendor), metadata={
            "years": dg.MetadataValue.json(years), "year_count": len(years), "url": dg.MetadataValue.url(url)}))
        context.log.info("%s: %d year page(s) in %s", vendor, len(years), url)
        found[vendor] = years
    if failures:
        raise dg.Failure(f"year index not read for {len(failures)} vendor(s): " + "; ".join(failures),
                         metadata={"read": sorted(found), "failures": dg.MetadataValue.md(
                             "\n".join(f"- {failure}" for failure in failures))})
    return found


@dg.job(name=JOB_NAME, tags={DISCOVERY_TAG: "read"},
        description="Reads every enabled vendor's year index; `new_year_links` syncs the years that appeared.")
def discover_year_links() -> None:
    read_year_indexes()
