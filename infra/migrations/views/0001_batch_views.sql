-- Read models built from the event log. `position` is written in the same
-- transaction as the rows it produced, so each event is applied once.
CREATE TABLE IF NOT EXISTS batch_summaries
(
  batch_id        text    PRIMARY KEY,
  organisation_id text    NOT NULL,
  status          text    NOT NULL,
  settled         integer NOT NULL,
  body            text    NOT NULL,
  last_sequence   integer NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS batch_summaries_settled ON batch_summaries (settled, status);

CREATE TABLE IF NOT EXISTS deliveries
(
  batch_id      text    NOT NULL,
  row           integer NOT NULL,
  status        text    NOT NULL,
  body          text    NOT NULL,
  last_sequence integer NOT NULL,
  PRIMARY KEY (batch_id, row)
) STRICT;
CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries (batch_id, status, row);

CREATE TABLE IF NOT EXISTS positions
(
  name     text    PRIMARY KEY,
  position integer NOT NULL
) STRICT;
