-- Migration 006 was changed after it first landed: its first form kept the outbox column `position` (and added
-- last_position); the form that stayed renames it first_position, and the server names only that. A database migrated by
-- the first form recorded 006 as applied, so it never got the rename and every append failed on the missing column.
-- Renamed here where it is still `position`; everywhere else this does nothing.
do $$
begin
    if exists (select from pg_attribute where attrelid = 'outbox'::regclass and attname = 'position' and not attisdropped) then
        alter table outbox rename column position to first_position;
    end if;
end
$$;
