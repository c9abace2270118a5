-- Triggers that ran once per row run once per statement: a merge's cost follows its statements, not its rows.

-- Staging a scrape's listings checks their scrape once per statement, not once per listing: the foreign key's
-- per-row trigger was most of the cost of staging (its COPY took about twice as long with it). The checks below
-- hold what the key held, and one more thing: listings are staged only into a scrape that exists and is still
-- pending (one already applied would never be read again, so its listings would be lost without a word).

ALTER TABLE scrape_listings DROP CONSTRAINT scrape_listings_scrape_id_fkey;

CREATE FUNCTION scrape_listings_into_pending_scrapes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing BIGINT;
BEGIN
    -- KEY SHARE, as the foreign key took: no scrape is deleted under listings being staged into it.
    PERFORM 1 FROM scrapes WHERE id IN (SELECT scrape_id FROM staged) FOR KEY SHARE;
    SELECT n.scrape_id INTO missing
    FROM (SELECT DISTINCT scrape_id FROM staged) n LEFT JOIN scrapes s ON s.id = n.scrape_id
    WHERE s.id IS NULL OR s.applied_at IS NOT NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('scrape_listings: scrape %s does not exist or is already applied', missing),
            HINT = 'stage listings in the transaction that records their scrape (warehouse.scrapes.record_scrape)';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER scrape_listings_inserted_into_pending_scrapes
    AFTER INSERT ON scrape_listings REFERENCING NEW TABLE AS staged
    FOR EACH STATEMENT EXECUTE FUNCTION scrape_listings_into_pending_scrapes();
CREATE TRIGGER scrape_listings_updated_into_pending_scrapes
    AFTER UPDATE ON scrape_listings REFERENCING NEW TABLE AS staged
    FOR EACH STATEMENT EXECUTE FUNCTION scrape_listings_into_pending_scrapes();

-- ON DELETE CASCADE, as the key had it.
CREATE FUNCTION scrapes_deleted_take_their_listings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM scrape_listings WHERE scrape_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$;

CREATE TRIGGER scrapes_deleted_take_their_listings
    AFTER DELETE ON scrapes REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION scrapes_deleted_take_their_listings();

-- Live listeners are woken once per statement that writes change events, not once per event (a first sync of a
-- partition wrote hundreds of NOTIFYs in one transaction). The payload is the statement's newest event id; the
-- auditor reads by cursor, so the payload only says "look now", as before.
DROP TRIGGER change_events_notify ON change_events;
DROP FUNCTION notify_change_event();
CREATE FUNCTION notify_change_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    newest BIGINT;
BEGIN
    SELECT max(id) INTO newest FROM added;
    IF newest IS NOT NULL THEN
        PERFORM pg_notify('change_events', newest::text);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER change_events_notify AFTER INSERT ON change_events REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION notify_change_events();
