-- Staff's lists of their work, newest first per organisation. `listed` is
-- "<ms since 1970, 13 digits>#<id>" (domain::projection::listed_key): the
-- sort key and a page's cursor. Rows drafted before this migration get
-- theirs when the projector is reset below and replays the log.
ALTER TABLE batch_summaries ADD COLUMN listed text;
ALTER TABLE batch_summaries ADD COLUMN kind text;
ALTER TABLE batch_summaries ADD COLUMN created_by text;
CREATE INDEX IF NOT EXISTS batch_summaries_listed
  ON batch_summaries (organisation_id, listed) WHERE listed IS NOT NULL;

-- Checked lists, attachments and templates, one row each.
CREATE TABLE IF NOT EXISTS workspace_items
(
  kind            text    NOT NULL,
  id              text    NOT NULL,
  organisation_id text    NOT NULL,
  listed          text    NOT NULL,
  deleted         integer NOT NULL,
  body            text    NOT NULL,
  last_sequence   integer NOT NULL,
  PRIMARY KEY (kind, id)
) STRICT;
CREATE INDEX IF NOT EXISTS workspace_items_listed
  ON workspace_items (organisation_id, kind, listed) WHERE deleted = 0;

-- The batch views are rebuilt from the event log, which is the truth: the
-- projector starts again from position 0 and fills the new columns. It is
-- idempotent, so the rows it rewrites come out as they were.
DELETE FROM batch_summaries;
DELETE FROM deliveries;
DELETE FROM positions WHERE name = 'batch_views';
