-- The simulated GP clinical system: every entry written to a patient's
-- record, once per idempotency key.
CREATE TABLE IF NOT EXISTS record_entries
(
  idempotency_key text    PRIMARY KEY,
  organisation_id text    NOT NULL,
  nhs_number      text    NOT NULL,
  snomed_code     text,
  channel         text    NOT NULL,
  text            text    NOT NULL,
  sent_at         integer NOT NULL,
  saved_at        integer NOT NULL
) STRICT;
