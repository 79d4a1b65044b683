"""Bearer tokens over HTTP against a real coopd and PostgreSQL: creation, listing, revocation,
roles, GET /v1/me, and what the database keeps (only the SHA-256, computed here by hashlib)."""

import concurrent.futures
import hashlib
import os
import re
import secrets
import time
import unittest

import coophelper

TOKEN_SHAPE = re.compile(r"^coop_[A-Za-z0-9_-]{43}$")


class TestTokens(coophelper.CoopTestCase):

    # -- helpers

    def sql(self, query):
        return self.cluster.psql(query, dbname=self.dbname)

    def token_count(self):
        return int(self.sql("SELECT count(*) FROM coop.tokens"))

    def member(self, status="member"):
        resp = self.http("POST", "/v1/members",
                         {"name": f"Token holder {time.monotonic_ns()}", "status": "member",
                          "effective_date": "2024-01-01"}, token=self.operator_token)
        self.assertEqual(resp.status, 201, resp.body)
        member_id = resp.body["id"]
        if status != "member":
            resp = self.http("POST", f"/v1/members/{member_id}/status",
                             {"status": status, "effective_date": "2024-02-01"},
                             token=self.operator_token)
            self.assertEqual(resp.status, 200, resp.body)
        return member_id

    def create(self, body, token=None):
        return self.http("POST", "/v1/tokens", body, token=token or self.operator_token)

    def me(self, token):
        return self.http("GET", "/v1/me", token=token)

    # -- creation and what is stored

    def test_create_member_token(self):
        member_id = self.member()
        resp = self.create({"role": "member", "member_id": member_id, "label": "Ada's phone"})
        self.assertEqual(resp.status, 201, resp.body)
        t = resp.body
        self.assertRegex(t["token"], TOKEN_SHAPE)
        self.assertEqual(t["role"], "member")
        self.assertEqual(t["member_id"], member_id)
        self.assertEqual(t["label"], "Ada's phone")
        self.assertRegex(t["created_at"], r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

        me = self.me(t["token"])
        self.assertEqual(me.status, 200, me.body)
        self.assertEqual(me.body, {"role": "member", "member_id": member_id, "token_id": t["id"]})

        # Only the SHA-256 of the token text is stored; the text itself appears nowhere.
        stored = self.sql(f"SELECT encode(sha256, 'hex') FROM coop.tokens WHERE id = {t['id']}")
        self.assertEqual(stored, hashlib.sha256(t["token"].encode()).hexdigest())
        row = self.sql(f"SELECT row_to_json(t)::text FROM coop.tokens t WHERE id = {t['id']}")
        self.assertNotIn(t["token"], row)
        self.assertNotIn(t["token"][5:], row)

        # created_by is the operator token that made the call.
        operator_id = self.me(self.operator_token).body["token_id"]
        self.assertEqual(self.sql(f"SELECT created_by FROM coop.tokens WHERE id = {t['id']}"),
                         str(operator_id))

    def test_tokens_differ(self):
        tokens = {self.create({"role": "customer"}).body["token"] for _ in range(5)}
        self.assertEqual(len(tokens), 5)

    def test_operator_token_from_command(self):
        me = self.me(self.operator_token)
        self.assertEqual(me.status, 200, me.body)
        self.assertEqual(me.body["role"], "operator")
        self.assertIsNone(me.body["member_id"])
        self.assertIsInstance(me.body["token_id"], int)
        label = self.sql(f"SELECT label FROM coop.tokens WHERE id = {me.body['token_id']}")
        self.assertEqual(label, "TestTokens operator")

    def test_partner_and_customer_tokens(self):
        for role in ("partner", "customer", "operator"):
            with self.subTest(role=role):
                resp = self.create({"role": role})
                self.assertEqual(resp.status, 201, resp.body)
                self.assertIsNone(resp.body["member_id"])
                self.assertEqual(resp.body["label"], "")
                me = self.me(resp.body["token"]).body
                self.assertEqual(me["role"], role)
                self.assertIsNone(me["member_id"])
        # A partner token may be bound to a member who has left.
        resigned = self.member("resigned")
        resp = self.create({"role": "partner", "member_id": resigned})
        self.assertEqual(resp.status, 201, resp.body)
        self.assertEqual(self.me(resp.body["token"]).body["member_id"], resigned)

    def test_invalid_creation_is_422_and_writes_nothing(self):
        excluded = self.member("excluded")
        cases = [
            ({}, "/role"),
            ({"role": "admin"}, "/role"),
            ({"roles": ["member"]}, "/roles"),
            ({"role": "member"}, "/member_id"),
            ({"role": "member", "member_id": None}, "/member_id"),
            ({"role": "member", "member_id": 0}, "/member_id"),
            ({"role": "member", "member_id": "5"}, "/member_id"),
            ({"role": "member", "member_id": 99999999}, "/member_id"),
            ({"role": "member", "member_id": excluded}, "/member_id"),
            ({"role": "partner", "member_id": 99999999}, "/member_id"),
            ({"role": "customer", "label": "x" * 201}, "/label"),
        ]
        for body, pointer in cases:
            with self.subTest(body=body):
                before = self.token_count()
                self.assertProblem(self.create(body), 422, pointer)
                self.assertEqual(self.token_count(), before)

    def test_member_token_for_a_member_leaving_later(self):
        """A resignation recorded ahead of its date does not stop a member token today."""
        member_id = self.member()
        resp = self.http("POST", f"/v1/members/{member_id}/status",
                         {"status": "resigned", "effective_date": "2999-12-31"},
                         token=self.operator_token)
        self.assertEqual(resp.status, 200, resp.body)
        resp = self.create({"role": "member", "member_id": member_id})
        self.assertEqual(resp.status, 201, resp.body)
        self.assertEqual(self.me(resp.body["token"]).status, 200)

    def test_member_not_yet_in_the_register(self):
        """A member whose first status takes effect later has no status in force: no member
        token can be made for them, and one that exists (stored before this rule) is refused
        like a resigned member's, until that date."""
        resp = self.http("POST", "/v1/members",
                         {"name": f"Future {time.monotonic_ns()}", "status": "member",
                          "effective_date": "2999-01-01"}, token=self.operator_token)
        self.assertEqual(resp.status, 201, resp.body)
        member_id = resp.body["id"]
        before = self.token_count()
        problem = self.assertProblem(self.create({"role": "member", "member_id": member_id}),
                                     422, "/member_id")
        self.assertIn("no status in force", problem["errors"][0]["message"])
        self.assertEqual(self.token_count(), before)
        # A partner token is not about membership: it may be bound to them.
        self.assertEqual(self.create({"role": "partner", "member_id": member_id}).status, 201)

        # A member token stored directly, as one made before the rule would be.
        def stored_token(label):
            token = "coop_" + secrets.token_urlsafe(32)
            digest = hashlib.sha256(token.encode()).hexdigest()
            self.sql("INSERT INTO coop.tokens (sha256, role, member_id, label) VALUES "
                     f"(decode('{digest}', 'hex'), 'member', {member_id}, '{label}')")
            return token
        self.assertProblem(self.me(stored_token("early")), 401)
        # Once a status is in force (here: moved into the past behind the API's back) a token
        # of theirs works. A new one: the refusal above is remembered for a few seconds.
        self.sql("ALTER TABLE coop.member_status_changes DISABLE TRIGGER USER;"
                 " UPDATE coop.member_status_changes SET effective_date = '2024-01-01'"
                 f" WHERE member_id = {member_id};"
                 " ALTER TABLE coop.member_status_changes ENABLE TRIGGER USER")
        self.assertEqual(self.me(stored_token("in force")).status, 200)

    # -- listing

    def test_list_never_shows_secrets(self):
        created = self.create({"role": "customer", "label": "listed"}).body
        resp = self.http("GET", "/v1/tokens", token=self.operator_token)
        self.assertEqual(resp.status, 200, resp.body)
        tokens = resp.body["tokens"]
        ids = [t["id"] for t in tokens]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(tokens), self.token_count())
        mine = [t for t in tokens if t["id"] == created["id"]][0]
        self.assertEqual(set(mine), {"id", "role", "member_id", "label", "created_at",
                                     "revoked_at", "created_by"})
        self.assertEqual(mine["label"], "listed")
        self.assertIsNone(mine["revoked_at"])
        text = resp.headers.as_string() + repr(resp.body)
        self.assertNotIn(created["token"], text)
        self.assertNotIn(hashlib.sha256(created["token"].encode()).hexdigest(), text)

    # -- revocation

    def test_revoke(self):
        created = self.create({"role": "customer", "label": "to revoke"}).body
        token = created["token"]
        # Used once, so this node has it in its cache.
        self.assertEqual(self.me(token).status, 200)
        count = self.token_count()

        resp = self.http("DELETE", f"/v1/tokens/{created['id']}", token=self.operator_token)
        self.assertEqual(resp.status, 204, resp.body)
        # Refused at once on this node, cache or not.
        self.assertProblem(self.me(token), 401)
        # The row stays, with its revocation time.
        self.assertEqual(self.token_count(), count)
        listed = [t for t in self.http("GET", "/v1/tokens", token=self.operator_token)
                  .body["tokens"] if t["id"] == created["id"]][0]
        self.assertRegex(listed["revoked_at"], r"^\d{4}-\d{2}-\d{2}T.*Z$")
        # Revoking again keeps the first time.
        again = self.http("DELETE", f"/v1/tokens/{created['id']}", token=self.operator_token)
        self.assertEqual(again.status, 204)
        listed2 = [t for t in self.http("GET", "/v1/tokens", token=self.operator_token)
                   .body["tokens"] if t["id"] == created["id"]][0]
        self.assertEqual(listed2["revoked_at"], listed["revoked_at"])

        for path in ("/v1/tokens/99999999", "/v1/tokens/abc", "/v1/tokens/0"):
            with self.subTest(path=path):
                self.assertProblem(self.http("DELETE", path, token=self.operator_token), 404)

        # The database refuses to un-revoke or delete a token.
        with self.assertRaises(RuntimeError):
            self.sql(f"UPDATE coop.tokens SET revoked_at = NULL WHERE id = {created['id']}")
        with self.assertRaises(RuntimeError):
            self.sql(f"DELETE FROM coop.tokens WHERE id = {created['id']}")

    # -- a member's status decides whether their member token works

    def test_member_token_follows_status(self):
        member_id = self.member()
        token = self.create({"role": "member", "member_id": member_id}).body["token"]
        partner = self.create({"role": "partner", "member_id": member_id}).body["token"]
        self.assertEqual(self.me(token).status, 200)  # now cached on this node
        self.assertEqual(self.me(partner).status, 200)

        # Excluded as of today: the member token is refused at once; a partner token is not
        # about membership and keeps working.
        today = self.sql("SELECT (now() AT TIME ZONE 'UTC')::date")
        resp = self.http("POST", f"/v1/members/{member_id}/status",
                         {"status": "excluded", "effective_date": today}, token=self.operator_token)
        self.assertEqual(resp.status, 200, resp.body)
        self.assertProblem(self.me(token), 401)
        self.assertProblem(self.me(token), 401)
        self.assertEqual(self.me(partner).status, 200)

        # Re-admitted: it works again at once (the refusal was not kept).
        resp = self.http("POST", f"/v1/members/{member_id}/status",
                         {"status": "member", "effective_date": today}, token=self.operator_token)
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(self.me(token).status, 200)

        # A resignation recorded ahead of its date: the token works until that date.
        resp = self.http("POST", f"/v1/members/{member_id}/status",
                         {"status": "resigned", "effective_date": "2999-12-31"},
                         token=self.operator_token)
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(self.me(token).status, 200)

    # -- roles and bad tokens

    def test_roles_on_token_routes(self):
        member_token = self.create({"role": "member", "member_id": self.member()}).body["token"]
        partner_token = self.create({"role": "partner"}).body["token"]
        before = self.token_count()
        for token in (member_token, partner_token):
            self.assertProblem(self.create({"role": "operator"}, token=token), 403)
            self.assertProblem(self.http("GET", "/v1/tokens", token=token), 403)
            self.assertProblem(self.http("DELETE", "/v1/tokens/1", token=token), 403)
        self.assertEqual(self.token_count(), before)
        self.assertEqual(self.me(self.operator_token).body["role"], "operator")

    def test_bad_tokens_are_401(self):
        well_formed_unknown = "coop_" + "A" * 43
        for token in ("nonsense", "coop_short", well_formed_unknown, well_formed_unknown,
                      self.operator_token + "x", self.operator_token[:-1] + "!"):
            with self.subTest(token=token):
                resp = self.me(token)
                self.assertProblem(resp, 401)
                self.assertIn("Bearer", resp.headers.get("WWW-Authenticate", ""))
        self.assertProblem(self.http("GET", "/v1/me"), 401)
        self.assertProblem(self.http("GET", "/v1/me",
                                     headers={"Authorization": f"Basic {self.operator_token}"}),
                           401)

    def test_concurrent_first_use(self):
        """Many requests with one uncached token at once all succeed (they share one lookup)."""
        token = self.create({"role": "customer"}).body["token"]
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(lambda _: self.me(token).status, range(32)))
        self.assertEqual(statuses, [200] * 32)


class TestRevocationAcrossNodes(coophelper.CoopTestCase):
    """A second coopd on the same database learns of a revocation when its cache entry expires
    (auth.token_cache_seconds), not before it is needed."""

    CACHE_SECONDS = 2

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        config = coophelper.base_config(cls.dbname)
        config["auth"]["token_cache_seconds"] = cls.CACHE_SECONDS
        cls.other = coophelper.Coopd(cls.cluster, cls.dbname, config=config)
        try:
            cls.other.start()
        except BaseException:
            cls.other.kill()
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.other.stop()
        finally:
            cls.other.kill()
            super().tearDownClass()

    def test_other_node_refuses_within_cache_time(self):
        resp = self.http("POST", "/v1/tokens", {"role": "customer"}, token=self.operator_token)
        self.assertEqual(resp.status, 201, resp.body)
        token, token_id = resp.body["token"], resp.body["id"]
        self.assertEqual(self.other.http("GET", "/v1/me", token=token).status, 200)

        revoked_at = time.monotonic()
        resp = self.http("DELETE", f"/v1/tokens/{token_id}", token=self.operator_token)
        self.assertEqual(resp.status, 204)
        self.assertEqual(self.http("GET", "/v1/me", token=token).status, 401)

        deadline = revoked_at + self.CACHE_SECONDS + coophelper.time_limit(3)
        while True:
            status = self.other.http("GET", "/v1/me", token=token).status
            if status == 401:
                break
            self.assertEqual(status, 200)
            self.assertLess(time.monotonic(), deadline, "the other node still accepts the token")
            time.sleep(0.1)
        # And it stays refused.
        self.assertEqual(self.other.http("GET", "/v1/me", token=token).status, 401)


class TestLookupsReachTheDatabaseOnce(coophelper.CoopTestCase):
    """The token cache seen from PostgreSQL's side: the database logs every statement of this
    class's database, and the digest of a token (a parameter of each lookup) is counted there."""

    @classmethod
    def edit_config(cls, config):
        cls.cluster.psql(f'ALTER DATABASE "{cls.dbname}" SET log_statement = \'all\'')

    def lookups_of(self, token):
        """How often the server log shows the SHA-256 of TOKEN as a statement parameter."""
        path = os.path.join(self.cluster.host, "server.log")
        if not os.path.isfile(path):
            self.fail(f"no server log at {path}: this test needs a cluster from scripts/pg.sh")
        digest = hashlib.sha256(token.encode()).hexdigest()
        with open(path, errors="replace") as f:
            return sum(1 for line in f if "parameters:" in line and digest in line)

    def test_one_lookup_for_many_requests(self):
        token = self.http("POST", "/v1/tokens", {"role": "customer"},
                          token=self.operator_token).body["token"]
        self.assertEqual(self.lookups_of(token), 1)  # the INSERT that stored it
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(lambda _: self.http("GET", "/v1/me", token=token).status,
                                     range(40)))
        self.assertEqual(statuses, [200] * 40)
        self.assertEqual(self.lookups_of(token), 2)  # ... and one lookup

    def test_bad_token_asked_once(self):
        bad = "coop_" + secrets.token_urlsafe(32)  # unique: the log outlives this test
        for _ in range(10):
            self.assertEqual(self.http("GET", "/v1/me", token=bad).status, 401)
        self.assertEqual(self.lookups_of(bad), 1)
        # Not shaped like a token at all: never asked.
        worse = bad[:-1] + "!"
        self.assertEqual(self.http("GET", "/v1/me", token=worse).status, 401)
        self.assertEqual(self.lookups_of(worse), 0)


if __name__ == "__main__":
    unittest.main()
