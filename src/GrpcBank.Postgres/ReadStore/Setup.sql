-- The read store's fixed frame, run under an advisory lock at start-up (idempotent): pg_trgm for typo
-- candidates and unaccent to fold diacritics (both ship with PostgreSQL's contrib, part of Debian's
-- postgresql-15), the schema {prefix} that holds the views every query reads through, and the pointer to the
-- generation they show.
create extension if not exists pg_trgm;
create extension if not exists unaccent;
create schema if not exists {prefix};
create table if not exists {prefix}.serving (
    id             integer primary key check (id = 1),
    generation     text    not null,
    schema_version integer not null
);
