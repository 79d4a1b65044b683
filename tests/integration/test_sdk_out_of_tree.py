"""The SDK works for a partner outside the coop tree: `cmake --install` the build into a temporary
prefix, copy sdk/examples/hello to a temporary folder, build it there against that prefix only
(once through the CMake package CoopSDK, once through pkg-config coop-sdk), load each hello.so
into the installed coopd and call GET /v1/hello/ping.
"""

import glob
import os
import shutil
import subprocess
import tempfile
import unittest

import coophelper

# Partners build with warnings as errors too: the SDK headers must stay clean under them.
STRICT_CFLAGS = "-std=c11 -Wall -Wextra -Werror"


def run(args, cwd=None, env=None):
    proc = subprocess.run(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=coophelper.time_limit(300))
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}")
    return proc.stdout


def exported_symbols(shared_object):
    out = run(["nm", "-D", "--defined-only", shared_object])
    return sorted(line.split()[-1] for line in out.splitlines() if line.strip())


class SdkOutOfTreeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="coop-sdk-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        run(["cmake", "--install", coophelper.build_dir(), "--prefix", cls.prefix])
        cls.installed_coopd = os.path.join(cls.prefix, "bin", "coopd")
        cls.cluster = coophelper.TestCluster()
        cls.dbname = cls.cluster.create_database(cls.__name__)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.drop_database(cls.dbname)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def copy_hello(self, name):
        """A copy of sdk/examples/hello in a folder of its own, away from the coop tree."""
        src = os.path.join(self.tmp, name)
        shutil.copytree(os.path.join(coophelper.source_dir(), "sdk", "examples", "hello"), src)
        return src

    def clean_env(self):
        """The environment without anything that could point a build back at the coop tree."""
        env = dict(os.environ)
        for name in ("CMAKE_PREFIX_PATH", "PKG_CONFIG_PATH", "CPATH", "C_INCLUDE_PATH",
                     "CFLAGS", "LDFLAGS", "CoopSDK_DIR"):
            env.pop(name, None)
        return env

    def assert_plugin_serves_ping(self, plugin_folder):
        """Loads PLUGIN_FOLDER/hello.so into the installed coopd and calls the plugin."""
        self.assertEqual(exported_symbols(os.path.join(plugin_folder, "hello.so")),
                         ["coop_plugin_entry"])
        config = coophelper.base_config(self.dbname, plugins={"hello": {"greeting": "out of tree"}})
        config["plugin_dir"] = plugin_folder
        coop = coophelper.Coopd(self.cluster, self.dbname, config=config,
                                binary=self.installed_coopd)
        token = coop.create_operator_token(label="sdk out of tree")
        coop.start()
        try:
            status, _, body = coop.http("GET", "/v1/hello/ping", token=token)
            self.assertEqual(status, 200, body)
            self.assertEqual(body, {"message": "out of tree"})
            status, headers, _ = coop.http("GET", "/v1/hello/ping")
            self.assertEqual(status, 401)
            self.assertTrue(headers.get("WWW-Authenticate", "").startswith("Bearer"))
            status, _, plugins = coop.http("GET", "/v1/plugins", token=token)
            self.assertEqual(status, 200, plugins)
            self.assertIn("hello", str(plugins))
        except BaseException:
            print(coop.log_tail())
            raise
        finally:
            coop.stop()

    def test_installed_files(self):
        self.assertTrue(os.access(self.installed_coopd, os.X_OK), self.installed_coopd)
        self.assertTrue(os.path.isfile(os.path.join(self.prefix, "include", "coop", "coop.h")))
        self.assertTrue(glob.glob(os.path.join(self.prefix, "lib*", "**", "CoopSDKConfig.cmake"),
                                  recursive=True))
        self.assertTrue(glob.glob(os.path.join(self.prefix, "lib*", "**", "coop-sdk.pc"),
                                  recursive=True))

    def test_build_with_cmake_package(self):
        src = self.copy_hello("hello-cmake")
        build = os.path.join(self.tmp, "hello-cmake-build")
        run(["cmake", "-S", src, "-B", build, f"-DCMAKE_PREFIX_PATH={self.prefix}",
             f"-DCMAKE_C_FLAGS={STRICT_CFLAGS}", "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF"],
            env=self.clean_env())
        run(["cmake", "--build", build], env=self.clean_env())
        built = glob.glob(os.path.join(build, "**", "hello.so"), recursive=True)
        self.assertEqual(len(built), 1, f"expected one hello.so under {build}, found {built}")
        plugins = os.path.join(self.tmp, "plugins-cmake")
        os.makedirs(plugins)
        shutil.copy(built[0], plugins)
        self.assert_plugin_serves_ping(plugins)

    def test_build_with_pkg_config(self):
        src = self.copy_hello("hello-pkgconfig")
        env = self.clean_env()
        pc_dirs = glob.glob(os.path.join(self.prefix, "lib*", "**", "pkgconfig"), recursive=True)
        self.assertTrue(pc_dirs, f"no pkgconfig folder under {self.prefix}")
        env["PKG_CONFIG_PATH"] = os.pathsep.join(pc_dirs)
        cflags = run(["pkg-config", "--cflags", "coop-sdk"], env=env).split()
        libs = run(["pkg-config", "--libs", "coop-sdk"], env=env).split()
        includes = [os.path.realpath(f[2:]) for f in cflags if f.startswith("-I")]
        self.assertIn(os.path.realpath(os.path.join(self.prefix, "include")), includes)
        plugins = os.path.join(self.tmp, "plugins-pkgconfig")
        os.makedirs(plugins)
        run(["cc", *STRICT_CFLAGS.split(), "-shared", *cflags, "-o",
             os.path.join(plugins, "hello.so"), os.path.join(src, "hello.c"), *libs], env=env)
        self.assert_plugin_serves_ping(plugins)


if __name__ == "__main__":
    unittest.main()
