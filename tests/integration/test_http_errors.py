"""Bad input over HTTP gets a clear answer: coopd's own error replies, checked against a real
coopd and PostgreSQL.

Each case names what the issue asks for: malformed JSON 400 saying where, an invalid field 422
with its JSON pointer, unknown path 404, wrong method 405 with Allow, no or invalid token 401,
wrong role 403, body over the limit 413. Every error is application/problem+json with status,
title and detail, and every response carries X-Request-Id. (Database down => 503 is in
test_db_down.py.)

The 413 exception: libevent 2.1 refuses an oversized body itself, before coopd sees the request,
and has no hook for it, so that one answer is libevent's small text/html page (status 413,
Connection: close), not problem+json. The test pins exactly that.
"""

import json
import re
import socket
import struct
import subprocess
import threading
import time
import unittest
import uuid

import coophelper

BODY_LIMIT = 4096


class HttpErrorsTest(coophelper.CoopTestCase):
    plugins = {"hello": {}}

    @classmethod
    def edit_config(cls, config):
        config["http"]["max_body_bytes"] = BODY_LIMIT

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.member = cls.coop.make_member(cls.operator_token, name="Grace Member")

    # -- helpers

    def assertError(self, resp, status, pointer=None):
        """A problem+json answer with STATUS, title, detail, type, and instance = X-Request-Id."""
        body = self.assertProblem(resp, status, pointer)
        self.assertTrue(body.get("detail"), body)
        self.assertEqual(body.get("type"), "about:blank", body)
        request_id = resp.headers.get("X-Request-Id")
        self.assertTrue(request_id, "no X-Request-Id")
        self.assertEqual(body.get("instance"), request_id, body)
        return body

    def raw_exchange(self, head, timeout=None):
        """Sends HEAD (bytes, no body follows) on a new connection and returns
        (status, headers dict with lower-case names, body bytes) of the answer."""
        with socket.create_connection(("127.0.0.1", self.coop.port),
                                      timeout=timeout or coophelper.time_limit(10)) as s:
            s.sendall(head)
            data = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                data += chunk
                header_end = data.find(b"\r\n\r\n")
                if header_end >= 0:
                    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", data[:header_end])
                    if m and len(data) >= header_end + 4 + int(m.group(1)):
                        break
        header_end = data.find(b"\r\n\r\n")
        self.assertGreater(header_end, 0, f"no HTTP answer: {data!r}")
        lines = data[:header_end].decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers, data[header_end + 4:]

    # -- 400

    def test_malformed_json_is_400_saying_where(self):
        resp = self.http("POST", "/v1/members", '{"name": "Ada",\n  "email": }',
                         token=self.operator_token)
        body = self.assertError(resp, 400)
        # jansson reports the error at line 2, column 12 (the unexpected "}").
        self.assertEqual(body.get("line"), 2, body)
        self.assertEqual(body.get("column"), 12, body)
        self.assertIn("line 2", body["detail"])
        self.assertIn("column 12", body["detail"])

    def test_truncated_json_and_duplicate_keys_are_400(self):
        body = self.assertError(self.http("POST", "/v1/members", '{"name": "Ada"',
                                          token=self.operator_token), 400)
        self.assertIn("line 1", body["detail"])
        body = self.assertError(self.http("POST", "/v1/members", '{"name": "A", "name": "B"}',
                                          token=self.operator_token), 400)
        self.assertIn("duplicate", body["detail"])

    def test_missing_body_is_400(self):
        self.assertError(self.http("POST", "/v1/members", b"", token=self.operator_token), 400)

    def test_broken_percent_encoding_is_400(self):
        self.assertError(self.http("GET", "/v1/members/%zz", token=self.operator_token), 400)

    # -- 422

    def test_invalid_field_is_422_with_pointer(self):
        body = self.assertError(self.http("POST", "/v1/members", {"name": 5},
                                          token=self.operator_token), 422, pointer="/name")
        self.assertIn("/name", body["detail"])
        self.assertError(self.http("POST", "/v1/members", {"name": "Ada", "bogus": True},
                                   token=self.operator_token), 422, pointer="/bogus")
        self.assertError(self.http("POST", "/v1/tokens", {"role": "emperor"},
                                   token=self.operator_token), 422, pointer="/role")

    # -- 404 / 405

    def test_unknown_path_is_404_even_without_token(self):
        self.assertError(self.http("GET", "/v1/nothing/here"), 404)
        self.assertError(self.http("GET", "/v1/nothing/here", token=self.operator_token), 404)
        self.assertError(self.http("GET", "/"), 404)

    def test_trailing_slash_is_404(self):
        # Strict policy (core/router.c): /v1/members/ is not /v1/members.
        self.assertError(self.http("GET", "/v1/members/", token=self.operator_token), 404)

    def test_wrong_method_is_405_with_allow(self):
        resp = self.http("DELETE", "/v1/members", token=self.operator_token)
        self.assertError(resp, 405)
        self.assertEqual(resp.headers.get("Allow"), "GET, POST")
        resp = self.http("PUT", "/v1/hello/ping")
        self.assertError(resp, 405)
        self.assertEqual(resp.headers.get("Allow"), "GET")
        resp = self.http("PATCH", "/v1/tokens/1", token=self.operator_token)
        self.assertError(resp, 405)
        self.assertEqual(resp.headers.get("Allow"), "DELETE")

    # -- 401 / 403

    def test_no_token_is_401(self):
        resp = self.http("GET", "/v1/members")
        self.assertError(resp, 401)
        self.assertTrue(resp.headers.get("WWW-Authenticate", "").startswith("Bearer"),
                        resp.headers)

    def test_invalid_token_is_401(self):
        fake = "coop_" + "A" * 43  # shaped like a token, never issued
        for header in (f"Bearer {fake}", "Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer",
                       f"Bearer {self.operator_token} extra"):
            with self.subTest(header=header):
                resp = self.http("GET", "/v1/members", headers={"Authorization": header})
                self.assertError(resp, 401)
                self.assertTrue(resp.headers.get("WWW-Authenticate", "").startswith("Bearer"))

    def test_bearer_scheme_is_case_insensitive(self):
        resp = self.http("GET", "/v1/hello/ping",
                         headers={"Authorization": f"bEaReR {self.operator_token}"})
        self.assertEqual(resp.status, 200, resp.body)

    def test_wrong_role_is_403(self):
        # A member may read members but not register them.
        self.assertEqual(self.http("GET", "/v1/members", token=self.member.token).status, 200)
        body = self.assertError(self.http("POST", "/v1/members", {"name": "Not allowed"},
                                          token=self.member.token), 403)
        self.assertIn("member", body["detail"])
        self.assertError(self.http("GET", "/v1/tokens", token=self.member.token), 403)

    # -- 413

    def test_body_over_limit_is_413(self):
        # Announced length above the limit: refused on the headers, before any body is sent.
        status, headers, _ = self.raw_exchange(
            b"POST /v1/members HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + self.operator_token.encode() + b"\r\n"
            b"Content-Length: " + str(BODY_LIMIT + 1).encode() + b"\r\n\r\n")
        self.assertEqual(status, 413)
        self.assertEqual(headers.get("connection", "").lower(), "close")
        # Chunked: refused as soon as a chunk would pass the limit.
        status, _, _ = self.raw_exchange(
            b"POST /v1/members HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/json\r\n\r\n"
            + format(BODY_LIMIT * 4, "x").encode() + b"\r\n")
        self.assertEqual(status, 413)
        # coopd keeps serving afterwards.
        self.assertEqual(self.http("GET", "/healthz").status, 200)

    def test_body_under_limit_reaches_validation(self):
        big = {"name": "Ada", "note": "n" * 1000, "padding": "p" * (BODY_LIMIT - 1200)}
        self.assertLess(len(json.dumps(big)), BODY_LIMIT)
        # Not 413: the body got through to the schema, which names the unknown field.
        self.assertError(self.http("POST", "/v1/members", big, token=self.operator_token), 422,
                         pointer="/padding")

    # -- request ids, headers, the success path

    def test_every_response_has_request_id_and_content_type(self):
        for method, path, token in (("GET", "/healthz", None), ("GET", "/nothing", None),
                                    ("GET", "/v1/hello/ping", self.operator_token),
                                    ("GET", "/v1/members", None)):
            with self.subTest(path=path):
                resp = self.http(method, path, token=token)
                self.assertRegex(resp.headers.get("X-Request-Id", ""), r"^[0-9a-f]{16}$")
                self.assertIn("json", resp.headers.get("Content-Type", ""))
        ids = {self.http("GET", "/healthz").headers["X-Request-Id"] for _ in range(20)}
        self.assertEqual(len(ids), 20, "request ids repeat")

    def test_incoming_request_id_is_kept_when_sane(self):
        resp = self.http("GET", "/nothing", headers={"X-Request-Id": "trace-42.a_b:c"})
        self.assertEqual(resp.headers.get("X-Request-Id"), "trace-42.a_b:c")
        self.assertEqual(resp.body.get("instance"), "trace-42.a_b:c")
        resp = self.http("GET", "/healthz", headers={"X-Request-Id": "x" * 65})
        self.assertRegex(resp.headers.get("X-Request-Id", ""), r"^[0-9a-f]{16}$")
        resp = self.http("GET", "/healthz", headers={"X-Request-Id": "has space"})
        self.assertRegex(resp.headers.get("X-Request-Id", ""), r"^[0-9a-f]{16}$")

    def test_access_log_line(self):
        resp = self.http("GET", "/v1/nothing", headers={"X-Request-Id": "access-log-probe"})
        self.assertEqual(resp.status, 404)
        deadline = time.monotonic() + coophelper.time_limit(5)
        pattern = re.compile(r"component=access request_id=access-log-probe method=GET "
                             r"path=/v1/nothing status=404 bytes=\d+ duration_us=\d+ role=-")
        while time.monotonic() < deadline:
            if pattern.search(self.coop.log()):
                return
            time.sleep(0.1)  # the access log is flushed once a second
        self.fail("no access log line for the request:\n" + self.coop.log_tail())

    def test_access_log_escapes_the_path(self):
        # libevent passes request-line bytes outside RFC 3986 through to coopd. Written raw,
        # they would let a client forge log lines (CR), fields (space, '"') and terminal
        # escapes (ESC); coopd percent-encodes them.
        raw_path = b'/v1/x\r\x1b[31m"q\\ status=200 role=operator\xc3\xa9\x7f%41'
        status, _, _ = self.raw_exchange(
            b"GET " + raw_path + b" HTTP/1.1\r\nHost: t\r\nX-Request-Id: access-log-escape\r\n\r\n")
        self.assertEqual(status, 404)
        want = ("component=access request_id=access-log-escape method=GET "
                "path=/v1/x%0D%1B[31m%22q%5C%20status=200%20role=operator%C3%A9%7F%41 status=404 ")
        deadline = time.monotonic() + coophelper.time_limit(5)
        while time.monotonic() < deadline and want not in self.coop.log():
            time.sleep(0.1)  # the access log is flushed once a second
        log = self.coop.log()
        self.assertIn(want, log)
        line = next(l for l in log.splitlines() if "request_id=access-log-escape" in l)
        self.assertNotIn("\r", line)
        self.assertNotIn("\x1b", line)
        self.assertEqual(line.count(" status="), 1, line)
        self.assertEqual(line.count(" role="), 1, line)

    def test_client_gone_before_reply(self):
        # A token not in coopd's cache is checked in the database; the client leaves before the
        # answer. coopd must drop the reply quietly and free the request (ASan checks memory).
        for i in range(10):
            unknown = "coop_" + uuid.uuid4().hex + "A" * 11  # well-formed, never issued
            s = socket.create_connection(("127.0.0.1", self.coop.port))
            s.sendall(b"POST /v1/members HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer "
                      + unknown.encode() + b"\r\nContent-Length: 16\r\n\r\n"
                      + b'{"name": "gone"}')
            if i % 2:  # half of them reset the connection instead of closing it
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        time.sleep(0.5)
        self.assertEqual(self.http("GET", "/healthz").status, 200)
        self.assertEqual(self.http("GET", "/v1/hello/ping", token=self.operator_token).status,
                         200)

    def test_client_gone_before_a_deferred_reply_is_logged_499(self):
        # Two status changes wait on row locks held by psql; their clients leave meanwhile, one
        # closing (FIN), one resetting (RST). libevent 2.1 does not read from a connection whose
        # request awaits its reply; coopd looks itself before replying and logs 499.
        first = self.coop.make_member(self.operator_token, status="applicant", role=None)
        second = self.coop.make_member(self.operator_token, status="applicant", role=None)
        lock = subprocess.Popen(
            ["psql", "-X", "-q", "-d", self.dbname, "-c",
             f"BEGIN; SELECT id FROM coop.members WHERE id IN ({int(first.id)}, "
             f"{int(second.id)}) FOR UPDATE; SELECT pg_sleep(2); COMMIT;"],
            env=self.cluster.libpq_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            time.sleep(0.5)
            sockets = []
            for member, request_id in ((first, "gone-fin"), (second, "gone-rst")):
                body = b'{"status": "member"}'
                s = socket.create_connection(("127.0.0.1", self.coop.port))
                s.sendall(f"POST /v1/members/{member.id}/status HTTP/1.1\r\nHost: t\r\n"
                          f"Authorization: Bearer {self.operator_token}\r\n"
                          f"X-Request-Id: {request_id}\r\nContent-Length: {len(body)}\r\n\r\n"
                          .encode() + body)
                sockets.append(s)
            deadline = time.monotonic() + coophelper.time_limit(10)
            while time.monotonic() < deadline and in_flight(self) < 3:
                time.sleep(0.05)
            self.assertEqual(in_flight(self), 3, "the two changes are not waiting in coopd")
            sockets[1].setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            for s in sockets:
                s.close()
        finally:
            _, err = lock.communicate(timeout=30)
        self.assertEqual(lock.returncode, 0, err)
        deadline = time.monotonic() + coophelper.time_limit(10)
        patterns = [re.compile(rf"request_id={rid} method=POST path=/v1/members/{m.id}/status "
                               r"status=499 ") for m, rid in ((first, "gone-fin"),
                                                              (second, "gone-rst"))]
        while time.monotonic() < deadline and not all(p.search(self.coop.log())
                                                      for p in patterns):
            time.sleep(0.1)
        for p in patterns:
            self.assertRegex(self.coop.log(), p)
        # Leaving does not undo the work: the changes were committed. And coopd serves on.
        for member in (first, second):
            got = self.http("GET", f"/v1/members/{member.id}", token=self.operator_token)
            self.assertEqual(got.body["status"], "member", got.body)
        # A client that stays gets its answer logged as sent.
        resp = self.http("POST", f"/v1/members/{first.id}/status", {"status": "resigned"},
                         token=self.operator_token, headers={"X-Request-Id": "stayed"})
        self.assertEqual(resp.status, 200, resp.body)
        deadline = time.monotonic() + coophelper.time_limit(5)
        stayed = re.compile(r"request_id=stayed method=POST \S+ status=200 ")
        while time.monotonic() < deadline and not stayed.search(self.coop.log()):
            time.sleep(0.1)
        self.assertRegex(self.coop.log(), stayed)

    def test_head_is_get_without_body(self):
        # Pipelined on one connection: a body after a HEAD answer would be read as the start of
        # the next answer.
        with socket.create_connection(("127.0.0.1", self.coop.port),
                                      timeout=coophelper.time_limit(10)) as s:
            s.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
                      b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            data = b""
            while data.count(b"HTTP/1.1 ") < 2 or not data.endswith(b"}"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, get = data.split(b"HTTP/1.1 ")[1:]
        self.assertTrue(head.startswith(b"200 "), data)
        self.assertIn(b"Content-Length: 15\r\n", head)
        self.assertTrue(head.endswith(b"\r\n\r\n"), data)  # no body
        self.assertTrue(get.endswith(b'\r\n\r\n{"status":"ok"}'), data)

    # -- built-in routes

    def test_builtin_routes(self):
        resp = self.http("GET", "/healthz")
        self.assertEqual((resp.status, resp.body), (200, {"status": "ok"}))
        resp = self.http("GET", "/readyz")
        self.assertEqual((resp.status, resp.body), (200, {"status": "ready"}))

        resp = self.http("GET", "/v1/plugins")
        self.assertError(resp, 401)
        resp = self.http("GET", "/v1/plugins", token=self.member.token)
        self.assertEqual(resp.status, 200, resp.body)
        hello = [p for p in resp.body["plugins"] if p["name"] == "hello"]
        self.assertEqual(len(hello), 1, resp.body)
        self.assertEqual(hello[0]["version"], "1.0.0")
        self.assertEqual(hello[0]["abi"], "1.0")
        self.assertEqual(hello[0]["routes"], [{"method": "GET", "path": "/v1/hello/ping",
                                               "roles": ["operator", "member", "partner",
                                                         "customer"]}])

        resp = self.http("GET", "/openapi.json")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body["openapi"], "3.1.0")
        paths = resp.body["paths"]
        for path in ("/healthz", "/readyz", "/metrics", "/v1/plugins", "/v1/members",
                     "/v1/members/{id}", "/v1/members/{id}/status", "/v1/tokens",
                     "/v1/tokens/{id}", "/v1/me", "/v1/hello/ping"):
            self.assertIn(path, paths)
        # The body schema of a route is its requestBody; path parameters are declared.
        schema = paths["/v1/members"]["post"]["requestBody"]["content"]["application/json"]
        self.assertIn("name", schema["schema"]["properties"])
        self.assertIn("id", [p["name"] for p in paths["/v1/members/{id}"]["get"]["parameters"]])
        self.assertEqual(paths["/healthz"]["get"]["security"], [])

    def test_metrics_count_requests(self):
        before = self.metric('coop_http_requests_total{route="/v1/members",method="POST",'
                             'status="422"}')
        for _ in range(3):
            self.http("POST", "/v1/members", {"name": 7}, token=self.operator_token)
        after = self.metric('coop_http_requests_total{route="/v1/members",method="POST",'
                            'status="422"}')
        self.assertEqual(after - before, 3)
        resp = self.http("GET", "/metrics")
        self.assertTrue(resp.headers.get("Content-Type", "").startswith("text/plain"))
        text = resp.body
        self.assertIn("# TYPE coop_http_request_duration_seconds histogram", text)
        # Only the scrape itself: every earlier request was released once written.
        self.assertRegex(text, r"(?m)^coop_http_in_flight 1$")
        self.assertRegex(text, r"(?m)^coop_db_pool_size 4$")
        self.assertRegex(text, r"(?m)^coop_plugins_loaded 1$")
        # Histogram buckets are cumulative and end with the count.
        buckets = [int(v) for v in re.findall(
            r'(?m)^coop_http_request_duration_seconds_bucket\{route="/v1/members",'
            r'method="POST",le="[^"]+"\} (\d+)$', text)]
        self.assertEqual(buckets, sorted(buckets))
        count = re.search(r'(?m)^coop_http_request_duration_seconds_count\{route="/v1/members",'
                          r'method="POST"\} (\d+)$', text)
        self.assertEqual(buckets[-1], int(count.group(1)))

    def metric(self, series):
        text = self.http("GET", "/metrics").body
        for line in text.splitlines():
            if line.startswith(series + " "):
                return int(line.rsplit(" ", 1)[1])
        return 0


def in_flight(test):
    """coop_http_in_flight as coopd reports it (the /metrics scrape itself included)."""
    text = test.http("GET", "/metrics").body
    match = re.search(r"(?m)^coop_http_in_flight (\d+)$", text)
    return int(match.group(1)) if match else 0


class GracefulStopTest(coophelper.CoopTestCase):
    """SIGTERM stops accepting, lets the request in flight finish, then exits 0."""

    def test_in_flight_request_finishes(self):
        member = self.coop.make_member(self.operator_token, name="Slow", status="applicant",
                                       role=None)
        # Hold the member's row so that the status change waits inside PostgreSQL.
        lock = subprocess.Popen(
            ["psql", "-X", "-q", "-d", self.dbname, "-c",
             f"BEGIN; SELECT id FROM coop.members WHERE id = {int(member.id)} FOR UPDATE; "
             "SELECT pg_sleep(2); COMMIT;"],
            env=self.cluster.libpq_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            time.sleep(0.5)
            result = {}

            def change_status():
                try:
                    result["resp"] = self.http("POST", f"/v1/members/{member.id}/status",
                                               {"status": "member"}, token=self.operator_token)
                except Exception as e:  # shown by the assertion below
                    result["error"] = repr(e)

            worker = threading.Thread(target=change_status)
            worker.start()
            # SIGTERM only once coopd holds the request (waiting on the row lock).
            deadline = time.monotonic() + coophelper.time_limit(10)
            while time.monotonic() < deadline and not self.in_flight():
                time.sleep(0.05)
            self.coop.process.send_signal(15)  # SIGTERM
            time.sleep(0.3)
            with self.assertRaises(OSError):  # no longer accepting
                coophelper.http_request(self.coop.port, "GET", "/healthz", timeout=2)
            worker.join(coophelper.time_limit(20))
            self.assertIn("resp", result, result.get("error"))
            self.assertEqual(result["resp"].status, 200, result["resp"].body)
            self.assertEqual(result["resp"].headers.get("Connection"), "close")
            self.assertEqual(self.coop.process.wait(coophelper.time_limit(20)), 0)
        finally:
            _, err = lock.communicate(timeout=30)
        self.assertEqual(lock.returncode, 0, err)
        self.assertIn("drained: no request in flight", self.coop.log())

    def in_flight(self):
        """True when coopd reports a request in flight besides the /metrics scrape itself."""
        text = self.http("GET", "/metrics").body
        match = re.search(r"(?m)^coop_http_in_flight (\d+)$", text)
        return match is not None and int(match.group(1)) > 1


if __name__ == "__main__":
    unittest.main()
