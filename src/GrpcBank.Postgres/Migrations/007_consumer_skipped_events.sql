-- Where the events start whose outbox rows were trimmed past a consumer's checkpoint while it was switched off (not
-- among the consumers the relay trims for): it never gets them from the outbox, so the relay gives them to it from
-- the event store when it runs again (IOutbox.SkippedFromAsync). Null: it has missed nothing. A server of an earlier
-- release leaves it alone: its checkpoint writes name their columns.
alter table consumer_checkpoints add column skipped_from bigint;
