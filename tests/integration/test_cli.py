"""`coopd --check CONFIG`: a good configuration passes; every bad one is refused with exit status 2
and exactly one line on stderr, `coopd: <culprit>: <reason>`, naming what is wrong.

(Plugin ABI, missing dependency and dependency cycle cases are in test_startup_errors.py.)
"""

import os
import shutil
import subprocess
import tempfile
import unittest

import coophelper


def good_config(**plugins):
    return coophelper.base_config(dbname="coop_check", port=8080, plugins=plugins or {"hello": {}})


class CheckTest(unittest.TestCase):
    def workdir(self):
        path = tempfile.mkdtemp(prefix="coop-check-")
        self.addCleanup(shutil.rmtree, path, ignore_errors=True)
        return path

    def check(self, config):
        return coophelper.run_check(config, workdir=self.workdir())

    def assertRefused(self, config, *culprits):
        """Exit status 2 and one stderr line that starts with "coopd: " and names every CULPRIT."""
        status, stderr = self.check(config)
        lines = stderr.splitlines()
        self.assertEqual(status, 2, f"exit status; stderr: {stderr!r}")
        self.assertEqual(len(lines), 1, f"expected exactly one stderr line, got {stderr!r}")
        line = lines[0]
        self.assertTrue(line.startswith("coopd: "), line)
        for culprit in culprits:
            self.assertIn(culprit, line)
        # The reason follows the culprit: something beyond a bare name.
        self.assertRegex(line, r"^coopd: .+: .+")
        return line

    # -- good

    def test_good_config_passes(self):
        status, stderr = self.check(good_config())
        self.assertEqual(status, 0, stderr)

    def test_good_plugin_settings_pass(self):
        status, stderr = self.check(good_config(hello={"greeting": "moin"}))
        self.assertEqual(status, 0, stderr)

    def test_check_does_not_need_the_database(self):
        env = dict(os.environ, PGHOST="/nonexistent-coop-socket-dir", PGPORT="1")
        status, stderr = coophelper.run_check(good_config(), workdir=self.workdir(), env=env)
        self.assertEqual(status, 0, stderr)

    def test_relative_plugin_dir_resolves_against_the_config_folder(self):
        config = good_config()
        workdir = self.workdir()
        config["plugin_dir"] = os.path.relpath(coophelper.plugin_dir(), workdir)
        status, stderr = coophelper.run_check(config, workdir=workdir)
        self.assertEqual(status, 0, stderr)

    # -- the file itself

    def test_missing_file(self):
        path = os.path.join(self.workdir(), "nowhere.json")
        status, stderr = coophelper.run_check(path=path)
        self.assertEqual(status, 2, stderr)
        lines = stderr.splitlines()
        self.assertEqual(len(lines), 1, stderr)
        self.assertIn("nowhere.json", lines[0])

    def test_malformed_json_names_the_file_and_where(self):
        text = '{\n  "listen": "127.0.0.1:8080",\n  "plugins": {\n'
        line = self.assertRefused(text, "check.json")
        # Where in the file: jansson reports the line; any "line N" or "N:M" form will do.
        self.assertRegex(line, r"(line \d+|\d+:\d+)")

    def test_not_an_object(self):
        self.assertRefused("[1, 2, 3]", "check.json")

    # -- fields

    def test_unknown_top_level_key(self):
        config = good_config()
        config["listne"] = "127.0.0.1:8080"
        self.assertRefused(config, "/listne")

    def test_unknown_nested_key(self):
        config = good_config()
        config["database"]["poolsize"] = 4
        self.assertRefused(config, "/database/poolsize")

    def test_listen_without_port(self):
        config = good_config()
        config["listen"] = "127.0.0.1"
        self.assertRefused(config, "/listen")

    def test_listen_port_out_of_range(self):
        config = good_config()
        config["listen"] = "127.0.0.1:70000"
        self.assertRefused(config, "/listen")

    def test_listen_without_host(self):
        config = good_config()
        config["listen"] = ":8080"
        self.assertRefused(config, "/listen")

    def test_listen_port_not_a_number(self):
        config = good_config()
        config["listen"] = "127.0.0.1:http"
        self.assertRefused(config, "/listen")

    def test_listen_bad_ipv4_address(self):
        config = good_config()
        config["listen"] = "300.1.2.3:8080"
        self.assertRefused(config, "/listen")

    def test_listen_ipv6_without_brackets(self):
        config = good_config()
        config["listen"] = "::1:8080"
        self.assertRefused(config, "/listen")

    def test_wrong_type(self):
        config = good_config()
        config["database"]["pool_size"] = "four"
        self.assertRefused(config, "/database/pool_size")

    # -- plugins

    def test_missing_plugin_file(self):
        self.assertRefused(good_config(nosuchplugin={}), "nosuchplugin")

    def test_plugin_setting_of_wrong_type(self):
        self.assertRefused(good_config(hello={"greeting": 42}), "hello", "/greeting")

    def test_plugin_setting_out_of_bounds(self):
        self.assertRefused(good_config(hello={"greeting": ""}), "hello", "/greeting")

    def test_unknown_plugin_setting(self):
        self.assertRefused(good_config(hello={"greting": "moin"}), "hello", "/greting")


class StartWithBadConfigTest(unittest.TestCase):
    """Running coopd, and creating an operator token, refuse a bad configuration the same way
    --check does, before they touch the database."""

    def run_coopd(self, *args):
        workdir = tempfile.mkdtemp(prefix="coop-check-")
        self.addCleanup(shutil.rmtree, workdir, ignore_errors=True)
        config = good_config()
        config["listne"] = "127.0.0.1:0"
        path = coophelper.write_json(os.path.join(workdir, "bad.json"), config)
        env = dict(os.environ, PGHOST="/nonexistent-coop-socket-dir", PGPORT="1")
        proc = subprocess.run([coophelper.coopd_path(), *args, path], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              timeout=coophelper.time_limit(30))
        self.assertEqual(proc.returncode, 2, proc.stderr)
        lines = proc.stderr.splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertTrue(lines[0].startswith("coopd: "), lines[0])
        self.assertIn("/listne", lines[0])
        self.assertEqual(proc.stdout, "")

    def test_run(self):
        self.run_coopd()

    def test_create_operator_token(self):
        self.run_coopd("--create-operator-token")


if __name__ == "__main__":
    unittest.main()
