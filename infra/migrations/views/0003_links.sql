-- Patient links, by SHA-256 of their token (the token itself is never
-- stored). `body` is the domain's LinkRecord as JSON: whose link it is, by
-- list row, and a keyed check of the date of birth. Not a read model: it
-- is written by fan-out, and a views reset keeps it.
CREATE TABLE IF NOT EXISTS links
(
  token_sha256 text PRIMARY KEY,
  body         text NOT NULL
) STRICT;
