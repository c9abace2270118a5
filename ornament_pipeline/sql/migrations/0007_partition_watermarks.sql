-- A resync writes only what changed: the observation time is kept per partition, not rewritten on every row.

-- One row per partition (vendor, year; a NULL year holds product-page syncs of listings of no known year).
-- `observed_at` is the watermark: the latest observation applied to the partition; an older one is stale and not
-- applied. `confirmed_at` is the latest complete scrape of the partition that saw every listed product (and
-- delisted the rest): a listed product was seen as it is at least then. `tracked_fields` are the history's tracked
-- fields at the last applied observation: while they stay the same, only rows the merge wrote can need a new
-- version; when they change (or are unknown), the next merge compares the whole partition.
CREATE TABLE partition_watermarks (
    vendor         TEXT        NOT NULL
                   CHECK (vendor IN ('hookedonhallmark_com', 'ornament_shop_com', 'hallmark_ornaments_com')),
    partition_year SMALLINT,
    observed_at    TIMESTAMPTZ NOT NULL,
    confirmed_at   TIMESTAMPTZ,
    tracked_fields TEXT[],
    CONSTRAINT partition_watermarks_key UNIQUE NULLS NOT DISTINCT (vendor, partition_year)
);

-- Until now every applied observation rewrote each row it saw (`last_synced_at`), so a partition's watermark is
-- the newest of its rows and of its applied scrapes; a scrape confirmed its partition when it was complete and its
-- delisting ran (merge_summary.delisting_skipped null).
INSERT INTO partition_watermarks (vendor, partition_year, observed_at, confirmed_at)
SELECT vendor, partition_year, max(observed_at), max(confirmed_at)
FROM (
    SELECT vendor, partition_year, last_synced_at AS observed_at, NULL::timestamptz AS confirmed_at FROM products
    UNION ALL
    SELECT vendor, partition_year, observed_at,
           CASE WHEN scope = 'partition' AND complete AND merge_summary->>'delisting_skipped' IS NULL
                THEN observed_at END
    FROM scrapes WHERE applied_at IS NOT NULL
) AS observations
GROUP BY vendor, partition_year;

-- The row keeps the time of the observation that last wrote it (inserted, changed, delisted or relisted it). Every
-- value stored so far is exactly that, since every observation wrote the row.
ALTER TABLE products RENAME COLUMN last_synced_at TO written_at;
