-- The state store's schema as release 0.1.0 created it (sqlite), captured from its
-- metadata.create_all: the starting point of the upgrade test.

CREATE TABLE notifier_cursors (
	stream VARCHAR(40) NOT NULL,
	position BIGINT NOT NULL,
	gaps TEXT NOT NULL,
	version INTEGER NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (stream)
);

CREATE TABLE notifier_meta (
	name VARCHAR(60) NOT NULL,
	value TEXT NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (name)
);

CREATE TABLE notifier_outbox (
	id INTEGER NOT NULL,
	event_key VARCHAR(200) NOT NULL,
	recipient VARCHAR(320) NOT NULL,
	template VARCHAR(40) NOT NULL,
	comment_id BIGINT,
	message_id VARCHAR(250),
	message BLOB,
	state VARCHAR(10) NOT NULL,
	attempts INTEGER NOT NULL,
	created_at DATETIME NOT NULL,
	next_attempt_at DATETIME NOT NULL,
	lease_owner VARCHAR(100),
	lease_expires_at DATETIME,
	sent_at DATETIME,
	updated_at DATETIME NOT NULL,
	last_error TEXT,
	PRIMARY KEY (id),
	CONSTRAINT uq_notifier_outbox_event_recipient UNIQUE (event_key, recipient)
);

CREATE INDEX ix_notifier_outbox_due ON notifier_outbox (state, next_attempt_at, id);

CREATE INDEX ix_notifier_outbox_state_updated ON notifier_outbox (state, updated_at);
