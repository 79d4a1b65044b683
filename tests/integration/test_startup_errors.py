"""coopd refuses a broken plugin set with exit status 2 and one line naming the plugin and why.

Issue item 8: a plugin built for another ABI major version, a missing dependency, a dependency
cycle, invalid plugin settings (and an unknown plugin file, a bad migration list) must never crash
coopd: it exits with status 2 and prints exactly one stderr line `coopd: <culprit>: <reason>`.
Each of those cases runs twice: through `coopd --check` and through a real start. A plugin whose
init or start refuses is found only by a real start; after a refused start, every plugin that was
initialised is stopped. The fixture plugins are built from
tests/plugins/ into COOP_TEST_PLUGIN_DIR.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import unittest

import coophelper


def test_plugin_dir():
    return coophelper.require_env("COOP_TEST_PLUGIN_DIR")


def config_with(plugins, plugin_dir=None, dbname="coop_startup_errors_unused"):
    config = coophelper.base_config(dbname=dbname, plugins=plugins)
    config["plugin_dir"] = plugin_dir or test_plugin_dir()
    return config


# Substrings a crash, a sanitizer report or a core dump would leave on stderr.
CRASH_SIGNS = ("AddressSanitizer", "runtime error:", "Segmentation fault", "core dumped",
               "LeakSanitizer", "Aborted")


class StartupErrorCase(unittest.TestCase):
    """Runs coopd both ways on a config and checks the one-line refusal."""

    def make_workdir(self):
        """A new folder for this test's config (and markers), removed when the test ends."""
        workdir = tempfile.mkdtemp(prefix="coop-startup-")
        self.addCleanup(shutil.rmtree, workdir, ignore_errors=True)
        return workdir

    def run_coopd(self, args, env=None):
        proc = subprocess.run([coophelper.coopd_path(), *args], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                              timeout=coophelper.time_limit(30))
        return proc.returncode, proc.stdout, proc.stderr

    def assertOneLineRefusal(self, status, stderr, expected_line):
        self.assertEqual(status, 2, f"exit status (negative = killed by a signal); stderr: {stderr!r}")
        for sign in CRASH_SIGNS:
            self.assertNotIn(sign, stderr)
        lines = stderr.splitlines()
        self.assertEqual(len(lines), 1, f"expected exactly one stderr line, got {stderr!r}")
        self.assertEqual(lines[0], expected_line)

    def assertRefusedBothWays(self, plugins, expected_line, plugin_dir=None):
        """--check and a real start refuse the plugin set with exactly EXPECTED_LINE
        ({config} in it stands for the config file's path)."""
        workdir = self.make_workdir()
        path = coophelper.write_json(os.path.join(workdir, "coopd.json"),
                                     config_with(plugins, plugin_dir))
        expected = expected_line.format(config=path, dir=plugin_dir or test_plugin_dir())

        status, stdout, stderr = self.run_coopd(["--check", path])
        with self.subTest(mode="--check"):
            self.assertOneLineRefusal(status, stderr, expected)
            self.assertEqual(stdout, "")

        # A real start fails the same way, before it touches the database (none is named here
        # that exists) and before it binds a port.
        status, stdout, stderr = self.run_coopd([path])
        with self.subTest(mode="start"):
            self.assertOneLineRefusal(status, stderr, expected)
            self.assertNotIn("listening on", stderr)


class TestPluginRefusals(StartupErrorCase):

    def test_abi_major_mismatch(self):
        self.assertRefusedBothWays(
            {"abi_two": {}}, "coopd: plugin abi_two: built for SDK ABI 2.0, coopd has 1.0")

    def test_abi_minor_newer_than_coopd(self):
        self.assertRefusedBothWays(
            {"abi_newer_minor": {}},
            "coopd: plugin abi_newer_minor: built for SDK ABI 1.9, newer than coopd's 1.0; "
            "upgrade coopd")

    def test_missing_dependency(self):
        self.assertRefusedBothWays(
            {"needs_missing": {}},
            "coopd: plugin needs_missing: depends on absent, which is not configured")

    def test_dependency_cycle(self):
        self.assertRefusedBothWays(
            {"cycle_a": {}, "cycle_b": {}},
            "coopd: plugins cycle_a, cycle_b: dependency cycle cycle_a -> cycle_b -> cycle_a")

    def test_dependency_cycle_is_reported_from_the_first_configured(self):
        self.assertRefusedBothWays(
            {"cycle_b": {}, "cycle_a": {}},
            "coopd: plugins cycle_b, cycle_a: dependency cycle cycle_b -> cycle_a -> cycle_b")

    def test_settings_of_wrong_type(self):
        self.assertRefusedBothWays(
            {"with_settings": {"threshold": "3"}},
            "coopd: {config}: /plugins/with_settings/threshold: expected integer")

    def test_settings_missing_a_required_key(self):
        self.assertRefusedBothWays(
            {"with_settings": {}}, "coopd: {config}: /plugins/with_settings/threshold: is required")

    def test_settings_out_of_range(self):
        self.assertRefusedBothWays(
            {"with_settings": {"threshold": 11}},
            "coopd: {config}: /plugins/with_settings/threshold: must be at most 10")

    def test_settings_with_an_unknown_key(self):
        self.assertRefusedBothWays(
            {"with_settings": {"threshold": 1, "treshold": 2}},
            "coopd: {config}: /plugins/with_settings/treshold: unknown property")

    def test_settings_with_a_bad_date_and_a_second_error(self):
        self.assertRefusedBothWays(
            {"with_settings": {"threshold": 1, "opens": "2026-02-30T10:00:00Z", "mode": "x"}},
            "coopd: {config}: /plugins/with_settings/opens: must be an RFC 3339 date-time such "
            "as 2026-05-01T12:00:00Z (and 1 more error)")

    def test_plugin_without_settings_schema_takes_only_an_empty_object(self):
        self.assertRefusedBothWays(
            {"with_settings": {"threshold": 1}, "needs_missing": {"x": 1}},
            "coopd: {config}: /plugins/needs_missing/x: unknown property")

    def test_schema_with_a_typo_is_refused_at_load(self):
        self.assertRefusedBothWays(
            {"bad_schema": {}},
            "coopd: plugin bad_schema: config_schema: /properties/title/maxLenght: unknown keyword")

    def test_unknown_plugin_file(self):
        self.assertRefusedBothWays(
            {"nosuch": {}},
            "coopd: plugin nosuch: cannot load {dir}/nosuch.so: No such file or directory")

    def test_shared_object_that_is_not_a_plugin(self):
        self.assertRefusedBothWays(
            {"not_a_plugin": {}},
            "coopd: plugin not_a_plugin: {dir}/not_a_plugin.so exports no coop_plugin_entry; "
            "is it a coopd plugin?")

    def test_plugin_declaring_another_name(self):
        self.assertRefusedBothWays(
            {"wrong_name": {}},
            "coopd: plugin wrong_name: wrong_name.so declares the name \"other_name\"")

    def test_two_migrations_of_one_name(self):
        self.assertRefusedBothWays(
            {"migration_twice": {}},
            "coopd: plugin migration_twice: migration #2 has the same name as #1: 001_a.sql")

    def test_migration_name_with_a_newline_is_refused_without_echoing_it(self):
        self.assertRefusedBothWays(
            {"migration_bad_name": {}},
            "coopd: plugin migration_bad_name: migration #2 has a control character (0x0a) in "
            "its name")

    def test_first_broken_plugin_in_config_order_is_named(self):
        # Valid plugins before it load; the line still names only the broken one.
        self.assertRefusedBothWays(
            {"with_settings": {"threshold": 2}, "abi_two": {}, "needs_missing": {}},
            "coopd: plugin abi_two: built for SDK ABI 2.0, coopd has 1.0")


class TestCheckAcceptsGoodPlugins(StartupErrorCase):

    def test_check_prints_start_order(self):
        workdir = self.make_workdir()
        path = coophelper.write_json(
            os.path.join(workdir, "coopd.json"),
            config_with({"with_settings": {"threshold": 10, "mode": "strict",
                                           "opens": "2026-05-01T09:00:00+02:00"}}))
        status, stdout, stderr = self.run_coopd(["--check", path])
        self.assertEqual(status, 0, stderr)
        self.assertEqual(stderr, "")
        self.assertEqual(stdout, f"{path}: ok; plugins in start order: with_settings 1.0.0\n")


class LifecycleFailureCase(StartupErrorCase):
    """A plugin whose init or start refuses: only a real start, with a database, gets that far."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = coophelper.TestCluster()
        cls.dbname = cls.cluster.create_database("startup_errors")

    @classmethod
    def tearDownClass(cls):
        cls.cluster.drop_database(cls.dbname)

    def assertRefusedAtStart(self, path, expected_line):
        """A real start of the config at PATH exits 2 with EXPECTED_LINE as its one refusal;
        returns stderr. Log lines come before it (start-up, the plugin's own complaint); the
        refusal is the one line in coopd's pinned form."""
        status, stdout, stderr = self.run_coopd([path], env=self.cluster.libpq_env())
        self.assertEqual(status, 2, stderr)
        for sign in CRASH_SIGNS:
            self.assertNotIn(sign, stderr)
        refusals = [line for line in stderr.splitlines() if line.startswith("coopd: ")]
        self.assertEqual(refusals, [expected_line], stderr)
        return stderr


class TestInitFailure(LifecycleFailureCase):

    def test_init_failure_exits_2_naming_the_plugin(self):
        workdir = self.make_workdir()
        path = coophelper.write_json(os.path.join(workdir, "coopd.json"),
                                     config_with({"init_fails": {}}, dbname=self.dbname))
        status, stdout, stderr = self.run_coopd(["--check", path])
        self.assertEqual(status, 0, stderr)  # --check does not run init

        stderr = self.assertRefusedAtStart(
            path, "coopd: plugin init_fails: init failed: invalid argument")
        self.assertNotIn("listening on", stderr)


class TestStartFailure(LifecycleFailureCase):
    """After a refused start, stop runs, in reverse order, for every plugin that was
    initialised, the refusing one included (its init took resources; only stop gives them
    back)."""

    def test_start_failure_exits_2_and_stops_initialised_plugins(self):
        workdir = self.make_workdir()
        marker = os.path.join(workdir, "stopped.txt")
        path = coophelper.write_json(
            os.path.join(workdir, "coopd.json"),
            config_with({"dep_base": {}, "start_fails": {"marker": marker}}, dbname=self.dbname))

        stderr = self.assertRefusedAtStart(
            path, "coopd: plugin start_fails: start failed: invalid argument")
        # The refusing plugin's stop ran (it wrote its marker once), and so did that of dep_base,
        # which had started: dependents first, as at a normal shutdown.
        with open(marker, encoding="utf-8") as f:
            self.assertEqual(f.read(), "start_fails stopped\n")
        events = [line.split('msg="lifecycle: ', 1)[1].rstrip('"')
                  for line in stderr.splitlines() if 'msg="lifecycle: ' in line]
        self.assertEqual(events, ["dep_base init", "dep_base start", "start_fails stop",
                                  "dep_base stop"], stderr)


class TestSettingsReachThePlugin(coophelper.CoopTestCase):
    """Validated settings arrive intact in the plugin's init, and SIGTERM stops coopd with 0."""

    settings = {"threshold": 7, "mode": "lenient", "greeting": "Grüß Gott",
                "opens": "2026-05-01T09:00:00Z"}
    plugins = {"with_settings": settings}

    @classmethod
    def edit_config(cls, config):
        config["plugin_dir"] = test_plugin_dir()

    def test_settings_served_back(self):
        resp = self.http("GET", "/v1/with_settings/settings", token=self.operator_token)
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.body, self.settings)

    def test_route_roles_apply_to_plugin_routes(self):
        resp = self.http("GET", "/v1/with_settings/settings")
        self.assertEqual(resp.status, 401, resp.body)


class TestDependencyOrder(coophelper.CoopTestCase):
    """Plugins start in dependency order whatever the config's order, services reach dependents,
    and stop runs in reverse."""

    plugins = {"dep_top": {}, "dep_base": {}}

    @classmethod
    def edit_config(cls, config):
        config["plugin_dir"] = test_plugin_dir()

    def test_check_prints_dependency_order(self):
        workdir = tempfile.mkdtemp(prefix="coop-startup-")
        self.addCleanup(shutil.rmtree, workdir, ignore_errors=True)
        path = coophelper.write_json(os.path.join(workdir, "coopd.json"),
                                     config_with({"dep_top": {}, "dep_base": {}}))
        proc = subprocess.run([coophelper.coopd_path(), "--check", path], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=coophelper.time_limit(30))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout,
                         f"{path}: ok; plugins in start order: dep_base 1.0.0, dep_top 1.0.0\n")

    def test_lifecycle_order_and_service(self):
        resp = self.http("GET", "/v1/plugins", token=self.operator_token)
        self.assertEqual(resp.status, 200, resp.body)
        names = [p["name"] for p in resp.body["plugins"]]
        self.assertLess(names.index("dep_base"), names.index("dep_top"), names)

        self.coop.stop()
        events = [line.split('msg="lifecycle: ', 1)[1].rstrip('"')
                  for line in self.coop.log().splitlines() if 'msg="lifecycle: ' in line]
        self.assertEqual(events, ["dep_base init", "dep_top init", "dep_base start",
                                  "dep_top start; dep_base answers 42", "dep_top stop",
                                  "dep_base stop"])


class TestGracefulStop(unittest.TestCase):
    """SIGINT stops coopd like SIGTERM does: exit 0, after saying it stops."""

    def test_sigint(self):
        cluster = coophelper.TestCluster()
        dbname = cluster.create_database("startup_sigint")
        coop = coophelper.Coopd(cluster, dbname, plugins={"hello": {}})
        try:
            coop.start()
            coop.process.send_signal(signal.SIGINT)
            status = coop.process.wait(coophelper.time_limit(20))
            log = coop.log()
            coop.process = None
            self.assertEqual(status, 0, log)
            self.assertIn("SIGINT: stopping", log)
            self.assertIn('msg="stopped"', log)
            coop.remove_workdir()  # kept for a look when something above failed
        finally:
            coop.kill()
            cluster.drop_database(dbname)


if __name__ == "__main__":
    unittest.main()
