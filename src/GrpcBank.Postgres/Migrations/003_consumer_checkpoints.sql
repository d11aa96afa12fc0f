-- Each relay consumer's checkpoint: the last outbox row it has handled, in the outbox's (tx, position) order.
-- The position is kept too, so a checkpoint can be translated after a restore resets transaction ids.
create table consumer_checkpoints (
    consumer text   primary key,
    tx       xid8   not null,
    position bigint not null
);
