-- The member register's status changes are hash-chained (DESIGN.md, Data): anyone holding a
-- copy can check that no change was edited, removed or slipped in afterwards.
--
--   hash   = sha256(prev_hash || convert_to(record, 'UTF8'))
--   record = chain_seq|id|member_id|status|effective_date (YYYY-MM-DD)
--            |recorded_at (RFC 3339 UTC, microseconds)|note (JSON text as PostgreSQL's to_jsonb
--            writes it: a quoted string with \" \\ \n ... and \u00xx escapes, non-ASCII as is;
--            or null)
--
-- chain_seq numbers the changes 1, 2, 3... in the order they were chained (one chain for the
-- whole register; ids may be drawn in another order by concurrent inserts). prev_hash of the
-- first change is 32 zero bytes. The same form as the voting plugin's ballot chain.

ALTER TABLE coop.member_status_changes
    ADD COLUMN chain_seq bigint,
    ADD COLUMN prev_hash bytea,
    ADD COLUMN hash bytea;

CREATE FUNCTION coop.member_status_record(p_seq bigint, c coop.member_status_changes)
RETURNS bytea
LANGUAGE sql STABLE AS $$
    SELECT convert_to(concat_ws('|', p_seq, c.id, c.member_id, c.status,
        to_char(c.effective_date, 'YYYY-MM-DD'),
        to_char(c.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        coalesce(to_jsonb(c.note)::text, 'null')), 'UTF8')
$$;

-- Chains the changes recorded before this migration, in recording order.
DO $$
DECLARE
    c coop.member_status_changes;
    seq bigint := 0;
    last_hash bytea := decode(repeat('00', 32), 'hex');
BEGIN
    ALTER TABLE coop.member_status_changes DISABLE TRIGGER member_status_changes_append_only;
    FOR c IN SELECT * FROM coop.member_status_changes ORDER BY id LOOP
        seq := seq + 1;
        UPDATE coop.member_status_changes
            SET chain_seq = seq, prev_hash = last_hash,
                hash = sha256(last_hash || coop.member_status_record(seq, c))
            WHERE id = c.id
            RETURNING hash INTO last_hash;
    END LOOP;
    ALTER TABLE coop.member_status_changes ENABLE TRIGGER member_status_changes_append_only;
END
$$;

ALTER TABLE coop.member_status_changes
    ALTER COLUMN chain_seq SET NOT NULL,
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN hash SET NOT NULL,
    ADD CONSTRAINT member_status_changes_chain_seq_key UNIQUE (chain_seq),
    ADD CONSTRAINT member_status_changes_hash_key UNIQUE (hash),
    ADD CHECK (length(prev_hash) = 32 AND length(hash) = 32);

-- Runs after member_status_changes_check (triggers of one event fire in name order), so the
-- row it chains is the one that will be stored. The register-wide lock makes concurrent
-- inserts take their places in the chain one after the other; it is held until commit.
CREATE FUNCTION coop.member_status_changes_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last_seq bigint;
    last_hash bytea;
BEGIN
    -- Key (x'636f6f70' = 'coop', 1): the two-integer key space, apart from the migrations' lock.
    PERFORM pg_advisory_xact_lock(1668247408, 1);
    SELECT c.chain_seq, c.hash INTO last_seq, last_hash
    FROM coop.member_status_changes c ORDER BY c.chain_seq DESC LIMIT 1;
    IF last_seq IS NULL THEN
        last_seq := 0;
        last_hash := decode(repeat('00', 32), 'hex');
    END IF;
    NEW.chain_seq := last_seq + 1;
    NEW.prev_hash := last_hash;
    NEW.hash := sha256(last_hash || coop.member_status_record(NEW.chain_seq, NEW));
    RETURN NEW;
END
$$;

CREATE TRIGGER member_status_changes_hash_chain BEFORE INSERT ON coop.member_status_changes
    FOR EACH ROW EXECUTE FUNCTION coop.member_status_changes_chain();

-- Recomputes the chain. Returns the number of changes, the first chain_seq whose hash or link
-- does not match (NULL when the chain is intact) and the hash of the last change (hex).
CREATE FUNCTION coop.member_status_chain_verify(OUT change_count bigint,
                                                OUT first_bad_seq bigint, OUT head text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c coop.member_status_changes;
    expected_prev bytea := decode(repeat('00', 32), 'hex');
BEGIN
    change_count := 0;
    FOR c IN SELECT * FROM coop.member_status_changes ORDER BY chain_seq LOOP
        change_count := change_count + 1;
        IF first_bad_seq IS NULL AND (c.chain_seq <> change_count OR c.prev_hash <> expected_prev
            OR c.hash <> sha256(c.prev_hash || coop.member_status_record(c.chain_seq, c))) THEN
            first_bad_seq := c.chain_seq;
        END IF;
        expected_prev := c.hash;
    END LOOP;
    IF change_count > 0 THEN
        head := encode(expected_prev, 'hex');
    END IF;
END
$$;
