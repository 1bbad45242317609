-- The simulated providers now take email and NHS App messages too, and
-- answer each accepted message with a receipt when it falls due.
ALTER TABLE sms_outbox ADD COLUMN channel text NOT NULL DEFAULT 'sms';
ALTER TABLE sms_outbox ADD COLUMN subject text;
-- The receipt the simulator will give (JSON), or NULL for none at all.
ALTER TABLE sms_outbox ADD COLUMN receipt text;
ALTER TABLE sms_outbox ADD COLUMN receipt_due_at integer;
ALTER TABLE sms_outbox ADD COLUMN receipt_reported integer NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS sms_outbox_receipts ON sms_outbox (receipt_reported, receipt_due_at);
