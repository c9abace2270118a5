"""`change_events` as a stream: the watermark below which the stream is final, for every reader.

Ids and txids are handed out at INSERT, not at COMMIT, so a reader must not pass an event that a still-running
transaction may yet commit. Readers (the auditor, the API's feed) take the watermark, then read events with
`(txid, id) > cursor AND txid < watermark` in a later statement, in (txid, id) order.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

# The watermark: every event with a txid below it is final (committed or rolled back, none can appear later).
# It is the oldest transaction of this database that was running when this statement began (snapshot S1) and
# still is when pg_stat_activity is read (during the statement); with none, S1's xmax. The batch is then read
# in a later statement (snapshot S2, READ COMMITTED), which sees every transaction that finished before the
# activity read. Running transactions of other databases (the xid counter is cluster-wide) are ignored, so a
# busy neighbour database does not hold alerts back. A role that cannot see other roles' backend_xid (needs
# pg_read_all_stats) cannot tell "finished" from "hidden", so then every running transaction counts: slower,
# never lossy.
_WATERMARK = """
WITH snap AS (SELECT pg_current_snapshot() AS s),
ours AS (
    SELECT a.backend_xid::text::bigint AS xid32 FROM pg_stat_activity a
    WHERE a.backend_xid IS NOT NULL AND a.datname = current_database()
    UNION ALL
    SELECT transaction::text::bigint FROM pg_prepared_xacts WHERE database = current_database()
),
sees_all AS (
    SELECT rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') AS yes
    FROM pg_roles WHERE rolname = current_user
)
SELECT COALESCE(
    (SELECT min(x.xid) FROM pg_snapshot_xip(snap.s) AS x (xid)
     WHERE NOT (SELECT yes FROM sees_all)
        OR (x.xid::text::numeric % 4294967296)::bigint IN (SELECT xid32 FROM ours)),
    pg_snapshot_xmax(snap.s))::text
FROM snap"""


def stream_watermark(conn: Connection) -> str:
    """The txid (as text) below which every event is final; read the events in a later statement."""
    return conn.execute(text(_WATERMARK)).scalar_one()
