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


class TestVotingDatabaseDown(coophelper.CoopTestCase):
    # A cluster of its own, which the test stops and starts.
    private_cluster = True
    plugins = {"voting": {"sweep_seconds": 1}}

    def test_close_waits_for_the_database(self):
        member = self.make_member(name="Voter")
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
