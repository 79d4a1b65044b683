"""Voting while the database is away: a ballot is answered 503 with Retry-After (nothing is
half-written), the closing timer that fires meanwhile fails and tries again, and once the
database is back the proposal closes by itself with the ballot cast before the outage."""

import datetime
import time
import unittest

import coophelper


def at(seconds):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class TestVotingDatabaseDown(unittest.TestCase):
    coop = None
    cluster = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cluster = coophelper.PrivateCluster().start()
        try:
            cls.dbname = cls.cluster.create_database("voting_db_down")
            cls.coop = coophelper.Coopd(cls.cluster, cls.dbname,
                                        plugins={"voting": {"sweep_seconds": 1}})
            cls.operator_token = cls.coop.create_operator_token(label="voting_db_down operator")
            cls.coop.start()
        except BaseException:
            if cls.coop is not None:
                cls.coop.kill()
            cls.cluster.destroy()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.coop is not None:
                cls.coop.stop()
        finally:
            if cls.coop is not None:
                cls.coop.kill()
            cls.cluster.destroy()
            super().tearDownClass()

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        super().run(result)
        if len(result.failures) + len(result.errors) > before and self.coop is not None:
            print(f"\n{self.id()} failed; coopd's log:\n{self.coop.log_tail()}", flush=True)
        return result

    def test_close_waits_for_the_database(self):
        member = self.coop.make_member(self.operator_token, name="Voter")
        resp = self.coop.http("POST", "/v1/voting/proposals", {
            "title": "Outage", "method": "ranked",
            "closes_at": at(coophelper.time_limit(3)),
            "options": [{"key": "a", "label": "A"}, {"key": "b", "label": "B"}]},
            token=self.operator_token)
        self.assertEqual(resp.status, 201, resp.body)
        proposal = resp.body
        path = f"/v1/voting/proposals/{proposal['id']}"
        resp = self.coop.http("POST", f"{path}/ballots", {"ranking": [["b"]]}, token=member.token)
        self.assertEqual(resp.status, 201, resp.body)

        self.cluster.stop()
        try:
            # The member's token is in coopd's cache, so the request reaches the plugin.
            resp = self.coop.http("POST", f"{path}/ballots", {"ranking": [["a"]]},
                                  token=member.token)
            self.assertEqual(resp.status, 503, resp.body)
            self.assertRegex(resp.headers.get("Retry-After", ""), r"^[1-9][0-9]*$")
            # Past closes_at: the closing timer fires and cannot reach the database.
            deadline = time.monotonic() + coophelper.time_limit(15)
            while "closing proposal" not in self.coop.log() and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertIn(f"closing proposal {proposal['id']} (timer) failed", self.coop.log())
        finally:
            self.cluster.start()

        deadline = time.monotonic() + coophelper.time_limit(30)
        while True:
            resp = self.coop.http("GET", f"{path}/result", token=self.operator_token)
            if resp.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        self.assertEqual(resp.status, 200, resp.body)
        result = resp.body
        self.assertEqual((result["closed_by"], result["ballots"], result["winners"]),
                         ("timer", 1, ["b"]))
        resp = self.coop.http("GET", f"{path}/ballots/verify", token=self.operator_token)
        self.assertEqual((resp.body["ballots"], resp.body["intact"]), (1, True))


if __name__ == "__main__":
    unittest.main()
