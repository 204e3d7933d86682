-- Outgoing webhooks (issue 3, Notify): the subscriptions other district systems registered, and
-- the durable queue of deliveries to them (pending ones and the dead-letter list). The sender
-- is src/app/webhooks.c; docs/internals/webhooks.md explains the states and the queries.

CREATE TABLE webhooks (
	id          INTEGER PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 63),
	url         TEXT NOT NULL CHECK (url LIKE 'http://%' OR url LIKE 'https://%'),
	-- The HMAC key, stored as the receiver was given it (an HMAC needs the key itself, unlike
	-- a password); never written into the audit trail.
	secret      TEXT NOT NULL CHECK (length(secret) >= 16),
	events      TEXT NOT NULL DEFAULT '', -- comma-separated event types ("case.*" allowed), '' = all
	street_code TEXT,                     -- only events of cases in this street, NULL = any
	unit_code   TEXT,                     -- only events of cases of this unit, NULL = any
	created_at  INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
	id          INTEGER PRIMARY KEY,      -- also the X-Citydesk-Delivery header
	webhook_id  INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event_id    INTEGER NOT NULL,         -- the event bus's id (SSE id)
	type        TEXT NOT NULL,            -- "case.created" ...
	ref         TEXT NOT NULL DEFAULT '', -- the case ref, for the dead-letter list
	body        TEXT NOT NULL,            -- the exact JSON body sent on every attempt
	status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'dead')),
	attempts    INTEGER NOT NULL DEFAULT 0,
	next_at_ms  INTEGER NOT NULL,         -- unix milliseconds: not before this (backoff)
	created_at  INTEGER NOT NULL,         -- unix seconds
	last_at     INTEGER,                  -- unix seconds of the last attempt
	last_status INTEGER,                  -- HTTP status of the last attempt, 0 = no answer
	last_error  TEXT                      -- short reason of the last failure
);
-- The sender's query: one subscription's due pending deliveries, oldest due first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (webhook_id, status, next_at_ms);
-- The dead-letter list, newest first, without walking the pending ones.
CREATE INDEX webhook_deliveries_dead ON webhook_deliveries (id) WHERE status = 'dead';
