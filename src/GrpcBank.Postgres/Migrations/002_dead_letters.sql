-- Events a relay consumer could not handle, set aside so the events behind them keep flowing.
create table dead_letters (
    consumer  text        not null,
    position  bigint      not null references events (position),
    error     text        not null,
    failed_at timestamptz not null,
    primary key (consumer, position)
);
