-- Where each patient is named, by fingerprint (domain::ports::PatientIndex).
CREATE TABLE IF NOT EXISTS patient_mentions
(
  organisation_id text NOT NULL,
  fingerprint     text NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('list', 'search', 'conversation')),
  id              text NOT NULL,
  PRIMARY KEY (organisation_id, fingerprint, kind, id)
) WITHOUT ROWID;

-- Lists whose every row is in patient_mentions.
CREATE TABLE IF NOT EXISTS patient_indexed_lists
(
  organisation_id text NOT NULL,
  list_id         text NOT NULL,
  PRIMARY KEY (organisation_id, list_id)
) WITHOUT ROWID;

-- One row once everything stored before the index existed is in it.
CREATE TABLE IF NOT EXISTS patient_index_complete
(
  complete integer PRIMARY KEY CHECK (complete = 1)
);
