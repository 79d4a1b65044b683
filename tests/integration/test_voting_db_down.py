"""Voting while the database is away: a ballot is answered 503 with Retry-After (nothing is
half-written), the closing timer that fires meanwhile fails and tries again, and once the
database is back the proposal closes by itself with the ballot cast before the outage."""

import datetime
import signal
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



class TestVotingStopWhileClosing(coophelper.CoopTestCase):
    """SIGTERM while the closing transaction waits on a lock: coopd cancels it before the plugin
    stops (the callback runs with -COOP_ECANCELLED while voting's state still exists), voting
    stops, and coopd exits 0 with nothing touched after it was freed (ASan builds check)."""

    plugins = {"voting": {"sweep_seconds": 1}}

    def test_stop_cancels_the_close_first(self):
        resp = self.coop.http("POST", "/v1/voting/proposals", {
            "title": "Stopped while closing", "method": "ranked",
            "closes_at": at(coophelper.time_limit(2)),
            "options": [{"key": "a", "label": "A"}, {"key": "b", "label": "B"}]},
            token=self.operator_token)
        self.assertEqual(resp.status, 201, resp.body)
        with self.cluster.table_locked(self.dbname, "voting.proposals"):
            # Past closes_at the closing transaction waits on the lock.
            self.assertTrue(self.cluster.wait_lock_waiter(self.dbname, "%close_proposal(%", 15),
                            self.coop.log_tail())
            process = self.coop.process
            process.send_signal(signal.SIGTERM)
            status = process.wait(coophelper.time_limit(20))
        self.coop.stop(expect_status=None)  # already exited: closes the log
        log = self.coop.log()
        self.assertEqual(status, 0, log)
        # The close heard of the cancel (and scheduled its retry) while voting was still running.
        self.assertRegex(log, r"closing proposal [0-9]+ \(timer\) failed: .*coopd is stopping")
        for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            self.assertNotIn(marker, log)


if __name__ == "__main__":
    unittest.main()
