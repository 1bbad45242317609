-- References a provider made up for Batchbook's messages (NHS Notify's
-- UUIDs), and the Batchbook reference each stands for.
CREATE TABLE IF NOT EXISTS provider_references
(
  provider_reference text NOT NULL PRIMARY KEY,
  reference          text NOT NULL
) STRICT;
