-- The shared inbox: one row per conversation, and one entry per list it is
-- in (domain::projection::InboxList::partition), keyed by where it sorts
-- ("<ms of last activity, 13 digits>#<conversation id>"): a list's page is
-- a range of its partition's primary key, never a scan. Each entry repeats
-- the row's state and reply count, so a list filters and counts within its
-- own range; each member's read replies are kept apart, so "unread for me"
-- and its count join on them (for the entries with a reply only).
CREATE TABLE IF NOT EXISTS inbox_rows
(
  conversation_id text    NOT NULL PRIMARY KEY,
  organisation_id text    NOT NULL,
  done            integer NOT NULL,
  replies         integer NOT NULL,
  body            text    NOT NULL,
  last_sequence   integer NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS inbox_lists
(
  partition       text NOT NULL,
  sort            text NOT NULL,
  conversation_id text    NOT NULL,
  done            integer NOT NULL,
  replies         integer NOT NULL,
  PRIMARY KEY (partition, sort)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS inbox_lists_conversation ON inbox_lists (conversation_id);
CREATE TABLE IF NOT EXISTS inbox_reads
(
  conversation_id text    NOT NULL,
  user_id         text    NOT NULL,
  replies         integer NOT NULL,
  PRIMARY KEY (conversation_id, user_id)
) STRICT, WITHOUT ROWID;
