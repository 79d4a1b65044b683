-- Identity: the member register and bearer tokens (schema coop).
--
-- The rules live here as constraints and triggers as well as in the HTTP handlers, so that a
-- write the rules refuse leaves no trace whichever way it reaches the database, and concurrent
-- requests cannot slip past them between a check and an insert.

-- Times leave the database already in the API's form, RFC 3339 in UTC with milliseconds
-- (e.g. 2024-03-01T09:30:00.000Z), whatever the session's DateStyle and TimeZone.
CREATE FUNCTION coop.rfc3339(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

CREATE TABLE coop.members (
    id bigserial PRIMARY KEY,
    name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    email text CHECK (email IS NULL OR (length(email) BETWEEN 3 AND 254 AND email LIKE '%_@_%')),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Two members may not share an address, whatever its case; members without one are fine.
CREATE UNIQUE INDEX members_email_key ON coop.members (lower(email));

-- Append-only: each change of a member's status with the date it takes effect (GenG §30 asks
-- for the dates of joining and leaving). A change effective on date D counts from D 00:00 UTC.
-- Recording order (id) breaks ties between changes effective on the same date.
CREATE TABLE coop.member_status_changes (
    id bigserial PRIMARY KEY,
    member_id bigint NOT NULL REFERENCES coop.members (id),
    status text NOT NULL CHECK (status IN ('applicant', 'member', 'resigned', 'excluded')),
    effective_date date NOT NULL CHECK (effective_date BETWEEN '1900-01-01' AND '9999-12-31'),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    note text CHECK (note IS NULL OR length(note) <= 2000)
);

CREATE INDEX member_status_changes_member ON coop.member_status_changes
    (member_id, effective_date, id);

-- Enforces the life cycle of a membership on every insert:
--   first change:            applicant | member
--   applicant             -> member | excluded
--   member                -> resigned | excluded
--   resigned | excluded   -> member (re-admission)
-- and that a change takes effect no earlier than the change it follows. The member's row is
-- locked first so that two concurrent changes of one member are checked one after the other.
-- Errors carry SQLSTATEs of their own so that coopd can answer with the field at fault:
--   CI001 transition not allowed from the current status (HTTP 409, /status)
--   CI002 effective date before the current status's (HTTP 422, /effective_date)
CREATE FUNCTION coop.member_status_changes_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    current_status text;
    current_date_ date;
BEGIN
    PERFORM 1 FROM coop.members WHERE id = NEW.member_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no member with id %', NEW.member_id USING ERRCODE = 'foreign_key_violation';
    END IF;

    SELECT c.status, c.effective_date INTO current_status, current_date_
    FROM coop.member_status_changes c
    WHERE c.member_id = NEW.member_id
    ORDER BY c.effective_date DESC, c.id DESC
    LIMIT 1;

    IF current_status IS NULL THEN
        IF NEW.status NOT IN ('applicant', 'member') THEN
            RAISE EXCEPTION 'a new member starts as applicant or member, not %', NEW.status
                USING ERRCODE = 'CI001';
        END IF;
    ELSE
        IF NOT ((current_status = 'applicant' AND NEW.status IN ('member', 'excluded'))
                OR (current_status = 'member' AND NEW.status IN ('resigned', 'excluded'))
                OR (current_status IN ('resigned', 'excluded') AND NEW.status = 'member')) THEN
            RAISE EXCEPTION 'the status cannot change from % to % (from % only to %)',
                current_status, NEW.status, current_status,
                CASE current_status WHEN 'applicant' THEN 'member or excluded'
                                    WHEN 'member' THEN 'resigned or excluded'
                                    ELSE 'member' END
                USING ERRCODE = 'CI001';
        END IF;
        IF NEW.effective_date < current_date_ THEN
            RAISE EXCEPTION 'the change cannot take effect before the current status (%, effective %)',
                current_status, current_date_
                USING ERRCODE = 'CI002';
        END IF;
    END IF;
    NEW.recorded_at := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER member_status_changes_check BEFORE INSERT ON coop.member_status_changes
    FOR EACH ROW EXECUTE FUNCTION coop.member_status_changes_check();

CREATE FUNCTION coop.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'coop.% keeps its rows: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER member_status_changes_append_only
    BEFORE UPDATE OR DELETE ON coop.member_status_changes
    FOR EACH ROW EXECUTE FUNCTION coop.refuse_change();
CREATE TRIGGER member_status_changes_no_truncate BEFORE TRUNCATE ON coop.member_status_changes
    FOR EACH STATEMENT EXECUTE FUNCTION coop.refuse_change();

-- Members are never deleted: their history must stay (a member who leaves gets a status change).
CREATE TRIGGER members_no_delete BEFORE DELETE ON coop.members
    FOR EACH ROW EXECUTE FUNCTION coop.refuse_change();

-- Creates a member with its first status change in one statement (one round trip from the
-- event loop, and the trigger above sees the new row). Returns the new member's id.
CREATE FUNCTION coop.member_create(p_name text, p_email text, p_status text,
                                   p_effective_date date, p_note text)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    new_id bigint;
BEGIN
    INSERT INTO coop.members (name, email) VALUES (p_name, p_email) RETURNING id INTO new_id;
    INSERT INTO coop.member_status_changes (member_id, status, effective_date, note)
        VALUES (new_id, p_status, p_effective_date, p_note);
    RETURN new_id;
END
$$;

-- The public view for plugins (contract in docs/sdk.md): each member's status in force at `at`.
-- A change effective on date D counts from D 00:00 UTC; of several changes in force, the one
-- with the latest effective date wins, and of those the one recorded last. Members whose first
-- change takes effect after `at` are absent. at = 'infinity' gives the latest status recorded.
CREATE FUNCTION coop.member_status_at(at timestamptz)
RETURNS TABLE (member_id bigint, status text)
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (c.member_id) c.member_id, c.status
    FROM coop.member_status_changes c
    WHERE c.effective_date <= (at AT TIME ZONE 'UTC')::date
    ORDER BY c.member_id, c.effective_date DESC, c.id DESC
$$;

-- Bearer tokens. Only the SHA-256 of a token is kept; the token itself is shown once.
-- A member token belongs to a member; operator, partner and customer tokens may.
-- Revocation sets revoked_at; the row stays (who could act, and until when).
CREATE TABLE coop.tokens (
    id bigserial PRIMARY KEY,
    sha256 bytea NOT NULL UNIQUE CHECK (length(sha256) = 32),
    role text NOT NULL CHECK (role IN ('operator', 'member', 'partner', 'customer')),
    member_id bigint REFERENCES coop.members (id),
    label text NOT NULL DEFAULT '' CHECK (length(label) <= 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz CHECK (revoked_at IS NULL OR revoked_at >= created_at),
    created_by bigint REFERENCES coop.tokens (id),
    CHECK (role <> 'member' OR member_id IS NOT NULL)
);

-- A token's only change is its revocation, once.
CREATE FUNCTION coop.tokens_check_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.sha256 IS DISTINCT FROM OLD.sha256
       OR NEW.role IS DISTINCT FROM OLD.role OR NEW.member_id IS DISTINCT FROM OLD.member_id
       OR NEW.label IS DISTINCT FROM OLD.label OR NEW.created_at IS DISTINCT FROM OLD.created_at
       OR NEW.created_by IS DISTINCT FROM OLD.created_by
       OR (OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at) THEN
        RAISE EXCEPTION 'a token can only be revoked, once' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER tokens_check_update BEFORE UPDATE ON coop.tokens
    FOR EACH ROW EXECUTE FUNCTION coop.tokens_check_update();
CREATE TRIGGER tokens_no_delete BEFORE DELETE ON coop.tokens
    FOR EACH ROW EXECUTE FUNCTION coop.refuse_change();
