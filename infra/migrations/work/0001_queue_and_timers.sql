-- The durable work queue: SQS semantics on SQLite. A received message is
-- invisible until visible_at; after max receives it is moved to 'dead'.
CREATE TABLE IF NOT EXISTS queue_messages
(
  id            integer PRIMARY KEY AUTOINCREMENT,
  queue         text    NOT NULL,
  body          text    NOT NULL,
  state         text    NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'dead')),
  visible_at    integer NOT NULL,
  receive_count integer NOT NULL DEFAULT 0,
  created_at    integer NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS queue_messages_ready ON queue_messages (queue, state, visible_at, id);

-- The timer table: scheduled sends and, later, fallbacks, expiries, reminders.
CREATE TABLE IF NOT EXISTS timers
(
  id      text    PRIMARY KEY,
  due_at  integer NOT NULL,
  job     text    NOT NULL,
  state   text    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done'))
) STRICT;
CREATE INDEX IF NOT EXISTS timers_due ON timers (state, due_at);

-- How far each event-log subscriber whose effects live outside the views
-- (the reactor) has read.
CREATE TABLE IF NOT EXISTS positions
(
  name     text    PRIMARY KEY,
  position integer NOT NULL
) STRICT;
