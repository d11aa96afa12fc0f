-- An outbox row stands for every event one append statement wrote: positions first_position to last_position that carry
-- the row's tx (another transaction's events may lie between them). Rows written before this stand for their own event
-- (last_position null). One row per statement, not per event: each row was a heap tuple, two index entries and a delete,
-- the largest part of a small event's write after the event itself.
-- The column is renamed, not kept: a server of an earlier release still running against this database would deliver
-- only each new row's first event and let its checkpoint pass the rest. Naming the old column, its relay's reads and its
-- appends fail instead (nothing is lost; its commands are refused until it is upgraded too).
alter table outbox rename column position to first_position;
alter table outbox add column last_position bigint;
