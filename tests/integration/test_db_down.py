"""The database goes away under a running coopd and comes back (issue 2, item 8).

coopd runs on a PostgreSQL cluster of this test's own (coophelper.PrivateCluster), which the test
stops with `pg_ctl stop -m fast` while coopd serves. Then every request that needs the database
answers 503 application/problem+json with Retry-After, quickly (the pool fails fast instead of
letting requests wait), /readyz says 503 while /healthz stays 200, and once the cluster is back
coopd answers 200 again by itself, without a restart, and stops cleanly at the end.
"""

import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import coophelper


class TestDatabaseDown(coophelper.CoopTestCase):
    plugins = {"hello": {}}
    private_cluster = True  # the test stops and starts it

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.coop.wait_for("/readyz")

    # -- helpers

    def assert_unavailable(self, resp, what):
        """503 problem+json with a Retry-After of whole seconds."""
        self.assertEqual(resp.status, 503, f"{what}: {resp.body!r}")
        self.assertIn("application/problem+json", resp.headers.get("Content-Type", ""), what)
        self.assertIsInstance(resp.body, dict, what)
        self.assertEqual(resp.body.get("status"), 503, what)
        self.assertTrue(resp.body.get("title"), what)
        retry_after = resp.headers.get("Retry-After", "")
        self.assertRegex(retry_after, r"^[1-9][0-9]*$", f"{what}: Retry-After {retry_after!r}")

    def wait_status(self, method, path, status, token=None, timeout=None):
        """Polls until PATH answers STATUS; returns the response and the seconds it took."""
        start = time.monotonic()
        deadline = start + (timeout or coophelper.time_limit(15))
        last = None
        while time.monotonic() < deadline:
            self.assertIsNone(self.coop.process.poll(), "coopd exited:\n" + self.coop.log_tail())
            last = self.http(method, path, token=token)
            if last.status == status:
                return last, time.monotonic() - start
            time.sleep(0.1)
        self.fail(f"{method} {path} did not answer {status} in time; last: {last.status} "
                  f"{last.body!r}")

    def metrics(self):
        """The unlabelled samples of /metrics as name -> number."""
        resp = self.http("GET", "/metrics")
        self.assertEqual(resp.status, 200)
        samples = {}
        for line in resp.body.splitlines():
            parts = line.split()
            if len(parts) == 2 and not line.startswith("#") and "{" not in parts[0]:
                samples[parts[0]] = float(parts[1])
        return samples

    def assert_alive(self):
        self.assertIsNone(self.coop.process.poll(), "coopd exited:\n" + self.coop.log_tail())
        log = self.coop.log()
        for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            self.assertNotIn(marker, log)

    # -- the test

    def test_outage_and_recovery(self):
        # A token used before the outage (possibly cached) and one never used (needs the database
        # to be authenticated): both must get 503 from a route that reads the database.
        resp = self.http("GET", "/v1/members", token=self.operator_token)
        self.assertEqual(resp.status, 200, resp.body)
        fresh_token = self.coop.make_token(self.operator_token, roles=["operator"])

        # Two outages in a row: recovery must not be a one-off.
        for outage in (1, 2):
            with self.subTest(outage=outage):
                self.cluster.stop()  # pg_ctl stop -m fast, waits until the server is down

                resp, _ = self.wait_status("GET", "/readyz", 503,
                                           timeout=coophelper.time_limit(10))
                self.assertEqual(resp.status, 503)
                self.assertEqual(self.http("GET", "/healthz").status, 200,
                                 "liveness does not depend on the database")

                started = time.monotonic()
                resp = self.http("GET", "/v1/members", token=self.operator_token)
                elapsed = time.monotonic() - started
                self.assert_unavailable(resp, "GET /v1/members, operator token used before")
                # Fail fast: well below the pool's 5 s queue bound.
                self.assertLess(elapsed, coophelper.time_limit(2.5),
                                "a request during the outage must not wait for the database")

                if outage == 1:
                    resp = self.http("GET", "/v1/members", token=fresh_token)
                    self.assert_unavailable(resp, "GET /v1/members, token never used before")
                    resp = self.http("POST", "/v1/members", token=self.operator_token,
                                     body={"name": "Written during the outage"})
                    self.assert_unavailable(resp, "POST /v1/members")
                # /metrics shows the outage: no connection up, failures counted.
                metrics = self.metrics()
                self.assertEqual(metrics.get("coop_db_pool_connected"), 0, metrics)
                self.assertGreater(metrics.get("coop_db_pool_failures_total", 0), 0, metrics)
                self.assertLessEqual(metrics["coop_db_pool_failures_total"],
                                     metrics["coop_db_pool_queries_total"], metrics)
                # A path that does not need the database is unaffected.
                self.assertEqual(self.http("GET", "/v1/hello/ping",
                                           token=self.operator_token).status, 200)

                self.cluster.start()
                # The pool's reconnect backoff is capped at 5 s: coopd must be back well within
                # that plus the cluster's own start.
                resp, took = self.wait_status("GET", "/v1/members", 200, token=self.operator_token,
                                              timeout=coophelper.time_limit(15))
                self.assertIsInstance(resp.body, (dict, list), resp.body)
                self.wait_status("GET", "/readyz", 200, timeout=coophelper.time_limit(5))
                self.assertGreaterEqual(self.metrics().get("coop_db_pool_connected", 0), 1)
                self.assert_alive()

        # Nothing written during the outage; the token never used before now works.
        resp = self.http("GET", "/v1/members", token=fresh_token)
        self.assertEqual(resp.status, 200, resp.body)
        names = self.cluster.psql("SELECT count(*) FROM coop.members WHERE name = "
                                  "'Written during the outage'", dbname=self.dbname)
        self.assertEqual(names, "0")
        # And writes work again.
        resp = self.http("POST", "/v1/members", token=self.operator_token,
                         body={"name": "Written after the outage"})
        self.assertEqual(resp.status, 201, resp.body)
        self.assert_alive()
        # The failed reconnects are in the log, rate-limited: one line per 5 s at most (plus
        # one per outage), whichever connection failed.
        log = self.coop.log()
        failures = re.findall(r"database connection \d+ cannot connect: ", log)
        self.assertGreaterEqual(len(failures), 1, log)
        self.assertLessEqual(len(failures), 2 + 2 * coophelper.time_limit(15) / 5, log)


class TestStartWithoutDatabase(unittest.TestCase):
    """No server where the configuration points: coopd refuses to start (exit 2, one line naming
    the database), and so does --create-operator-token; neither hangs nor crashes."""

    def setUp(self):
        # A socket folder with nothing listening in it: the connection is refused at once.
        self.nowhere = tempfile.mkdtemp(prefix="coop-nopg-")
        self.cluster = coophelper.Cluster(self.nowhere, coophelper.free_port())
        self.coop = coophelper.Coopd(self.cluster, "coop", plugins={"hello": {}})
        self.coop.config["listen"] = f"127.0.0.1:{coophelper.free_port()}"
        self.coop.write_config()

    def tearDown(self):
        shutil.rmtree(self.nowhere, ignore_errors=True)
        shutil.rmtree(self.coop.workdir, ignore_errors=True)

    def refused(self, *args):
        proc = subprocess.run([coophelper.coopd_path(), *args, self.coop.config_path],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=self.coop.env(),
                              timeout=coophelper.time_limit(30))
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertEqual(proc.stdout, "")
        lines = [line for line in proc.stderr.splitlines() if line.startswith("coopd: ")]
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertRegex(lines[0], r"^coopd: database: cannot connect: .*\S", proc.stderr)
        self.assertNotIn("listening on", proc.stderr)
        for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            self.assertNotIn(marker, proc.stderr)
        return lines[0]

    def test_start_refused(self):
        line = self.refused()
        self.assertIn(self.nowhere, line, "the line says where it tried")

    def test_create_operator_token_refused(self):
        self.refused("--create-operator-token")



class TestStopWhileAStatementWaits(coophelper.CoopTestCase):
    """SIGTERM while a request waits on a statement that cannot finish (a lock held elsewhere).

    coopd stops accepting and waits for the request up to its drain limit (10 s; said once in the
    log), then cancels the statement: the client gets its 503 (written before coopd exits, with
    Connection: close), and coopd exits with status 0 promptly after.
    """

    plugins = {"hello": {}}

    def test_cancelled_request_gets_its_503(self):
        # The token is checked (and cached) first, so that only the listing waits on the lock.
        self.assertEqual(self.http("GET", "/v1/members", token=self.operator_token).status, 200)
        with self.cluster.table_locked(self.dbname, "coop.members"):
            answer = {}

            def ask():
                try:
                    answer["resp"] = self.http("GET", "/v1/members", token=self.operator_token,
                                               timeout=coophelper.time_limit(40))
                except Exception as e:  # reported below
                    answer["error"] = e

            client = threading.Thread(target=ask)
            client.start()
            self.assertTrue(self.cluster.wait_lock_waiter(self.dbname),
                            "the listing waits on the lock")
            process = self.coop.process
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            status = process.wait(coophelper.time_limit(30))
            took = time.monotonic() - signalled
            client.join(coophelper.time_limit(10))
        self.coop.stop(expect_status=None)  # already exited: closes the log
        log = self.coop.log()
        self.assertEqual(status, 0, log)
        self.assertNotIn("error", answer, log)
        resp = answer["resp"]
        self.assertEqual(resp.status, 503, log)
        self.assertEqual(resp.headers.get("Connection", "").lower(), "close")
        self.assertIn("Retry-After", resp.headers)
        self.assertGreater(took, 9.5, "the drain waited for the request")
        self.assertLess(took, 9.5 + coophelper.time_limit(4), "and then stopped promptly")
        self.assertEqual(len(re.findall(r"still in flight after", log)), 1, log)
        for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            self.assertNotIn(marker, log)


if __name__ == "__main__":
    unittest.main()
