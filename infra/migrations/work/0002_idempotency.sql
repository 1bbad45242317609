-- Idempotency records: a request key, claimed and then completed with the
-- request's result; expired records are claimed afresh.
CREATE TABLE IF NOT EXISTS idempotency
(
  scope       text    NOT NULL,
  key         text    NOT NULL,
  fingerprint text    NOT NULL,
  state       text    NOT NULL CHECK (state IN ('claimed', 'done')),
  result      text,
  claimed_at  integer NOT NULL,
  expires_at  integer NOT NULL,
  PRIMARY KEY (scope, key)
) STRICT;
