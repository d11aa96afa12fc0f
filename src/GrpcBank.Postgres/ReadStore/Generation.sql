-- One generation of the read side: its own schema, so a rebuild fills a new one while the old one serves.
-- Ids and owner names sort by code point (collate "C"), as every read store does. The searchable words are the
-- tokens of Application's SearchText (split and lower-cased in C#), folded by unaccent, so PostgreSQL and SQLite
-- agree on what a word is.
create schema {schema};
create table {schema}.accounts (
    account_id    text collate "C" primary key,
    owner_name    text collate "C" not null,
    owner_words   text[]           not null,
    owner_search  tsvector generated always as (array_to_tsvector(owner_words)) stored,
    currency_code text             not null,
    balance_minor bigint           not null,
    status        text             not null,
    version       bigint           not null,
    opened_at     timestamptz      not null,
    updated_at    timestamptz      not null,
    held_minor            bigint  not null,
    overdraft_limit_minor bigint  not null,
    debits_blocked        boolean not null,
    credits_blocked       boolean not null
);
create index on {schema}.accounts (owner_name, account_id);
create index on {schema}.accounts (balance_minor, account_id);
create index on {schema}.accounts (opened_at, account_id);
create index on {schema}.accounts using gin (owner_search);
-- The vocabulary of owner names, indexed by trigrams: typo candidates are its nearest terms (KNN on GiST).
create table {schema}.owner_terms (
    term text collate "C" primary key
);
create index on {schema}.owner_terms using gist (term gist_trgm_ops);
-- An account's holds: placed with its account view, resolved in place; the expiry job reads the active ones by due time.
create table {schema}.holds (
    account_id     text collate "C" not null,
    hold_id        text collate "C" not null,
    amount_minor   bigint           not null,
    captured_minor bigint           not null,
    currency_code  text             not null,
    status         text             not null,
    reference      text             not null,
    expires_at     timestamptz      not null,
    placed_at      timestamptz      not null,
    updated_at     timestamptz      not null,
    position       bigint           not null,
    primary key (account_id, hold_id)
);
create index on {schema}.holds (account_id, placed_at, hold_id);
create index on {schema}.holds (expires_at, account_id, hold_id) where status = 'Active';
create table {schema}.transactions (
    transaction_id      text collate "C" primary key,
    account_id          text collate "C" not null,
    kind                text             not null,
    amount_minor        bigint           not null,
    currency_code       text             not null,
    balance_after_minor bigint           not null,
    occurred_at         timestamptz      not null,
    reference           text             not null,
    payment_id          text             not null,
    order_id            text             not null,
    position            bigint           not null
);
create index on {schema}.transactions (account_id, position);
create index on {schema}.transactions (currency_code, occurred_at);
create table {schema}.orders (
    order_id            text collate "C" primary key,
    customer_account_id text collate "C" not null,
    merchant_account_id text collate "C" not null,
    amount_minor        bigint           not null,
    currency_code       text             not null,
    description         text             not null,
    description_words   text[]           not null,
    description_search  tsvector generated always as (array_to_tsvector(description_words)) stored,
    status              text             not null,
    payment_id          text             not null,
    cancellation_reason text             not null,
    placed_at           timestamptz      not null,
    updated_at          timestamptz      not null,
    version             bigint           not null
);
create index on {schema}.orders (placed_at, order_id);
create index on {schema}.orders (customer_account_id, placed_at);
create index on {schema}.orders (merchant_account_id, placed_at);
create index on {schema}.orders using gin (description_search);
create table {schema}.payments (
    payment_id      text collate "C" primary key,
    order_id        text collate "C" not null,
    from_account_id text collate "C" not null,
    to_account_id   text collate "C" not null,
    amount_minor    bigint           not null,
    currency_code   text             not null,
    status          text             not null,
    failure_reason  text             not null,
    created_at      timestamptz      not null,
    updated_at      timestamptz      not null,
    version         bigint           not null
);
create index on {schema}.payments (created_at, payment_id);
create index on {schema}.payments (from_account_id, created_at);
create index on {schema}.payments (to_account_id, created_at);
create index on {schema}.payments (order_id);
create table {schema}.checkpoint (
    id       integer primary key check (id = 1),
    position bigint  not null
);
insert into {schema}.checkpoint (id, position) values (1, 0);
