-- Support agents (R14) are accounts of their own role.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('root', 'sub_user', 'support_agent'));
