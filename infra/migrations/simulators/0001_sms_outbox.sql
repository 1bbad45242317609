-- The simulated SMS provider's outbox: every message it accepted, once per
-- idempotency key.
CREATE TABLE IF NOT EXISTS sms_outbox
(
  idempotency_key text    PRIMARY KEY,
  reference       text    NOT NULL,
  to_number       text    NOT NULL,
  body            text    NOT NULL,
  accepted_at     integer NOT NULL
) STRICT;
