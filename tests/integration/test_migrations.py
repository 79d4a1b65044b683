"""Schema migrations at start-up (DESIGN.md "Data"; issue 2, items 3 and 8).

On a fresh database coopd applies the core's migrations (schema coop) and each plugin's (schema
<plugin>) and records each with the SHA-256 of its file, which this test recomputes from the files
in the checkout. A restart applies nothing again. An applied migration whose recorded checksum no
longer matches (as after someone edited the file) makes coopd refuse to start: exit status 2 and
one line `coopd: <owner>: <migration>: applied migration changed (...)` on stderr, where <owner>
is `core` or `plugin <name>`; so does a migration recorded as applied that the build lacks.
"""

import glob
import hashlib
import os
import re
import subprocess
import unittest

import coophelper


# How a start-up error names the owner of a migration: the core as "core", a plugin as
# "plugin <name>", as every other start-up error about a plugin does.
CULPRIT = {"core": "core", "voting": "plugin voting"}


def migration_files(folder):
    """name -> SHA-256 hex of each NNN_*.sql file in FOLDER (the outside answer)."""
    files = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.sql"))):
        with open(path, "rb") as f:
            files[os.path.basename(path)] = hashlib.sha256(f.read()).hexdigest()
    return files


class TestMigrations(coophelper.CoopTestCase):
    plugins = {"hello": {}, "voting": {}}

    def recorded(self, owner=None):
        """owner -> {name: (sha256, applied_at)} from coop.schema_migrations."""
        rows = self.cluster.psql("SELECT owner, name, sha256, applied_at FROM "
                                 "coop.schema_migrations ORDER BY owner, name",
                                 dbname=self.dbname)
        out = {}
        for line in rows.splitlines():
            o, name, sha, at = line.split("|")
            out.setdefault(o, {})[name] = (sha, at)
        return out if owner is None else out.get(owner, {})

    def start_refused(self):
        """Runs coopd on the test's config, expecting it to refuse; returns its stderr lines."""
        self.coop.write_config()
        proc = subprocess.run([coophelper.coopd_path(), self.coop.config_path],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=self.coop.env(),
                              timeout=coophelper.time_limit(30))
        self.assertEqual(proc.returncode, 2, f"stdout={proc.stdout!r} stderr={proc.stderr!r}")
        self.assertNotIn("listening on", proc.stderr)
        for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            self.assertNotIn(marker, proc.stderr)
        return [line for line in proc.stderr.splitlines() if line.startswith("coopd: ")], \
            proc.stderr

    def tamper(self, owner, name):
        """Makes the recorded checksum of OWNER's NAME differ from the file's, as an edit would."""
        self.cluster.psql("UPDATE coop.schema_migrations SET sha256 = "
                          "encode(sha256(convert_to('edited', 'UTF8')), 'hex') "
                          f"WHERE owner = '{owner}' AND name = '{name}'", dbname=self.dbname)

    def restore(self, owner, name, sha):
        self.cluster.psql(f"UPDATE coop.schema_migrations SET sha256 = '{sha}' "
                          f"WHERE owner = '{owner}' AND name = '{name}'", dbname=self.dbname)

    def test_1_fresh_database_recorded(self):
        core = migration_files(os.path.join(coophelper.source_dir(), "core", "sql"))
        voting = migration_files(os.path.join(coophelper.source_dir(), "plugins", "voting", "sql"))
        self.assertTrue(core, "the core has migrations")
        self.assertTrue(voting, "voting has migrations")
        recorded = self.recorded()
        self.assertEqual({n: s for n, (s, _) in recorded.get("core", {}).items()}, core)
        self.assertEqual({n: s for n, (s, _) in recorded.get("voting", {}).items()}, voting)
        self.assertNotIn("hello", recorded, "hello has no migrations")
        # Each owner's tables went to its schema.
        schemas = self.cluster.psql("SELECT string_agg(DISTINCT table_schema, ',' ORDER BY "
                                    "table_schema) FROM information_schema.tables WHERE "
                                    "table_schema IN ('coop', 'voting', 'public')",
                                    dbname=self.dbname)
        self.assertEqual(schemas, "coop,voting")

    def test_2_restart_applies_nothing(self):
        before = self.recorded()
        self.coop.stop()
        self.coop.start()
        self.assertEqual(self.recorded(), before, "a restart must not re-apply or re-record")
        self.assertEqual(self.http("GET", "/v1/members", token=self.operator_token).status, 200)

    def test_4_recorded_migration_missing_from_the_build_refuses_start(self):
        self.coop.stop()
        try:
            for owner in ("core", "voting"):
                with self.subTest(owner=owner):
                    self.cluster.psql("INSERT INTO coop.schema_migrations (owner, name, sha256) "
                                      f"VALUES ('{owner}', '999_from_a_newer_build.sql', "
                                      "repeat('0', 64))", dbname=self.dbname)
                    before = self.recorded()
                    try:
                        lines, stderr = self.start_refused()
                    finally:
                        self.cluster.psql("DELETE FROM coop.schema_migrations WHERE name = "
                                          "'999_from_a_newer_build.sql'", dbname=self.dbname)
                    self.assertEqual(lines, [f"coopd: {CULPRIT[owner]}: migration "
                                             "999_from_a_newer_build.sql is recorded as applied "
                                             "but this build does not have it"], stderr)
                    self.assertEqual({o: set(n) for o, n in self.recorded().items()},
                                     {o: set(n) - {"999_from_a_newer_build.sql"}
                                      for o, n in before.items()},
                                     "the refused start changed nothing")
        finally:
            self.coop.start()
        self.assertEqual(self.http("GET", "/v1/members", token=self.operator_token).status, 200)

    def test_3_changed_migration_refuses_start(self):
        self.coop.stop()
        try:
            for owner in ("core", "voting"):
                with self.subTest(owner=owner):
                    name, (sha, _) = sorted(self.recorded(owner).items())[0]
                    before = self.recorded()
                    self.tamper(owner, name)
                    try:
                        lines, stderr = self.start_refused()
                    finally:
                        self.restore(owner, name, sha)
                    self.assertEqual(len(lines), 1, stderr)
                    self.assertRegex(lines[0], rf"^coopd: {CULPRIT[owner]}: {re.escape(name)}: "
                                     r"applied migration changed \(checksum [0-9a-f]{64} ")
                    self.assertEqual(self.recorded(), before, "the refused start changed nothing")
        finally:
            self.coop.start()
        self.assertEqual(self.http("GET", "/v1/members", token=self.operator_token).status, 200)


if __name__ == "__main__":
    unittest.main()
