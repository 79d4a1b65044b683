"""The voting plugin against a real coopd and PostgreSQL: proposal lifecycle, every refusal
(422 with its pointer, 403, 404, 409), replacement ballots and the hash chain, results of each
method (numbers calculated by hand in the comments), early close stored once, the timer close,
a restart while proposals are open, and two nodes closing the same proposal."""

import concurrent.futures
import datetime
import hashlib
import json
import time
import unittest
import urllib.parse

import coophelper

BASE = "/v1/voting/proposals"


def at(seconds):
    """RFC 3339 UTC time SECONDS from now."""
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso(t):
    """RFC 3339 UTC text of datetime T, whole seconds."""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def ranked(title="Ranked", keys=("a", "b", "c"), **extra):
    body = {"title": title, "text": "Pick", "method": "ranked",
            "options": [{"key": k, "label": k.upper()} for k in keys], "closes_at": at(3600)}
    body.update(extra)
    return body


class VotingCase(coophelper.CoopTestCase):
    plugins = {"voting": {"sweep_seconds": 1}}

    def create(self, body, expect=201):
        resp = self.http("POST", BASE, body, token=self.operator_token)
        self.assertEqual(resp.status, expect, resp.body)
        return resp.body

    def vote(self, proposal, member, body, expect=201):
        resp = self.http("POST", f"{BASE}/{proposal['id']}/ballots", body, token=member.token)
        self.assertEqual(resp.status, expect, resp.body)
        return resp

    def close(self, proposal, expect=200):
        resp = self.http("POST", f"{BASE}/{proposal['id']}/close", token=self.operator_token)
        self.assertEqual(resp.status, expect, resp.body)
        return resp.body

    def result(self, proposal):
        return self.http("GET", f"{BASE}/{proposal['id']}/result", token=self.operator_token)

    def wait_result(self, proposal, seconds):
        deadline = time.monotonic() + coophelper.time_limit(seconds)
        while time.monotonic() < deadline:
            resp = self.result(proposal)
            if resp.status == 200:
                return resp.body
            self.assertEqual(resp.status, 409, resp.body)
            time.sleep(0.2)
        self.fail(f"proposal {proposal['id']} not closed within {seconds} s")

    def psql(self, sql):
        return self.cluster.psql(sql, dbname=self.dbname)


class TestProposals(VotingCase):

    def test_create_read_list(self):
        member = self.make_member()
        created = self.create(ranked(title="Budget 2027"))
        self.assertEqual(created["status"], "open")
        self.assertEqual(created["method"], "ranked")
        self.assertEqual([o["key"] for o in created["options"]], ["a", "b", "c"])
        members = self.http("GET", "/v1/members?status=member", token=self.operator_token).body
        self.assertEqual(created["eligible_voters"], len(members["members"]))

        got = self.http("GET", f"{BASE}/{created['id']}", token=member.token)
        self.assertEqual(got.status, 200)
        self.assertEqual(got.body, created | {"status": "open"})
        listed = self.http("GET", f"{BASE}?status=open", token=member.token)
        self.assertEqual(listed.status, 200)
        self.assertIn(created["id"], [p["id"] for p in listed.body["proposals"]])
        self.assertProblem(self.http("GET", f"{BASE}?status=nonsense", token=member.token), 400)

        # Pages, newest first: limit 2, then before=next_before.
        more = [self.create(ranked(title=f"Page {i}"))["id"] for i in range(3)]
        first = self.http("GET", f"{BASE}?limit=2", token=member.token).body
        self.assertEqual([p["id"] for p in first["proposals"]], more[:0:-1])
        second = self.http("GET", f"{BASE}?limit=2&before={first['next_before']}",
                           token=member.token).body
        self.assertEqual(second["proposals"][0]["id"], more[0])
        self.assertProblem(self.http("GET", f"{BASE}?limit=0", token=member.token), 400)

    def test_yesno_defaults(self):
        created = self.create({"title": "Join the federation?", "method": "yesno",
                               "closes_at": at(600)})
        self.assertEqual([o["key"] for o in created["options"]], ["yes", "no", "abstain"])
        self.assertEqual((created["threshold"], created["quorum_percent"]), ("half", 0))

    def test_invalid_proposals(self):
        same_time = ranked(opens_at=at(7200))
        same_time["closes_at"] = same_time["opens_at"]
        cases = [
            ("duplicate option key", ranked(keys=("a", "b", "a")), "/options/2/key"),
            ("closes before it opens", ranked(opens_at=at(7200), closes_at=at(3600)),
             "/closes_at"),
            ("closes when it opens", same_time, "/closes_at"),
            ("closing in the past", ranked(closes_at=at(-60)), "/closes_at"),
            ("not a date-time", ranked(opens_at="tomorrow"), "/opens_at"),
            ("yesno with options", {"title": "Q", "method": "yesno", "closes_at": at(60),
                                    "options": [{"key": "y", "label": "Y"}]}, "/options"),
            ("ranked with a threshold", ranked(threshold="half"), "/threshold"),
            ("one option only", ranked(keys=("a",)), "/options"),
            ("quorum over 100", ranked(quorum_percent=101), "/quorum_percent"),
            ("unknown method", ranked(method="borda"), "/method"),
            ("option key with a space", ranked(keys=("a", "b c")), "/options/1/key"),
            ("unknown field", ranked(colour="red"), None),
            ("no title", {k: v for k, v in ranked().items() if k != "title"}, None),
        ]
        for name, body, pointer in cases:
            with self.subTest(name):
                resp = self.http("POST", BASE, body, token=self.operator_token)
                self.assertProblem(resp, 422, pointer)
        self.assertEqual(self.psql("SELECT count(*) FROM voting.proposals WHERE title = 'Q'"), "0")

    def test_opens_at_not_in_the_past(self):
        # The electorate is the members as of opens_at, so a backdated opens_at would let the
        # operator pick who votes: more than 5 minutes (of clock skew) in the past is refused.
        for name, opens_at in (("year 2000", "2000-01-01T00:00:00Z"), ("an hour ago", at(-3600)),
                               ("six minutes ago", at(-360))):
            with self.subTest(name):
                resp = self.http("POST", BASE, ranked(title="Backdated", opens_at=opens_at),
                                 token=self.operator_token)
                self.assertProblem(resp, 422, "/opens_at")
        self.assertEqual(
            self.psql("SELECT count(*) FROM voting.proposals WHERE title = 'Backdated'"), "0")
        # Within the skew it is taken as now (the database's now(), which is also created_at).
        created = self.create(ranked(title="Clock a minute ahead", opens_at=at(-60)))
        self.assertEqual((created["status"], created["opens_at"]), ("open", created["created_at"]))

    def test_time_bounds(self):
        # 9999-12-31T23:59:59-01:00 is 10000-01-01T00:59:59Z: valid RFC 3339 text, but a time
        # the API could not write back in RFC 3339. Years 0001 to 9999 in UTC only.
        cases = [
            ("closes_at past 9999 in UTC", ranked(closes_at="9999-12-31T23:59:59-01:00"),
             "/closes_at"),
            ("opens_at past 9999 in UTC", ranked(opens_at="9999-12-31T23:59:59-01:00",
                                                closes_at="9999-12-31T23:59:59Z"), "/opens_at"),
        ]
        # At most 3653 days (ten years: 10 * 365 + up to 3 leap days) from opens_at to closes_at.
        opens = (datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
                 + datetime.timedelta(hours=1))
        longest = opens + datetime.timedelta(days=3653)
        cases.append(("one second over ten years",
                      ranked(opens_at=iso(opens),
                             closes_at=iso(longest + datetime.timedelta(seconds=1))),
                      "/closes_at"))
        for name, body, pointer in cases:
            with self.subTest(name):
                body["title"] = "Out of bounds"
                resp = self.http("POST", BASE, body, token=self.operator_token)
                self.assertProblem(resp, 422, pointer)
        self.assertEqual(
            self.psql("SELECT count(*) FROM voting.proposals WHERE title = 'Out of bounds'"), "0")
        created = self.create(ranked(opens_at=iso(opens), closes_at=iso(longest)))
        self.assertEqual((created["opens_at"], created["closes_at"]), (iso(opens), iso(longest)))

        # Far in the future is fine, and its timers are armed: coopd refuses a timer more than
        # ~68 years ahead, so the plugin sets them a day at a time. 9000-01-02T00:00:00+01:00 is
        # 9000-01-01T23:00:00Z (an hour earlier in UTC); the last second of 9999 is served as is.
        log_before = len(self.coop.log())
        far = self.create(ranked(opens_at="9000-01-01T00:00:00Z",
                                 closes_at="9000-01-02T00:00:00+01:00"))
        self.assertEqual((far["status"], far["opens_at"], far["closes_at"]),
                         ("scheduled", "9000-01-01T00:00:00Z", "9000-01-01T23:00:00Z"))
        last = self.create(ranked(opens_at="9999-12-31T00:00:00Z",
                                  closes_at="9999-12-31T23:59:59Z"))
        self.assertEqual(last["closes_at"], "9999-12-31T23:59:59Z")
        time.sleep(coophelper.time_limit(2.5))  # the sweep (every second) finds them too
        self.assertNotIn("cannot arm", self.coop.log()[log_before:])

    def test_openapi(self):
        resp = self.http("GET", "/openapi.json")
        self.assertEqual(resp.status, 200)
        paths = resp.body["paths"]
        for path, method in (("/v1/voting/proposals", "post"), ("/v1/voting/proposals", "get"),
                             ("/v1/voting/proposals/{id}/ballots", "post"),
                             ("/v1/voting/proposals/{id}/ballots/mine", "get"),
                             ("/v1/voting/proposals/{id}/close", "post"),
                             ("/v1/voting/proposals/{id}/result", "get")):
            with self.subTest(f"{method} {path}"):
                operation = paths[path][method]
                self.assertNotIn("not documented", operation["summary"])
                self.assertTrue(any(code.startswith("2") for code in operation["responses"]))

        # Every reference in voting's part of the document resolves.
        def refs(node):
            if isinstance(node, dict):
                if "$ref" in node:
                    yield node["$ref"]
                for value in node.values():
                    yield from refs(value)
            elif isinstance(node, list):
                for value in node:
                    yield from refs(value)

        voting_paths = {k: v for k, v in paths.items() if k.startswith("/v1/voting/")}
        for ref in set(refs(voting_paths)):
            with self.subTest(ref):
                self.assertTrue(ref.startswith("#/"))
                node = resp.body
                for part in urllib.parse.unquote(ref[2:]).split("/"):
                    node = node[part.replace("~1", "/").replace("~0", "~")]
                self.assertIsInstance(node, dict)

    def test_roles_and_unknown(self):
        member = self.make_member()
        self.assertProblem(self.http("POST", BASE, ranked(), token=member.token), 403)
        self.assertProblem(self.http("GET", BASE), 401)
        for path in (f"{BASE}/999999", f"{BASE}/abc", f"{BASE}/999999/result"):
            with self.subTest(path):
                self.assertProblem(self.http("GET", path, token=self.operator_token), 404)
        self.assertProblem(self.http("POST", f"{BASE}/999999/close", token=self.operator_token),
                           404)
        self.assertProblem(self.http("POST", f"{BASE}/999999/ballots", {"ranking": []},
                                     token=member.token), 404)


class TestBallots(VotingCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.voter = cls.coop.make_member(cls.operator_token, name="Voter")
        cls.other = cls.coop.make_member(cls.operator_token, name="Other voter")
        cls.applicant = cls.coop.make_member(cls.operator_token, name="Applicant",
                                             status="applicant")

    def test_refused_ballots(self):
        rank = self.create(ranked(keys=("a", "b", "c", "d")))
        approval = self.create(ranked(method="approval"))
        yesno = self.create({"title": "Q?", "method": "yesno", "closes_at": at(600)})
        cases = [
            ("unknown option (ranked)", rank, {"ranking": [["a"], ["x"]]}, "/ranking/1/0"),
            ("same option twice (ranked)", rank, {"ranking": [["a"], ["b", "a"]]},
             "/ranking/1/1"),
            ("empty tier", rank, {"ranking": [["a"], []]}, "/ranking/1"),
            ("approval ballot on a ranked proposal", rank, {"approve": ["a"]}, "/approve"),
            ("unknown option (approval)", approval, {"approve": ["a", "zz"]}, "/approve/1"),
            ("same option twice (approval)", approval, {"approve": ["b", "b"]}, "/approve/1"),
            ("ranking on an approval proposal", approval, {"ranking": [["a"]]}, "/ranking"),
            ("yes/no answer not one of three", yesno, {"choice": "maybe"}, "/choice"),
            ("no choice on a yes/no proposal", yesno, {}, "/choice"),
            ("ranking on a yes/no proposal", yesno, {"ranking": [["yes"]]}, "/ranking"),
        ]
        for name, proposal, body, pointer in cases:
            with self.subTest(name):
                resp = self.http("POST", f"{BASE}/{proposal['id']}/ballots", body,
                                 token=self.voter.token)
                self.assertProblem(resp, 422, pointer)
        for proposal in (rank, approval, yesno):
            status, _, chain = self.http("GET", f"{BASE}/{proposal['id']}/ballots/verify",
                                         token=self.operator_token)
            self.assertEqual((status, chain["ballots"]), (200, 0), "a refused ballot was kept")

    def test_who_may_vote(self):
        proposal = self.create(ranked())
        body = {"ranking": [["a"]]}
        # Not a member when voting opened: an applicant, and a member admitted afterwards.
        self.assertProblem(self.vote(proposal, self.applicant, body, expect=403), 403)
        late = self.make_member(name="Late member")
        self.assertProblem(self.vote(proposal, late, body, expect=403), 403)
        # Operators manage; they do not vote with an operator token.
        resp = self.http("POST", f"{BASE}/{proposal['id']}/ballots", body,
                         token=self.operator_token)
        self.assertProblem(resp, 403)
        self.vote(proposal, self.voter, body)

    def test_concurrent_ballots(self):
        # 12 members vote at once, each twice: the second ballot, sent once the first was
        # answered, differs from it. Every ballot is chained exactly once, in one order, and each
        # member's second ballot is the one counted.
        voters = [self.make_member(name=f"Concurrent {i}") for i in range(12)]
        proposal = self.create(ranked())
        # First ballots: c alone (c would win if they counted). Second: members 0-6 a > b,
        # members 7-11 b > c (unranked options below the ranked ones):
        #   d[a][b] = 7 (0-6), d[b][a] = 5 (7-11: b ranked, a not);
        #   d[a][c] = 7 (0-6), d[c][a] = 5 (7-11: c ranked, a not);
        #   d[b][c] = 7 + 5 = 12, d[c][b] = 0.
        # a beats b 7:5 and c 7:5, b beats c 12:0: order a > b > c, winner a.
        seconds = [{"ranking": [["a"], ["b"]]}] * 7 + [{"ranking": [["b"], ["c"]]}] * 5

        def cast_twice(i):
            path = f"{BASE}/{proposal['id']}/ballots"
            first = self.http("POST", path, {"ranking": [["c"]]}, token=voters[i].token)
            second = self.http("POST", path, seconds[i], token=voters[i].token)
            return first, second

        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
            pairs = list(pool.map(cast_twice, range(12)))
        responses = [r for pair in pairs for r in pair]
        self.assertEqual([r.status for r in responses], [201] * 24, [r.body for r in responses])
        self.assertEqual(sorted(r.body["seq"] for r in responses), list(range(1, 25)))
        for first, second in pairs:
            self.assertEqual((first.body["replaces"], second.body["replaces"]),
                             (None, first.body["seq"]))
        status, _, chain = self.http("GET", f"{BASE}/{proposal['id']}/ballots/verify",
                                     token=self.operator_token)
        self.assertEqual((chain["ballots"], chain["intact"]), (24, True))
        result = self.close(proposal)
        self.assertEqual(result["pairwise"], {"a": {"b": 7, "c": 7}, "b": {"a": 5, "c": 12},
                                              "c": {"a": 5, "b": 0}})
        self.assertEqual((result["ballots"], result["order"], result["winners"]),
                         (12, [["a"], ["b"], ["c"]], ["a"]))

    def test_not_open(self):
        later = self.create(ranked(opens_at=at(3600), closes_at=at(7200)))
        self.assertEqual(later["status"], "scheduled")
        self.assertNotIn("eligible_voters", later)
        self.assertProblem(self.vote(later, self.voter, {"ranking": []}, expect=409), 409)
        self.assertProblem(self.http("POST", f"{BASE}/{later['id']}/close",
                                     token=self.operator_token), 409)
        self.assertProblem(self.result(later), 409)

    def test_replacement_and_hash_chain(self):
        proposal = self.create(ranked())
        first = self.vote(proposal, self.voter, {"ranking": [["c", "a"], ["b"]]}).body
        second = self.vote(proposal, self.other, {"ranking": [["b"]]}).body
        third = self.vote(proposal, self.voter, {"ranking": [["a"]]}).body
        self.assertEqual([r["seq"] for r in (first, second, third)], [1, 2, 3])
        self.assertEqual([r["replaces"] for r in (first, second, third)], [None, None, 1])
        # Canonical form: options in the proposal's order within a tier.
        self.assertEqual(first["choice"], {"ranking": [["a", "c"], ["b"]]})

        # The documented chain, recomputed here: sha256(prev_hash || record), record =
        # proposal|seq|member|cast_at (UTC, microseconds)|choice (PostgreSQL's jsonb text).
        prev = bytes(32)
        for receipt, member in ((first, self.voter), (second, self.other), (third, self.voter)):
            cast_at = datetime.datetime.fromisoformat(receipt["cast_at"].replace("Z", "+00:00"))
            record = "|".join([str(proposal["id"]), str(receipt["seq"]), str(member.id),
                               cast_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                               json.dumps(receipt["choice"])])
            digest = hashlib.sha256(prev + record.encode()).digest()
            self.assertEqual(receipt["hash"], digest.hex())
            prev = digest
        status, _, chain = self.http("GET", f"{BASE}/{proposal['id']}/ballots/verify",
                                     token=self.operator_token)
        self.assertEqual(status, 200)
        self.assertEqual(chain, {"proposal_id": proposal["id"], "ballots": 3, "intact": True,
                                 "first_bad_seq": None, "head": third["hash"]})
        with self.assertRaises(RuntimeError):
            self.psql(f"DELETE FROM voting.ballots WHERE proposal_id = {proposal['id']}")

        # Each member sees the ballot of theirs that counts; the others are theirs alone.
        mine = self.http("GET", f"{BASE}/{proposal['id']}/ballots/mine", token=self.voter.token)
        self.assertEqual((mine.status, mine.body), (200, third))
        nobody = self.http("GET", f"{BASE}/{proposal['id']}/ballots/mine",
                           token=self.applicant.token)
        self.assertProblem(nobody, 404)

        # Only the last ballot of each member counts: voter a > (b = c), other b > (a = c).
        # d[a][b] = 1, d[b][a] = 1, d[a][c] = 1, d[b][c] = 1, d[c][*] = 0.
        result = self.close(proposal)
        self.assertEqual(result["ballots"], 2)
        self.assertEqual(result["pairwise"], {"a": {"b": 1, "c": 1}, "b": {"a": 1, "c": 1},
                                              "c": {"a": 0, "b": 0}})
        self.assertEqual(result["order"], [["a", "b"], ["c"]])
        self.assertEqual((result["outcome"], result["winners"]), ("tied", ["a", "b"]))
        self.assertProblem(self.vote(proposal, self.voter, {"ranking": []}, expect=409), 409)


class TestResults(VotingCase):
    """Four members and one applicant, created before every proposal: eligible_voters = 4."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.m = [cls.coop.make_member(cls.operator_token, name=f"M{i}") for i in range(4)]
        cls.coop.make_member(cls.operator_token, name="Applicant", status="applicant")

    def yesno(self, **extra):
        body = {"title": "Q?", "method": "yesno", "closes_at": at(600)}
        body.update(extra)
        proposal = self.create(body)
        self.assertEqual(proposal["eligible_voters"], 4)
        return proposal

    def test_yesno_thresholds(self):
        # 2 yes, 1 no, 1 abstain; quorum 75 %: 4 ballots * 100 = 400 >= 75 * 4 = 300, met.
        # two_thirds: 2 * 3 = 6 > 2 * (2 + 1) = 6 is false: rejected.
        # half:       2 * 2 = 4 > 1 * (2 + 1) = 3: passed.
        for threshold, outcome in (("two_thirds", "rejected"), ("half", "passed")):
            with self.subTest(threshold):
                proposal = self.yesno(threshold=threshold, quorum_percent=75)
                for member, choice in zip(self.m, ("yes", "no", "yes", "abstain")):
                    self.vote(proposal, member, {"choice": choice})
                result = self.close(proposal)
                self.assertEqual((result["yes"], result["no"], result["abstain"]), (2, 1, 1))
                self.assertEqual(result["percent_of_ballots"], {"yes": 50, "no": 25, "abstain": 25})
                self.assertEqual((result["quorum_met"], result["outcome"]), (True, outcome))
                self.assertEqual(result["winners"], ["yes" if outcome == "passed" else "no"])

    def test_yesno_quorum_and_replacement(self):
        # quorum 75 %: 2 ballots * 100 = 200 < 300: failed for that reason; member 0's last
        # ballot (no) counts, not the first (yes).
        proposal = self.yesno(quorum_percent=75)
        self.vote(proposal, self.m[0], {"choice": "yes"})
        self.vote(proposal, self.m[1], {"choice": "yes"})
        self.vote(proposal, self.m[0], {"choice": "no"})
        result = self.close(proposal)
        self.assertEqual((result["outcome"], result["quorum_met"]), ("failed_quorum", False))
        self.assertEqual((result["yes"], result["no"], result["ballots"]), (1, 1, 2))
        self.assertEqual(result["percent_of_ballots"], {"yes": 50, "no": 50, "abstain": 0})
        self.assertEqual(result["winners"], [])

    def test_approval_tie(self):
        # a: M0, M2 = 2; b: M0, M1 = 2; c: 0; M3 approves nothing but counts as cast.
        proposal = self.create(ranked(method="approval", quorum_percent=100))
        for member, approve in zip(self.m, (["a", "b"], ["b"], ["a"], [])):
            self.vote(proposal, member, {"approve": approve})
        result = self.close(proposal)
        self.assertEqual(result["approvals"], {"a": 2, "b": 2, "c": 0})
        self.assertEqual(result["order"], [["a", "b"], ["c"]])
        self.assertEqual((result["outcome"], result["winners"]), ("tied", ["a", "b"]))
        self.assertEqual((result["ballots"], result["quorum_met"]), (4, True))

    def test_single_ranked_ballot(self):
        # One ballot b > a, c left out: d[b][a] = d[b][c] = d[a][c] = 1, all else 0; links of
        # strength 1 b->a, b->c, a->c, so p equals d. Order b > a > c.
        proposal = self.create(ranked())
        self.vote(proposal, self.m[2], {"ranking": [["b"], ["a"]]})
        result = self.close(proposal)
        self.assertEqual((result["outcome"], result["winners"]), ("decided", ["b"]))
        self.assertEqual(result["order"], [["b"], ["a"], ["c"]])
        expected = {"a": {"b": 0, "c": 1}, "b": {"a": 1, "c": 1}, "c": {"a": 0, "b": 0}}
        self.assertEqual(result["pairwise"], expected)
        self.assertEqual(result["strongest_paths"], expected)

    def test_zero_ballots(self):
        proposal = self.create(ranked())
        result = self.close(proposal)
        self.assertEqual((result["outcome"], result["winners"]), ("no_winner", []))
        self.assertEqual(result["order"], [["a", "b", "c"]])
        proposal = self.create(ranked(quorum_percent=1))
        result = self.close(proposal)
        self.assertEqual((result["outcome"], result["quorum_met"]), ("failed_quorum", False))

    def test_ranked_ballots_preferring_nothing(self):
        # Two ballots ranking nothing: all three options unranked, so tied, on both; no ballot
        # prefers any option to another, d[i][j] = 0 for every pair. Nothing was chosen:
        # no_winner, not a three-way tie (as approval with no approval). The 2 ballots count for
        # the quorum: 2 * 100 = 200 >= 50 * 4 = 200, met.
        proposal = self.create(ranked(quorum_percent=50))
        for member in self.m[:2]:
            self.vote(proposal, member, {"ranking": []})
        result = self.close(proposal)
        self.assertEqual((result["ballots"], result["quorum_met"]), (2, True))
        self.assertEqual((result["outcome"], result["winners"]), ("no_winner", []))
        self.assertEqual(result["order"], [["a", "b", "c"]])
        self.assertEqual(result["pairwise"], {"a": {"b": 0, "c": 0}, "b": {"a": 0, "c": 0},
                                              "c": {"a": 0, "b": 0}})

    def test_early_close_is_stored_once(self):
        proposal = self.create(ranked())
        self.vote(proposal, self.m[0], {"ranking": [["c"]]})
        first = self.close(proposal)
        self.assertEqual(first["closed_by"], "operator")
        again = self.close(proposal)
        self.assertEqual(again, first)
        stored = self.result(proposal)
        self.assertEqual((stored.status, stored.body), (200, first))
        member_view = self.http("GET", f"{BASE}/{proposal['id']}/result", token=self.m[1].token)
        self.assertEqual(member_view.body, first)
        self.assertEqual(self.psql(f"SELECT count(*) FROM voting.results"
                                   f" WHERE proposal_id = {proposal['id']}"), "1")
        got = self.http("GET", f"{BASE}/{proposal['id']}", token=self.operator_token).body
        self.assertEqual((got["status"], got["closed_by"]), ("closed", "operator"))
        self.assertProblem(self.vote(proposal, self.m[1], {"ranking": []}, expect=409), 409)


class TestTimers(VotingCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.voter = cls.coop.make_member(cls.operator_token, name="Voter")

    def test_timer_closes_on_time(self):
        proposal = self.create(ranked(closes_at=at(coophelper.time_limit(2))))
        self.vote(proposal, self.voter, {"ranking": [["b"]]})
        result = self.wait_result(proposal, 15)
        self.assertEqual((result["closed_by"], result["winners"]), ("timer", ["b"]))

    def test_scheduled_opening(self):
        proposal = self.create(ranked(opens_at=at(1.5),
                                      closes_at=at(1.5 + coophelper.time_limit(3))))
        self.assertProblem(self.vote(proposal, self.voter, {"ranking": []}, expect=409), 409)
        deadline = time.monotonic() + coophelper.time_limit(10)
        while time.monotonic() < deadline:
            got = self.http("GET", f"{BASE}/{proposal['id']}", token=self.operator_token).body
            if got["status"] == "open":
                break
            time.sleep(0.1)
        self.vote(proposal, self.voter, {"ranking": [["c"]]})
        result = self.wait_result(proposal, 15)
        self.assertEqual((result["closed_by"], result["ballots"]), ("timer", 1))

    def test_restart_while_open(self):
        # A closes while coopd is down; B is still open after the restart.
        # (Times stretch for sanitizer builds, so that B is surely still open after the restart.)
        overdue = self.create(ranked(title="A", closes_at=at(2)))
        still_open = self.create(ranked(title="B", closes_at=at(coophelper.time_limit(10))))
        self.vote(overdue, self.voter, {"ranking": [["a"]]})
        self.coop.stop()
        time.sleep(3)
        self.coop.start()
        result = self.wait_result(overdue, 10)
        self.assertEqual((result["closed_by"], result["winners"]), ("timer", ["a"]))
        self.vote(still_open, self.voter, {"ranking": [["c"]]})
        got = self.http("GET", f"{BASE}/{still_open['id']}", token=self.operator_token).body
        self.assertEqual(got["status"], "open")
        result = self.wait_result(still_open, 20)
        self.assertEqual((result["closed_by"], result["winners"]), ("timer", ["c"]))

    def test_two_nodes_close_once(self):
        second = coophelper.Coopd(self.cluster, self.dbname, plugins=self.plugins)
        try:
            second.start()
            proposal = self.create(ranked(closes_at=at(coophelper.time_limit(3))))
            resp = second.http("POST", f"{BASE}/{proposal['id']}/ballots", {"ranking": [["a"]]},
                               token=self.voter.token)
            self.assertEqual(resp.status, 201, resp.body)
            result = self.wait_result(proposal, 15)
            time.sleep(1.5)  # let the other node's timer fire and find it closed
            self.assertEqual(second.http("GET", f"{BASE}/{proposal['id']}/result",
                                         token=self.operator_token).body, result)
            self.assertEqual(self.psql(f"SELECT count(*) FROM voting.results"
                                       f" WHERE proposal_id = {proposal['id']}"), "1")
        finally:
            second.stop()


if __name__ == "__main__":
    unittest.main()
