-- Folded states of long streams: a cache of the events, never a source of truth (dropping every row changes no
-- answer). Keyed by schema too: servers of two releases may snapshot the same stream at the same version side by side.
create table snapshots (
    stream_id      text   not null,
    schema         text   not null,
    stream_version bigint not null,
    position       bigint not null,
    state          text   not null,
    primary key (stream_id, schema, stream_version)
);
