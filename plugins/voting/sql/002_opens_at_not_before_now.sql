-- A proposal's opens_at is never earlier than its creation. The plugin refuses an opens_at more
-- than 5 minutes (of clock skew) in the past, because the electorate is the members as of
-- opens_at and a backdated opens_at would let the operator pick them; one within the skew is
-- taken as now, here, by the database's clock, so that the snapshot never predates the proposal
-- whichever way a row is inserted.
CREATE FUNCTION opens_at_not_before_now() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.opens_at := greatest(NEW.opens_at, now());
    RETURN NEW;
END
$$;
CREATE TRIGGER proposals_opens_at_not_before_now BEFORE INSERT ON proposals
    FOR EACH ROW EXECUTE FUNCTION opens_at_not_before_now();
