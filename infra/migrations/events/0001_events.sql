-- The cqrs-es event table, in the shape sqlite-es reads and writes.
-- sqlite-es 0.5 runs no migrations of its own, so Batchbook runs this at start.
-- The table keeps SQLite's implicit rowid: events are never deleted and
-- SQLite has one writer at a time, so rowid order is commit order. The
-- projector and reactor read the log in that order.
CREATE TABLE IF NOT EXISTS events
(
  aggregate_type text                          NOT NULL,
  aggregate_id   text                          NOT NULL,
  sequence       integer CHECK (sequence >= 0) NOT NULL,
  event_type     text                          NOT NULL,
  event_version  text                          NOT NULL,
  payload        text                          NOT NULL,
  metadata       text                          NOT NULL,
  PRIMARY KEY (aggregate_type, aggregate_id, sequence)
) STRICT;
