-- Points the views of {prefix} at generation {schema}: run in the switch's transaction, so readers on every
-- server see the old generation or the new one, never a mix.
drop view if exists {prefix}.accounts, {prefix}.owner_terms, {prefix}.holds, {prefix}.transactions, {prefix}.orders, {prefix}.payments, {prefix}.checkpoint;
create view {prefix}.accounts as select * from {schema}.accounts;
create view {prefix}.owner_terms as select * from {schema}.owner_terms;
create view {prefix}.holds as select * from {schema}.holds;
create view {prefix}.transactions as select * from {schema}.transactions;
create view {prefix}.orders as select * from {schema}.orders;
create view {prefix}.payments as select * from {schema}.payments;
create view {prefix}.checkpoint as select * from {schema}.checkpoint;
