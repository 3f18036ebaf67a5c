-- Support agents (R14) are accounts of their own role. SQLite cannot alter
-- a CHECK constraint, and sqlx runs a migration in a transaction, where a
-- rebuild of `users` cannot switch off the foreign keys of the sessions and
-- invitations pointing at it. SQLite documents a simpler procedure for
-- changing a CHECK constraint (https://sqlite.org/lang_altertable.html,
-- "otheralter"): rewrite the table's definition in the schema, which is
-- valid because the rows on disk do not change; a DDL statement then bumps
-- the schema version so that every connection reads the new definition.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql, 'CHECK (role IN (''root'', ''sub_user''))',
                  'CHECK (role IN (''root'', ''sub_user'', ''support_agent''))')
WHERE type = 'table' AND name = 'users';
PRAGMA writable_schema = OFF;
CREATE TABLE schema_version_bump_0007 (x BIGINT);
DROP TABLE schema_version_bump_0007;
