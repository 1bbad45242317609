-- Tamper evidence (domain/src/audit/chain.rs): each event's hash covers its
-- stored columns and the hash of the event stored before it (rowid order).
-- Events stored before this migration keep NULLs: `audit verify` counts
-- them as written before the chain existed.
ALTER TABLE events ADD COLUMN previous_hash text;
ALTER TABLE events ADD COLUMN hash text;
