-- Events, their outbox rows and the request log. Every writer must take its transaction id
-- (select pg_current_xact_id()) before it draws a position, and the identity keeps its default
-- cache of 1: the settled position behind ReadAll and the outbox watermark relies on both.
create table events (
    position       bigint      generated always as identity primary key,
    stream_id      text        not null,
    stream_version bigint      not null,
    event_id       uuid        not null,
    event_type     text        not null,
    data           jsonb       not null,
    metadata       jsonb       not null,
    recorded_at    timestamptz not null,
    tx             xid8        not null default pg_current_xact_id(),
    unique (stream_id, stream_version),
    unique (event_id)
);

create table outbox (
    position bigint primary key references events (position),
    tx       xid8   not null default pg_current_xact_id()
);

create index outbox_tx_position on outbox (tx, position);

create table request_log (
    request_id  text   primary key,
    fingerprint text   not null,
    reply       text   not null,
    position    bigint not null references events (position)
);
