-- The simulated appointment book's bookings: one per slot at most. The
-- slots themselves come from the book's configuration file.
CREATE TABLE IF NOT EXISTS appointment_bookings
(
  slot_id         text PRIMARY KEY,
  appointment_id  text NOT NULL UNIQUE,
  idempotency_key text NOT NULL UNIQUE,
  booked_at       integer NOT NULL
) STRICT;
