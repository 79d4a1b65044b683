"""Shared helpers for coop's integration tests: a real PostgreSQL, a real coopd, real HTTP.

Python 3 standard library only. ctest (tests/CMakeLists.txt) passes the paths in the environment:

  COOPD              the coopd binary under test
  COOP_PLUGIN_DIR    the build's plugin folder (<build>/plugins)
  COOP_SOURCE_DIR    the checkout;  COOP_BUILD_DIR  the build tree;  COOP_DATA_DIR  ../shared/data
  COOP_SANITIZE      ON when coopd is built with ASan+UBSan (time limits are then longer)
  COOP_TEST_PGHOST, COOP_TEST_PGPORT, COOP_TEST_PGUSER (optional)
                     the running test cluster (scripts/test.sh starts one)

A test class that needs a running coopd derives from CoopTestCase:

    class TestPing(coophelper.CoopTestCase):
        plugins = {"hello": {}}

        def test_ping(self):
            status, headers, body = self.http("GET", "/v1/hello/ping", token=self.operator_token)
            self.assertEqual(status, 200)

It gets its own fresh database, a coopd on a free port with an operator token, and coopd's stderr
printed when one of its tests fails. Lower-level pieces (TestCluster, PrivateCluster, Coopd,
run_check) serve tests that need something else, such as a database that goes away.
"""

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from collections import namedtuple

# ---------------------------------------------------------------------------------------------
# Environment


def require_env(name):
    """The value of environment variable NAME; a clear error (failing the test) when unset."""
    value = os.environ.get(name)
    if not value:
        hint = {
            "COOP_TEST_PGHOST": "no test PostgreSQL cluster: run scripts/test.sh, or start one with "
            "scripts/pg.sh start DIR and export COOP_TEST_PGHOST=DIR COOP_TEST_PGPORT=$(cat DIR/port)",
            "COOP_TEST_PGPORT": "set it with COOP_TEST_PGHOST (see scripts/test.sh)",
        }.get(name, "run the integration tests through ctest (scripts/test.sh), which sets it")
        raise RuntimeError(f"environment variable {name} is not set: {hint}")
    return value


def sanitized():
    """True when coopd is built with sanitizers, which make it several times slower."""
    return os.environ.get("COOP_SANITIZE", "OFF").upper() in ("ON", "1", "TRUE", "YES")


def time_limit(seconds):
    """A time limit in seconds, stretched for sanitizer builds."""
    return seconds * (4 if sanitized() else 1)


def source_dir():
    return require_env("COOP_SOURCE_DIR")


def build_dir():
    return require_env("COOP_BUILD_DIR")


def coopd_path():
    return require_env("COOPD")


def plugin_dir():
    return require_env("COOP_PLUGIN_DIR")


def free_port():
    """A TCP port on 127.0.0.1 that is free now (another process could take it before use)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# PostgreSQL


class Cluster:
    """A running PostgreSQL cluster reached through host (a socket folder or address) and port."""

    def __init__(self, host, port, user=None):
        self.host = host
        self.port = int(port)
        self.user = user

    def libpq_env(self, env=None):
        """A copy of ENV (default: os.environ) whose PG* variables reach this cluster."""
        env = dict(os.environ if env is None else env)
        for name in ("PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE",
                     "PGPASSWORD", "PGOPTIONS"):
            env.pop(name, None)
        env["PGHOST"] = self.host
        env["PGPORT"] = str(self.port)
        if self.user:
            env["PGUSER"] = self.user
        return env

    def psql(self, sql, dbname="postgres"):
        """Runs SQL with psql in DBNAME and returns its unaligned, tuples-only output."""
        proc = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dbname, "-c", sql],
            env=self.libpq_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"psql failed in {dbname}: {sql!r}: {proc.stderr.strip()}")
        return proc.stdout.strip()

    @contextlib.contextmanager
    def table_locked(self, dbname, table):
        """Holds an ACCESS EXCLUSIVE lock on TABLE in DBNAME (from a psql session of its own) while
        the with-block runs, so that every statement touching TABLE waits meanwhile."""
        locker = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-d", dbname],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=self.libpq_env())
        try:
            locker.stdin.write(f"BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE; "
                               "SELECT 'locked';\n")
            locker.stdin.flush()
            if locker.stdout.readline().strip() != "locked":
                raise RuntimeError(f"cannot lock {table}: {locker.stderr.read()}")
            yield
        finally:
            locker.stdin.write("ROLLBACK;\n")
            locker.stdin.close()
            locker.wait(60)

    def wait_lock_waiter(self, dbname, query_like="%", timeout=10):
        """Waits until a statement in DBNAME whose text is LIKE QUERY_LIKE waits on a lock;
        returns whether one did within TIMEOUT seconds (stretched for sanitizer builds)."""
        deadline = time.monotonic() + time_limit(timeout)
        while time.monotonic() < deadline:
            waiting = self.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                                "'Lock' AND datname = current_database() AND query LIKE "
                                f"'{query_like}'", dbname=dbname)
            if int(waiting) >= 1:
                return True
            time.sleep(0.05)
        return False

    def create_database(self, hint="test"):
        """Creates an empty database named after HINT (made unique) and returns its name."""
        base = re.sub(r"[^a-z0-9_]", "_", hint.lower())[:40]
        name = f"t_{base}_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name):
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class TestCluster(Cluster):
    """The cluster scripts/test.sh started for this run (COOP_TEST_PGHOST/PGPORT/PGUSER)."""

    def __init__(self):
        super().__init__(require_env("COOP_TEST_PGHOST"), require_env("COOP_TEST_PGPORT"),
                         os.environ.get("COOP_TEST_PGUSER") or None)


class PrivateCluster(Cluster):
    """A cluster of the test's own, started and stopped at will through scripts/pg.sh (for the
    "database down" tests). It keeps its port across restarts, so coopd can find it again."""

    def __init__(self):
        # As root the folder must belong to and be reachable by user postgres: pg.sh chowns the
        # folder itself, and /tmp (its parent) is open to everyone.
        self.dir = tempfile.mkdtemp(prefix="coop-pg-")
        super().__init__(self.dir, free_port())
        self._pg_sh = os.path.join(source_dir(), "scripts", "pg.sh")

    def _run(self, *args):
        env = dict(os.environ, COOP_PG_FAST="1")
        proc = subprocess.run(["bash", self._pg_sh, *args], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"scripts/pg.sh {' '.join(args)} failed: {proc.stdout.strip()}")

    def start(self):
        self._run("start", self.dir, str(self.port))
        with open(os.path.join(self.dir, "user")) as f:
            self.user = f.read().strip()
        return self

    def stop(self):
        self._run("stop", self.dir)

    def destroy(self):
        """Stops the cluster and removes its folder."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# HTTP

Response = namedtuple("Response", "status headers body")
Response.__doc__ = """status: int; headers: http.client.HTTPMessage (case-insensitive .get());
body: the parsed JSON when the response is JSON (application/json, application/problem+json...),
else the text. Unpacks as (status, headers, body)."""


def http_request(port, method, path, body=None, token=None, headers=None, host="127.0.0.1",
                 timeout=None):
    """Sends one request on a new connection and returns a Response.

    BODY: dict/list (sent as JSON), str or bytes (sent as they are, e.g. malformed JSON), or None.
    TOKEN: sent as "Authorization: Bearer TOKEN". HEADERS: extra headers (dict).
    """
    all_headers = {}
    payload = None
    if body is not None:
        if isinstance(body, (dict, list)):
            payload = json.dumps(body).encode()
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload = bytes(body)
        all_headers["Content-Type"] = "application/json"
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    all_headers.update(headers or {})
    conn = http.client.HTTPConnection(host, port, timeout=timeout or time_limit(30))
    try:
        conn.request(method, path, body=payload, headers=all_headers)
        resp = conn.getresponse()
        raw = resp.read()
        content_type = resp.headers.get("Content-Type", "")
        text = raw.decode("utf-8", errors="replace")
        parsed = text
        if "json" in content_type and raw:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text
        return Response(resp.status, resp.headers, parsed)
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# coopd


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")
    return path


def run_check(config=None, workdir=None, env=None, path=None):
    """Runs `coopd --check` and returns (exit status, stderr text).

    CONFIG: a dict (written as JSON) or a str (written as it is, e.g. malformed JSON) into
    WORKDIR/check.json (WORKDIR default: a new temporary folder, against which relative paths in
    the config resolve). Or PATH: an existing (or deliberately missing) file, used as it is.
    """
    if path is None:
        workdir = workdir or tempfile.mkdtemp(prefix="coop-check-")
        path = os.path.join(workdir, "check.json")
        if isinstance(config, (dict, list)):
            write_json(path, config)
        else:
            with open(path, "w") as f:
                f.write(config)
    proc = subprocess.run([coopd_path(), "--check", path], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env, timeout=time_limit(30))
    return proc.returncode, proc.stderr


def base_config(dbname="coop", port=0, plugins=None):
    """The configuration a test coopd runs with: the build's plugin folder and PLUGINS (a dict
    of plugin name -> settings)."""
    return {
        "listen": f"127.0.0.1:{port}",
        "database": {"conninfo": f"dbname={dbname}", "pool_size": 4},
        "http": {"max_body_bytes": 1048576},
        "auth": {"token_cache_seconds": 30},
        "plugin_dir": plugin_dir(),
        "plugins": dict(plugins or {}),
    }


Member = namedtuple("Member", "id token")


class Coopd:
    """One coopd process with its own config file and stderr log.

    cluster: the Cluster coopd's database lives in; dbname: that database.
    config: the whole configuration (default: base_config with PLUGINS, listening on port 0).
    binary: the coopd to run (default: $COOPD).
    """

    def __init__(self, cluster, dbname, plugins=None, config=None, workdir=None, binary=None):
        self.binary = binary or coopd_path()
        self.cluster = cluster
        self.dbname = dbname
        self.config = config if config is not None else base_config(dbname, plugins=plugins)
        self.workdir = workdir or tempfile.mkdtemp(prefix="coopd-")
        self.config_path = os.path.join(self.workdir, "coopd.json")
        self.log_path = os.path.join(self.workdir, "coopd.log")
        self.process = None
        self.port = None
        self._log_file = None
        self._log_offset = 0

    # -- processes

    def env(self):
        return self.cluster.libpq_env()

    def write_config(self):
        return write_json(self.config_path, self.config)

    def create_operator_token(self, label=None):
        """Runs `coopd --create-operator-token` and returns the token it prints."""
        self.write_config()
        args = [self.binary, "--create-operator-token", self.config_path]
        if label:
            args += ["--label", label]
        proc = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=self.env(),
                              timeout=time_limit(60))
        if proc.returncode != 0:
            raise AssertionError(f"coopd --create-operator-token exited {proc.returncode}: "
                                 f"{proc.stderr.strip()}")
        token = proc.stdout.strip()
        if not token or "\n" in token:
            raise AssertionError(f"coopd --create-operator-token printed {proc.stdout!r}, "
                                 "expected the token alone")
        return token

    def start(self, wait_for="/healthz", timeout=None):
        """Starts coopd and waits until it listens and WAIT_FOR (a path) answers 200, or only
        until it listens when WAIT_FOR is None. coopd listens on port 0 (the kernel picks a free
        one, so parallel tests never race for ports) unless the config names another; the port
        is read back from coopd's `listening on HOST:PORT` line."""
        if self.process is not None:
            raise RuntimeError("coopd is already running")
        self.write_config()
        self._spawn()
        self.port = self._wait_listening(timeout or time_limit(20))
        if wait_for:
            self.wait_for(wait_for, timeout or time_limit(20))
        return self

    def _spawn(self):
        self._log_file = open(self.log_path, "ab")
        self._log_offset = self._log_file.tell()
        self.process = subprocess.Popen([self.binary, self.config_path], stdin=subprocess.DEVNULL,
                                        stdout=self._log_file, stderr=self._log_file,
                                        env=self.env(), cwd=self.workdir)

    def _new_log(self):
        with open(self.log_path, "rb") as f:
            f.seek(self._log_offset)
            return f.read().decode("utf-8", errors="replace")

    def _wait_listening(self, timeout):
        deadline = time.monotonic() + timeout
        pattern = re.compile(r"listening on \[?[^\s\]]*\]?:(\d+)")
        while time.monotonic() < deadline:
            match = pattern.search(self._new_log())
            if match and int(match.group(1)) != 0:
                return int(match.group(1))
            if self.process.poll() is not None:
                raise AssertionError(f"coopd exited with status {self.process.returncode} during "
                                     f"start-up:\n{self.log_tail()}")
            time.sleep(0.02)
        raise AssertionError(f"coopd printed no 'listening on HOST:PORT' within {timeout} s:\n"
                             + self.log_tail())

    def wait_for(self, path, timeout=None, status=200):
        """Polls GET PATH until it answers STATUS; fails with coopd's log otherwise."""
        deadline = time.monotonic() + (timeout or time_limit(20))
        last = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"coopd exited with status {self.process.returncode}:\n"
                                     + self.log_tail())
            try:
                last = self.http("GET", path, timeout=5)
                if last.status == status:
                    return last
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise AssertionError(f"GET {path} did not answer {status} in time (last: {last!r}):\n"
                             + self.log_tail())

    def stop(self, expect_status=0, timeout=None):
        """Sends SIGTERM, waits for coopd to exit and checks its exit status (None: any)."""
        if self.process is None:
            return None
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout or time_limit(20))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            self._close_log()
            raise AssertionError(f"coopd did not stop within {timeout or time_limit(20)} s of "
                                 f"SIGTERM:\n{self.log_tail()}")
        self._close_log()
        if expect_status is not None and status != expect_status:
            raise AssertionError(f"coopd exited with status {status} after SIGTERM, expected "
                                 f"{expect_status}:\n{self.log_tail()}")
        return status

    def kill(self):
        """Ends coopd at once (SIGKILL), for clean-up after a failure."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            self._close_log()

    def remove_workdir(self):
        """Removes the config and log folder (after a clean stop; kept when something failed)."""
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _close_log(self):
        self.process = None
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    def log(self):
        """Everything coopd wrote to stderr and stdout, over all its starts."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=60):
        text = self.log().splitlines()
        shown = text[-lines:]
        head = f"--- coopd log {self.log_path} (last {len(shown)} of {len(text)} lines) ---"
        return "\n".join([head, *shown, "--- end of coopd log ---"])

    # -- HTTP

    def http(self, method, path, body=None, token=None, headers=None, timeout=None):
        """One request to this coopd; returns Response(status, headers, body)."""
        if self.port is None:
            raise RuntimeError("coopd has not been started")
        return http_request(self.port, method, path, body=body, token=token, headers=headers,
                            timeout=timeout)

    # -- identity

    def make_member(self, operator_token, name=None, status="member", role="member"):
        """Registers a member with STATUS (applicant, member, resigned, excluded; effective today)
        through the core API and gives them a token with ROLE (None: no token).
        Returns Member(id, token)."""
        name = name or f"Member {uuid.uuid4().hex[:8]}"
        initial = status if status in ("applicant", "member") else "member"
        resp = self.http("POST", "/v1/members", {"name": name, "status": initial},
                         token=operator_token)
        expect(resp, 201, "POST /v1/members")
        member_id = resp.body["id"]
        token = None
        if role is not None:
            # Before a resignation or exclusion: member tokens are refused for those statuses.
            token = self.make_token(operator_token, role=role, member_id=member_id)
        if status != initial:
            resp = self.http("POST", f"/v1/members/{member_id}/status", {"status": status},
                             token=operator_token)
            # 200 since the change answers the updated member (it was 201 before).
            expect(resp, (200, 201), f"POST /v1/members/{member_id}/status")
        return Member(member_id, token)

    def make_token(self, operator_token, role=None, member_id=None, label=None, roles=None):
        """Creates a token with ROLE (one of operator, member, partner, customer), bound to
        MEMBER_ID if given (required for role member), and returns its text. ROLES (a list of
        exactly one role) is accepted in place of ROLE."""
        if roles is not None:
            if role is not None or len(roles) != 1:
                raise ValueError("a token has exactly one role")
            role = roles[0]
        body = {"role": role}
        if member_id is not None:
            body["member_id"] = member_id
        if label:
            body["label"] = label
        resp = self.http("POST", "/v1/tokens", body, token=operator_token)
        expect(resp, 201, "POST /v1/tokens")
        return resp.body["token"]


def expect(resp, statuses, what):
    """Fails, showing the response, unless RESP.status is one of STATUSES (an int or a tuple)."""
    if isinstance(statuses, int):
        statuses = (statuses,)
    if resp.status not in statuses:
        raise AssertionError(f"{what}: status {resp.status}, expected {statuses}: {resp.body!r}")
    return resp


# ---------------------------------------------------------------------------------------------
# unittest base class


class CoopTestCase(unittest.TestCase):
    """A test class with its own database and a running coopd.

    Class attributes to override:
      plugins          plugin name -> settings, as in the "plugins" section of the config
      start_coopd      False to get the database and config but no running coopd
      private_cluster  True to run on a PostgreSQL cluster of the class's own (a PrivateCluster,
                       removed afterwards) that the tests may stop and start (database outages)

    Override the class method edit_config(cls, config) to change the generated config.
    Available to the tests: cls.cluster, cls.dbname, cls.coop (a Coopd), cls.operator_token,
    and self.http(...) (= self.coop.http). When a test fails, coopd's log is printed.
    """

    plugins = {}
    start_coopd = True
    private_cluster = False
    coop = None

    @classmethod
    def edit_config(cls, config):
        """Override to change the generated configuration before coopd starts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cluster = PrivateCluster().start() if cls.private_cluster else TestCluster()
        try:
            cls.dbname = cls.cluster.create_database(cls.__name__)
            cls.coop = Coopd(cls.cluster, cls.dbname, plugins=cls.plugins)
            cls.edit_config(cls.coop.config)
            cls.operator_token = cls.coop.create_operator_token(label=f"{cls.__name__} operator")
            if cls.start_coopd:
                cls.coop.start()
        except BaseException:
            if cls.coop is not None:
                cls.coop.kill()
            cls._release_database()
            raise

    @classmethod
    def _release_database(cls):
        if cls.private_cluster:
            cls.cluster.destroy()
        elif getattr(cls, "dbname", None):
            cls.cluster.drop_database(cls.dbname)

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.coop is not None:
                cls.coop.stop()
                cls.coop.remove_workdir()
        finally:
            if cls.coop is not None:
                cls.coop.kill()
            cls._release_database()
            super().tearDownClass()

    def http(self, method, path, body=None, token=None, headers=None, timeout=None):
        return self.coop.http(method, path, body=body, token=token, headers=headers,
                              timeout=timeout)

    def make_member(self, name=None, status="member", role="member"):
        return self.coop.make_member(self.operator_token, name=name, status=status, role=role)

    def assertProblem(self, resp, status, pointer=None):
        """Asserts an RFC 9457 problem+json answer with STATUS; with POINTER, that one of its
        errors[] names that JSON pointer. Returns the problem body."""
        self.assertEqual(resp.status, status, resp.body)
        self.assertIn("application/problem+json", resp.headers.get("Content-Type", ""))
        self.assertIsInstance(resp.body, dict, resp.body)
        self.assertEqual(resp.body.get("status"), status, resp.body)
        self.assertTrue(resp.body.get("title"), resp.body)
        if pointer is not None:
            pointers = [e.get("pointer") for e in resp.body.get("errors", [])]
            self.assertIn(pointer, pointers, resp.body)
        return resp.body

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        problems_before = len(result.failures) + len(result.errors)
        super().run(result)
        if len(result.failures) + len(result.errors) > problems_before and self.coop is not None:
            print(f"\n{self.id()} failed; coopd's log:\n{self.coop.log_tail()}",
                  file=sys.stderr, flush=True)
        return result
