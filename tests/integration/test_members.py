"""The member register over HTTP against a real coopd and PostgreSQL.

Expected statuses at given times are worked out by hand from the effective dates recorded (a
change effective on date D counts from D 00:00 UTC), not read back from the code under test.
"""

import concurrent.futures
import datetime
import hashlib
import json
import re
import unittest

import coophelper

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def today_utc():
    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()


class TestMembers(coophelper.CoopTestCase):

    # -- helpers

    def create(self, body, token=None):
        return self.http("POST", "/v1/members", body, token=token or self.operator_token)

    def change(self, member_id, body, token=None):
        return self.http("POST", f"/v1/members/{member_id}/status", body,
                         token=token or self.operator_token)

    def new_member(self, name, **fields):
        resp = self.create(dict(name=name, **fields))
        self.assertEqual(resp.status, 201, resp.body)
        return resp.body

    def token_for(self, role, member_id=None):
        body = {"role": role}
        if member_id is not None:
            body["member_id"] = member_id
        resp = self.http("POST", "/v1/tokens", body, token=self.operator_token)
        self.assertEqual(resp.status, 201, resp.body)
        return resp.body["token"]

    def sql(self, query):
        return self.cluster.psql(query, dbname=self.dbname)

    def counts(self):
        """Rows of the register's two tables, to prove a refused write left no trace."""
        return self.sql("SELECT (SELECT count(*) FROM coop.members) || ',' ||"
                        " (SELECT count(*) FROM coop.member_status_changes)")

    def status_at(self, member_id, at):
        return self.sql(f"SELECT status FROM coop.member_status_at('{at}') "
                        f"WHERE member_id = {member_id}")

    # -- creating

    def test_create_defaults_to_applicant_today(self):
        resp = self.create({"name": "Ada Lovelace", "email": "ada@example.org"})
        self.assertEqual(resp.status, 201, resp.body)
        m = resp.body
        self.assertIsInstance(m["id"], int)
        self.assertEqual(m["name"], "Ada Lovelace")
        self.assertEqual(m["email"], "ada@example.org")
        self.assertEqual(m["status"], "applicant")
        self.assertEqual(m["status_effective_date"], today_utc())
        self.assertRegex(m["created_at"], RFC3339_UTC)
        self.assertEqual(len(m["history"]), 1)
        self.assertEqual(m["history"][0]["status"], "applicant")
        self.assertEqual(m["history"][0]["effective_date"], today_utc())
        self.assertIsNone(m["history"][0]["note"])
        self.assertRegex(m["history"][0]["recorded_at"], RFC3339_UTC)

        # The new member's URL, where it reads back the same.
        self.assertEqual(resp.headers.get("Location"), f"/v1/members/{m['id']}")
        got = self.http("GET", resp.headers["Location"], token=self.operator_token)
        self.assertEqual(got.status, 200, got.body)
        self.assertEqual(got.body, m)

    def test_create_as_member_with_date_and_note(self):
        m = self.new_member("Founding Member", status="member", effective_date="2020-05-01",
                            note="founder")
        self.assertIsNone(m["email"])
        self.assertEqual(m["status"], "member")
        self.assertEqual(m["status_effective_date"], "2020-05-01")
        self.assertEqual(m["history"][0]["note"], "founder")
        self.assertEqual(self.status_at(m["id"], "2020-04-30T23:59:59Z"), "")
        self.assertEqual(self.status_at(m["id"], "2020-05-01T00:00:00Z"), "member")

    # -- the life cycle

    def test_lifecycle_with_effective_dates(self):
        m = self.new_member("Grace Hopper", effective_date="2024-01-10")
        mid = m["id"]
        steps = [("member", "2024-02-01", None), ("resigned", "2024-06-30", "moved away"),
                 ("member", "2025-01-01", "re-admitted"), ("excluded", "2025-01-01", None)]
        for status, date, note in steps:
            body = {"status": status, "effective_date": date}
            if note:
                body["note"] = note
            resp = self.change(mid, body)
            self.assertEqual(resp.status, 200, resp.body)
            self.assertIsNone(resp.headers.get("Location"))
            self.assertEqual(resp.body["status"], status)
            self.assertEqual(resp.body["status_effective_date"], date)

        got = self.http("GET", f"/v1/members/{mid}", token=self.operator_token).body
        self.assertEqual([(h["status"], h["effective_date"], h["note"]) for h in got["history"]],
                         [("applicant", "2024-01-10", None)] + steps)
        self.assertEqual(got["status"], "excluded")

        # Status in force at each time, worked out from the dates above.
        expected = [
            ("2024-01-09T23:59:59Z", ""),            # before the application
            ("2024-01-10T00:00:00Z", "applicant"),
            ("2024-01-31T23:59:59.999Z", "applicant"),
            ("2024-02-01T00:00:00Z", "member"),
            ("2024-02-01T00:30:00+01:00", "applicant"),  # = 2024-01-31T23:30Z
            ("2024-06-29T12:00:00Z", "member"),
            ("2024-06-30T00:00:00Z", "resigned"),
            ("2024-12-31T23:59:59Z", "resigned"),
            ("2025-01-01T00:00:00Z", "excluded"),     # two changes that day: the later recorded
            ("infinity", "excluded"),
        ]
        for at, status in expected:
            with self.subTest(at=at):
                self.assertEqual(self.status_at(mid, at), status)

        # The same through the list's ?at=.
        for at, status in [("2024-03-01", "member"), ("2024-06-30", "resigned"),
                           ("2024-06-29T23:59:59Z", "member")]:
            with self.subTest(list_at=at):
                resp = self.http("GET", f"/v1/members?at={at}", token=self.operator_token)
                self.assertEqual(resp.status, 200, resp.body)
                row = [x for x in resp.body["members"] if x["id"] == mid]
                self.assertEqual(row[0]["status"], status)
        resp = self.http("GET", "/v1/members?at=2024-01-09", token=self.operator_token)
        self.assertNotIn(mid, [x["id"] for x in resp.body["members"]])

    def test_same_day_changes_follow_recording_order(self):
        m = self.new_member("Same Day", status="member", effective_date="2023-03-01")
        self.assertEqual(self.change(m["id"], {"status": "resigned",
                                               "effective_date": "2023-04-01"}).status, 200)
        self.assertEqual(self.change(m["id"], {"status": "member",
                                               "effective_date": "2023-04-01"}).status, 200)
        self.assertEqual(self.status_at(m["id"], "2023-04-01T00:00:00Z"), "member")
        self.assertEqual(self.status_at(m["id"], "2023-03-31T23:59:59Z"), "member")

    def test_status_defaults_to_today(self):
        m = self.new_member("Today Member")
        resp = self.change(m["id"], {"status": "member"})
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.body["status_effective_date"], today_utc())

    # -- refusals leave no trace

    def test_invalid_transitions_are_409_on_status(self):
        applicant = self.new_member("Appl", effective_date="2024-01-01")
        member = self.new_member("Memb", status="member", effective_date="2024-01-01")
        resigned = self.new_member("Resi", status="member", effective_date="2024-01-01")
        self.assertEqual(self.change(resigned["id"], {"status": "resigned",
                                                      "effective_date": "2024-02-01"}).status, 200)
        cases = [(applicant, "resigned"), (applicant, "applicant"), (member, "applicant"),
                 (member, "member"), (resigned, "excluded"), (resigned, "resigned"),
                 (resigned, "applicant")]
        for who, status in cases:
            with self.subTest(current=who["name"], to=status):
                before = self.counts()
                resp = self.change(who["id"], {"status": status, "effective_date": "2024-12-01"})
                problem = self.assertProblem(resp, 409, "/status")
                self.assertIn(status, problem["errors"][0]["message"])
                self.assertEqual(self.counts(), before)

    def test_concurrent_changes_are_checked_in_turn(self):
        """Racing changes of one member: the row lock lets exactly one of each pair through."""
        for round_ in range(5):
            m = self.new_member(f"Race {round_}", status="member", effective_date="2024-01-01")
            bodies = [{"status": "resigned", "effective_date": "2024-06-01"},
                      {"status": "excluded", "effective_date": "2024-06-01"}] * 4
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                statuses = sorted(pool.map(lambda b: self.change(m["id"], b).status, bodies))
            self.assertEqual(statuses, [200] + [409] * 7)
            history = self.http("GET", f"/v1/members/{m['id']}",
                                token=self.operator_token).body["history"]
            self.assertEqual(len(history), 2)

    def test_effective_date_before_current_is_422(self):
        m = self.new_member("Early", status="member", effective_date="2024-05-10")
        before = self.counts()
        resp = self.change(m["id"], {"status": "resigned", "effective_date": "2024-05-09"})
        self.assertProblem(resp, 422, "/effective_date")
        self.assertEqual(self.counts(), before)
        # The same day is fine.
        resp = self.change(m["id"], {"status": "resigned", "effective_date": "2024-05-10"})
        self.assertEqual(resp.status, 200, resp.body)

    def test_invalid_fields_are_422_with_pointer(self):
        m = self.new_member("Valid One")
        cases = [
            ("POST", "/v1/members", {}, "/name"),
            ("POST", "/v1/members", {"name": ""}, "/name"),
            ("POST", "/v1/members", {"name": "   "}, "/name"),
            ("POST", "/v1/members", {"name": 42}, "/name"),
            ("POST", "/v1/members", {"name": "x" * 201}, "/name"),
            ("POST", "/v1/members", {"name": "A", "email": "not-an-address"}, "/email"),
            ("POST", "/v1/members", {"name": "A", "status": "resigned"}, "/status"),
            ("POST", "/v1/members", {"name": "A", "status": "king"}, "/status"),
            ("POST", "/v1/members", {"name": "A", "effective_date": "2024-02-30"},
             "/effective_date"),
            ("POST", "/v1/members", {"name": "A", "effective_date": "1899-12-31"},
             "/effective_date"),
            ("POST", "/v1/members", {"name": "A", "colour": "red"}, "/colour"),
            ("POST", f"/v1/members/{m['id']}/status", {}, "/status"),
            ("POST", f"/v1/members/{m['id']}/status", {"status": "boss"}, "/status"),
            ("POST", f"/v1/members/{m['id']}/status",
             {"status": "member", "effective_date": "01.02.2024"}, "/effective_date"),
        ]
        for method, path, body, pointer in cases:
            with self.subTest(body=body):
                before = self.counts()
                resp = self.http(method, path, body, token=self.operator_token)
                self.assertProblem(resp, 422, pointer)
                self.assertEqual(self.counts(), before)

    def test_malformed_json_is_400(self):
        before = self.counts()
        resp = self.http("POST", "/v1/members", '{"name": "A",', token=self.operator_token)
        self.assertProblem(resp, 400)
        self.assertEqual(self.counts(), before)

    def test_duplicate_email_is_409(self):
        self.new_member("First", email="same@example.org")
        before = self.counts()
        resp = self.create({"name": "Second", "email": "SAME@example.org"})
        self.assertProblem(resp, 409, "/email")
        self.assertEqual(self.counts(), before)

    def test_unknown_member_is_404(self):
        before = self.counts()
        for path in ("/v1/members/999999", "/v1/members/0", "/v1/members/abc"):
            with self.subTest(path=path):
                self.assertProblem(self.http("GET", path, token=self.operator_token), 404)
        resp = self.change(999999, {"status": "member"})
        self.assertProblem(resp, 404)
        self.assertEqual(self.counts(), before)

    # -- listing

    def test_list_ordered_and_filtered(self):
        a = self.new_member("List A", status="member", effective_date="2022-01-01")
        b = self.new_member("List B")
        resp = self.http("GET", "/v1/members", token=self.operator_token)
        self.assertEqual(resp.status, 200, resp.body)
        ids = [x["id"] for x in resp.body["members"]]
        self.assertEqual(ids, sorted(ids))
        self.assertIn(a["id"], ids)
        self.assertIn(b["id"], ids)
        self.assertNotIn("history", resp.body["members"][0])

        members = self.http("GET", "/v1/members?status=member", token=self.operator_token).body
        self.assertIn(a["id"], [x["id"] for x in members["members"]])
        self.assertNotIn(b["id"], [x["id"] for x in members["members"]])
        self.assertTrue(all(x["status"] == "member" for x in members["members"]))

        # Compared with the database's own answer.
        expected = self.sql("SELECT string_agg(member_id::text, ',' ORDER BY member_id) FROM "
                            "coop.member_status_at('infinity') WHERE status = 'applicant'")
        applicants = self.http("GET", "/v1/members?status=applicant",
                               token=self.operator_token).body["members"]
        self.assertEqual(",".join(str(x["id"]) for x in applicants), expected)

        # Pages: limit and after, in id order, covering the whole list exactly once.
        everyone = [x["id"] for x in
                    self.http("GET", "/v1/members", token=self.operator_token).body["members"]]
        paged, after = [], 0
        while True:
            page = self.http("GET", f"/v1/members?limit=2&after={after}",
                             token=self.operator_token).body["members"]
            self.assertLessEqual(len(page), 2)
            if not page:
                break
            paged += [x["id"] for x in page]
            after = page[-1]["id"]
        self.assertEqual(paged, everyone)
        page = self.http("GET", f"/v1/members?status=member&limit=1&after={a['id'] - 1}",
                         token=self.operator_token).body["members"]
        self.assertEqual([x["id"] for x in page], [a["id"]])

        for query in ("status=boss", "at=yesterday", "at=2024-13-01", "limit=0", "limit=10001",
                      "limit=x", "after=-1", "after=1.5"):
            with self.subTest(query=query):
                resp = self.http("GET", f"/v1/members?{query}", token=self.operator_token)
                self.assertProblem(resp, 400)

    # -- roles

    def test_roles(self):
        m = self.new_member("Role Member", status="member", effective_date="2024-01-01")
        member_token = self.token_for("member", m["id"])
        partner_token = self.token_for("partner")

        # A member may read the register...
        self.assertEqual(self.http("GET", "/v1/members", token=member_token).status, 200)
        self.assertEqual(self.http("GET", f"/v1/members/{m['id']}", token=member_token).status,
                         200)
        # ...but not write it.
        before = self.counts()
        self.assertProblem(self.create({"name": "Sneaky"}, token=member_token), 403)
        self.assertProblem(self.change(m["id"], {"status": "resigned"}, token=member_token), 403)
        # A partner may not even read it.
        self.assertProblem(self.http("GET", "/v1/members", token=partner_token), 403)
        # Without a token: 401 with the Bearer challenge.
        resp = self.http("GET", "/v1/members")
        self.assertProblem(resp, 401)
        self.assertIn("Bearer", resp.headers.get("WWW-Authenticate", ""))
        self.assertEqual(self.counts(), before)

    def test_what_a_member_token_sees(self):
        """Operators see every field. A member-role token (an applicant's too) sees the register
        (ids, names, statuses and their dates) but email and notes only of its own record; the
        chain hash of another's change is withheld with its note, since it covers the note."""
        me = self.new_member("Reader", email="reader@example.org", note="my own note")
        other = self.new_member("Other", email="other@example.org", status="member",
                                effective_date="2024-01-01", note="joined")
        resp = self.change(other["id"], {"status": "excluded", "effective_date": "2024-03-01",
                                         "note": "excluded for harassing staff"})
        self.assertEqual(resp.status, 200, resp.body)
        other_full = resp.body
        token = self.token_for("member", me["id"])  # me is an applicant

        # One record each, read by the member token.
        own = self.http("GET", f"/v1/members/{me['id']}", token=token)
        self.assertEqual(own.status, 200, own.body)
        self.assertEqual(own.body, me)  # every field of its own record, notes and hashes too
        seen = self.http("GET", f"/v1/members/{other['id']}", token=token)
        self.assertEqual(seen.status, 200, seen.body)
        self.assertNotIn("email", seen.body)
        self.assertEqual({k: seen.body[k] for k in ("id", "name", "status",
                                                    "status_effective_date", "created_at")},
                         {k: other_full[k] for k in ("id", "name", "status",
                                                     "status_effective_date", "created_at")})
        self.assertEqual(seen.body["history"],
                         [{"status": h["status"], "effective_date": h["effective_date"],
                           "recorded_at": h["recorded_at"]} for h in other_full["history"]])
        self.assertNotIn("harassing", json.dumps(seen.body))
        self.assertNotIn("other@example.org", json.dumps(seen.body))

        # The list: the same rule, row by row.
        listed = {x["id"]: x for x in
                  self.http("GET", "/v1/members", token=token).body["members"]}
        self.assertEqual(listed[me["id"]]["email"], "reader@example.org")
        self.assertNotIn("email", listed[other["id"]])
        self.assertEqual(listed[other["id"]]["status"], "excluded")
        self.assertTrue(all("email" not in x for i, x in listed.items() if i != me["id"]))

        # The operator sees everything.
        full = self.http("GET", f"/v1/members/{other['id']}", token=self.operator_token).body
        self.assertEqual(full, other_full)
        listed = {x["id"]: x for x in
                  self.http("GET", "/v1/members", token=self.operator_token).body["members"]}
        self.assertEqual(listed[other["id"]]["email"], "other@example.org")

    def test_database_refuses_direct_edits(self):
        """The register is append-only in the database itself, not only through the API."""
        m = self.new_member("Kept", status="member", effective_date="2024-01-01")
        with self.assertRaises(RuntimeError):
            self.sql(f"UPDATE coop.member_status_changes SET status = 'excluded' "
                     f"WHERE member_id = {m['id']}")
        with self.assertRaises(RuntimeError):
            self.sql(f"DELETE FROM coop.member_status_changes WHERE member_id = {m['id']}")
        with self.assertRaises(RuntimeError):
            self.sql(f"INSERT INTO coop.member_status_changes (member_id, status, effective_date)"
                     f" VALUES ({m['id']}, 'applicant', '2024-06-01')")
        self.assertEqual(self.status_at(m["id"], "infinity"), "member")


class TestMemberChain(coophelper.CoopTestCase):
    """The status changes are hash-chained; the chain is recomputed here with hashlib from the
    rows PostgreSQL returns, following the recipe in core/sql/002_member_chain.sql."""

    def sql(self, query):
        return self.cluster.psql(query, dbname=self.dbname)

    def recompute(self):
        """Checks every link and hash; returns the number of changes."""
        rows = self.sql(
            "SELECT json_agg(json_build_object('seq', chain_seq, 'id', id, 'member', member_id,"
            " 'status', status, 'date', to_char(effective_date, 'YYYY-MM-DD'),"
            " 'at', to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
            " 'note', note, 'prev', encode(prev_hash, 'hex'), 'hash', encode(hash, 'hex'))"
            " ORDER BY chain_seq) FROM coop.member_status_changes")
        prev = bytes(32)
        changes = json.loads(rows)
        for n, c in enumerate(changes, 1):
            self.assertEqual(c["seq"], n)
            self.assertEqual(c["prev"], prev.hex())
            record = "|".join([str(c["seq"]), str(c["id"]), str(c["member"]), c["status"],
                               c["date"], c["at"], json.dumps(c["note"], ensure_ascii=False)])
            digest = hashlib.sha256(prev + record.encode("utf-8")).digest()
            self.assertEqual(c["hash"], digest.hex(), c)
            prev = digest
        return len(changes), prev.hex()

    def test_chain_recomputes_and_detects_tampering(self):
        op = self.operator_token
        a = self.http("POST", "/v1/members",
                      {"name": "Chain A", "note": "pipe | and \"quotes\" é"}, token=op).body
        b = self.http("POST", "/v1/members", {"name": "Chain B", "status": "member"}, token=op).body
        self.assertEqual(self.http("POST", f"/v1/members/{a['id']}/status",
                                   {"status": "member"}, token=op).status, 200)
        got = self.http("POST", f"/v1/members/{b['id']}/status",
                        {"status": "resigned", "note": "left"}, token=op).body
        count, head = self.recompute()
        self.assertEqual(count, 4)
        # The API shows each change's hash; the last one recorded is the chain's head.
        self.assertEqual(got["history"][-1]["hash"], head)
        verify = self.sql("SELECT change_count || ',' || coalesce(first_bad_seq::text, '-') || ','"
                          " || head FROM coop.member_status_chain_verify()")
        self.assertEqual(verify, f"4,-,{head}")

        # Concurrent changes still form one chain.
        ids = [self.http("POST", "/v1/members", {"name": f"Chain {i}"}, token=op).body["id"]
               for i in range(12)]
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(lambda i: self.http(
                "POST", f"/v1/members/{i}/status", {"status": "member"}, token=op).status, ids))
        self.assertEqual(statuses, [200] * 12)
        self.assertEqual(self.recompute()[0], 4 + 24)

        # Someone with database rights edits a note behind the API's back: the chain says where.
        self.sql("ALTER TABLE coop.member_status_changes DISABLE TRIGGER USER;"
                 f" UPDATE coop.member_status_changes SET note = 'edited' WHERE chain_seq = 2;"
                 " ALTER TABLE coop.member_status_changes ENABLE TRIGGER USER")
        self.assertEqual(self.sql("SELECT first_bad_seq FROM coop.member_status_chain_verify()"),
                         "2")


if __name__ == "__main__":
    unittest.main()
