-- Recipients whose messages failed for good, per organisation, for the
-- "mobile likely to fail" check. Recipients are SHA-256 fingerprints.
CREATE TABLE recipient_failures (
    organisation_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    last_failed_at TEXT NOT NULL,
    PRIMARY KEY (organisation_id, fingerprint)
);
