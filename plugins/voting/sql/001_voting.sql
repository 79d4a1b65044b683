-- The voting plugin's tables and the server-side steps that must be atomic.
-- Applied by coopd in schema "voting" (search_path voting, public). Functions pin their
-- search_path to the one in force here (SET search_path FROM CURRENT) so that they find
-- their tables whatever the caller's search_path.
--
-- Concurrency: every step that changes a proposal's state or appends to its ballot chain
-- first locks the proposal's row (SELECT ... FOR UPDATE). So ballots of one proposal are
-- chained in a strict order, a ballot never slips in after the close, and when several coopd
-- nodes close the same proposal at once exactly one of them does it (the others find it
-- closed).

CREATE TABLE proposals (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title           text NOT NULL,
    body            text NOT NULL,
    method          text NOT NULL CHECK (method IN ('yesno', 'approval', 'ranked')),
    -- yes/no only: yes must exceed this share of the yes and no votes
    threshold       text CHECK (threshold IN ('half', 'two_thirds', 'three_quarters')),
    quorum_percent  integer NOT NULL CHECK (quorum_percent BETWEEN 0 AND 100),
    opens_at        timestamptz NOT NULL,
    closes_at       timestamptz NOT NULL,
    state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    -- The electorate snapshot: taken once, when voting opens (or first needed after that)
    electorate_size integer,
    electorate_taken_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by_token bigint,
    closed_at       timestamptz,
    closed_by       text CHECK (closed_by IN ('timer', 'operator')),
    CHECK (closes_at > opens_at),
    CHECK ((method = 'yesno') = (threshold IS NOT NULL)),
    CHECK ((state = 'closed') = (closed_at IS NOT NULL))
);
CREATE INDEX proposals_open_by_closing ON proposals (closes_at) WHERE state = 'open';

CREATE TABLE options (
    proposal_id bigint NOT NULL REFERENCES proposals (id),
    position    integer NOT NULL CHECK (position >= 0),
    key         text NOT NULL,
    label       text NOT NULL,
    PRIMARY KEY (proposal_id, position),
    UNIQUE (proposal_id, key)
);

-- Members whose status was `member` when voting opened: one member, one vote.
CREATE TABLE eligible_voters (
    proposal_id bigint NOT NULL REFERENCES proposals (id),
    member_id   bigint NOT NULL,
    PRIMARY KEY (proposal_id, member_id)
);

-- Append-only and hash-chained per proposal:
--   hash = sha256(prev_hash || convert_to(record, 'UTF8'))
--   record = proposal_id|seq|member_id|cast_at (RFC 3339 UTC, microseconds)|choice (jsonb text)
-- prev_hash of a proposal's first ballot is 32 zero bytes. A later ballot of the same member
-- replaces the earlier one for counting; nothing is ever updated or deleted.
CREATE TABLE ballots (
    proposal_id bigint NOT NULL,
    seq         integer NOT NULL CHECK (seq >= 1),
    member_id   bigint NOT NULL,
    choice      jsonb NOT NULL,
    cast_at     timestamptz NOT NULL,
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL UNIQUE,
    PRIMARY KEY (proposal_id, seq),
    FOREIGN KEY (proposal_id, member_id) REFERENCES eligible_voters (proposal_id, member_id)
);
CREATE INDEX ballots_by_member ON ballots (proposal_id, member_id, seq DESC);

-- The result, computed once at the close (by the plugin, in C) in the closing transaction.
CREATE TABLE results (
    proposal_id bigint PRIMARY KEY REFERENCES proposals (id),
    result      jsonb NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'voting.% is append-only', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER ballots_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ballots
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER results_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON results
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- RFC 3339 in UTC; fractional seconds only when there are any.
CREATE FUNCTION rfc3339(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN date_trunc('second', t) = t
        THEN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        ELSE to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END
$$;

CREATE FUNCTION ballot_record(p_proposal bigint, p_seq integer, p_member bigint,
                              p_cast_at timestamptz, p_choice jsonb) RETURNS bytea
LANGUAGE sql STABLE AS $$
    SELECT convert_to(concat_ws('|', p_proposal, p_seq, p_member,
        to_char(p_cast_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        p_choice::text), 'UTF8')
$$;

-- A proposal as the API shows it. status: scheduled (before opens_at), open, closing (past
-- closes_at, the close not yet done), closed.
CREATE FUNCTION proposal_json(p proposals) RETURNS jsonb
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', p.id,
        'title', p.title,
        'text', p.body,
        'method', p.method,
        'threshold', p.threshold,
        'quorum_percent', p.quorum_percent,
        'options', (SELECT jsonb_agg(jsonb_build_object('key', o.key, 'label', o.label)
                                     ORDER BY o.position)
                    FROM options o WHERE o.proposal_id = p.id),
        'opens_at', rfc3339(p.opens_at),
        'closes_at', rfc3339(p.closes_at),
        'status', CASE WHEN p.state = 'closed' THEN 'closed'
                       WHEN now() < p.opens_at THEN 'scheduled'
                       WHEN now() >= p.closes_at THEN 'closing'
                       ELSE 'open' END,
        'eligible_voters', p.electorate_size,
        'created_at', rfc3339(p.created_at),
        'closed_at', rfc3339(p.closed_at),
        'closed_by', p.closed_by))
$$;

-- Takes the electorate snapshot of proposal p_id if voting has opened and it was not taken
-- yet: the members whose status is `member` at opens_at, as the core's public function says.
-- Returns the electorate size, or NULL when voting has not opened (or no such proposal).
CREATE FUNCTION take_electorate(p_id bigint) RETURNS integer
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    p proposals;
    n integer;
BEGIN
    SELECT * INTO p FROM proposals WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR now() < p.opens_at THEN
        RETURN NULL;
    END IF;
    IF p.electorate_taken_at IS NOT NULL THEN
        RETURN p.electorate_size;
    END IF;
    INSERT INTO eligible_voters (proposal_id, member_id)
        SELECT DISTINCT p_id, m.member_id FROM coop.member_status_at(p.opens_at) m
        WHERE m.status = 'member';
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE proposals SET electorate_size = n, electorate_taken_at = now() WHERE id = p_id;
    RETURN n;
END
$$;

-- Creates a proposal from the request body (already validated by the plugin) and, when
-- voting is open already, takes its electorate in the same transaction.
CREATE FUNCTION create_proposal(b jsonb, p_token bigint) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    new_id bigint;
    p proposals;
BEGIN
    INSERT INTO proposals (title, body, method, threshold, quorum_percent, opens_at, closes_at,
                           created_by_token)
    VALUES (b->>'title', coalesce(b->>'text', ''), b->>'method', b->>'threshold',
            coalesce((b->>'quorum_percent')::integer, 0),
            coalesce((b->>'opens_at')::timestamptz, now()), (b->>'closes_at')::timestamptz,
            p_token)
    RETURNING id INTO new_id;
    INSERT INTO options (proposal_id, position, key, label)
        SELECT new_id, o.ordinality - 1, o.value->>'key', o.value->>'label'
        FROM jsonb_array_elements(b->'options') WITH ORDINALITY AS o;
    PERFORM take_electorate(new_id);
    SELECT * INTO p FROM proposals WHERE id = new_id;
    RETURN proposal_json(p);
END
$$;

-- Appends a ballot (choice already validated and normalised by the plugin).
-- outcome: cast | not_found | not_open (before opens_at) | closed (closed, or past closes_at)
--          | not_eligible
CREATE FUNCTION cast_ballot(p_id bigint, p_member bigint, p_choice jsonb,
                            OUT outcome text, OUT seq integer, OUT replaces integer,
                            OUT cast_at text, OUT hash text)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    p proposals;
    last_seq integer;
    last_hash bytea;
    new_hash bytea;
    t timestamptz := now();
BEGIN
    SELECT * INTO p FROM proposals WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'not_found';
        RETURN;
    END IF;
    IF p.state <> 'open' OR t >= p.closes_at THEN
        outcome := 'closed';
        RETURN;
    END IF;
    IF t < p.opens_at THEN
        outcome := 'not_open';
        RETURN;
    END IF;
    PERFORM take_electorate(p_id);
    IF NOT EXISTS (SELECT 1 FROM eligible_voters e
                   WHERE e.proposal_id = p_id AND e.member_id = p_member) THEN
        outcome := 'not_eligible';
        RETURN;
    END IF;
    SELECT b.seq, b.hash INTO last_seq, last_hash FROM ballots b
        WHERE b.proposal_id = p_id ORDER BY b.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        last_seq := 0;
        last_hash := decode(repeat('00', 32), 'hex');
    END IF;
    SELECT max(b.seq) INTO replaces FROM ballots b
        WHERE b.proposal_id = p_id AND b.member_id = p_member;
    seq := last_seq + 1;
    new_hash := sha256(last_hash || ballot_record(p_id, seq, p_member, t, p_choice));
    INSERT INTO ballots (proposal_id, seq, member_id, choice, cast_at, prev_hash, hash)
    VALUES (p_id, seq, p_member, p_choice, t, last_hash, new_hash);
    outcome := 'cast';
    cast_at := rfc3339(t);
    hash := encode(new_hash, 'hex');
END
$$;

-- First step of closing, inside the plugin's closing transaction: locks the proposal and
-- marks it closed. The plugin then reads the counted ballots, tallies them and inserts the
-- result before committing, so a closed proposal always has its result.
-- outcome: closed (this call closed it; proposal holds what the tally needs)
--          | already_closed | not_found | not_open (before opens_at)
--          | too_early (p_by = 'timer' and closes_at is wait_ms away: the timer was early)
CREATE FUNCTION close_proposal(p_id bigint, p_by text,
                               OUT outcome text, OUT wait_ms bigint, OUT proposal jsonb)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    p proposals;
BEGIN
    SELECT * INTO p FROM proposals WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'not_found';
        RETURN;
    END IF;
    IF p.state = 'closed' THEN
        outcome := 'already_closed';
        RETURN;
    END IF;
    IF p_by = 'timer' AND now() < p.closes_at THEN
        outcome := 'too_early';
        wait_ms := ceil(extract(epoch FROM p.closes_at - now()) * 1000);
        RETURN;
    END IF;
    IF now() < p.opens_at THEN
        outcome := 'not_open';
        RETURN;
    END IF;
    PERFORM take_electorate(p_id);
    UPDATE proposals SET state = 'closed', closed_at = now(), closed_by = p_by
        WHERE id = p_id RETURNING * INTO p;
    outcome := 'closed';
    proposal := proposal_json(p);
END
$$;

-- The ballots that count: each eligible member's last one, in member order.
CREATE FUNCTION counted_ballots(p_id bigint) RETURNS TABLE (member_id bigint, choice jsonb)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT DISTINCT ON (b.member_id) b.member_id, b.choice FROM ballots b
    WHERE b.proposal_id = p_id ORDER BY b.member_id, b.seq DESC
$$;

-- Recomputes a proposal's chain. Returns the number of ballots, the first seq whose hash or
-- link does not match (NULL when the chain is intact) and the hash of the last ballot.
CREATE FUNCTION verify_chain(p_id bigint,
                             OUT ballot_count integer, OUT first_bad_seq integer,
                             OUT head text)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
DECLARE
    b record;
    expected_prev bytea := decode(repeat('00', 32), 'hex');
BEGIN
    ballot_count := 0;
    FOR b IN SELECT * FROM ballots x WHERE x.proposal_id = p_id ORDER BY x.seq LOOP
        ballot_count := ballot_count + 1;
        IF first_bad_seq IS NULL AND (b.seq <> ballot_count OR b.prev_hash <> expected_prev
            OR b.hash <> sha256(b.prev_hash || ballot_record(b.proposal_id, b.seq, b.member_id,
                                                             b.cast_at, b.choice))) THEN
            first_bad_seq := b.seq;
        END IF;
        expected_prev := b.hash;
    END LOOP;
    IF ballot_count > 0 THEN
        head := encode(expected_prev, 'hex');
    END IF;
END
$$;
