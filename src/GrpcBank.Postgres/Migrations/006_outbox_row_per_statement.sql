-- An outbox row stands for every event one append statement wrote: positions `position` to `last_position` that carry
-- the row's tx (another transaction's events may lie between them). Rows written before this have no last_position and
-- stand for their own event. One row per statement, not per event: each row was a heap tuple, two index entries and a
-- delete, the largest part of a small event's write after the event itself.
alter table outbox add column if not exists last_position bigint;
