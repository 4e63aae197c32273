#!/usr/bin/python3
# test_readme.py: the README's C and Python examples, run as written
# against a real QEMU (only the socket address is replaced).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import ast
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmptest import Qemu, qemu_version, require_qemu  # noqa: E402
from test_cli import GUEST, make_disks, qmpthin  # noqa: E402

README = os.environ["QMP_TEST_README"]
ADDRESS = "unix:/run/vm1/qmp.sock"


def snippet(language):
    """The one fenced block of that language in the README."""
    with open(README) as f:
        blocks = re.findall(r"^```" + language + r"\n(.*?)^```$", f.read(), re.M | re.S)
    if len(blocks) != 1:
        raise AssertionError(f"expected one {language} block in the README, found {len(blocks)}")
    if ADDRESS not in blocks[0]:
        raise AssertionError(f"the {language} block does not use {ADDRESS}")
    return blocks[0]


class ReadmeTest(unittest.TestCase):
    def setUp(self):
        self.qemu = Qemu(*GUEST, prepare=make_disks)
        self.addCleanup(self.qemu.close)

    def test_python(self):
        code = snippet("python").replace(ADDRESS, self.qemu.address)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 0, done.stderr)
        lines = done.stdout.splitlines()
        self.assertEqual(lines[1:], [
            "stop reason: prelaunch",
            "GenericError: Device 'nosuchnode' not found",
        ])
        # The version, then query-status as a dict: whatever members this
        # QEMU has (7.2 still has "singlestep", 10.0 no longer), the same
        # as QEMU tells another client.
        version, status = lines[0].split(" ", 1)
        self.assertEqual(version, qemu_version()[0])
        _, out, _ = qmpthin("exec", self.qemu.address, "query-status")
        self.assertEqual(ast.literal_eval(status), json.loads(out))
        self.assertEqual(json.loads(out)["status"], "prelaunch")
        self.assertIs(json.loads(out)["running"], False)

    def test_c(self):
        source = os.path.join(self.qemu.dir, "agent.c")
        program = os.path.join(self.qemu.dir, "agent")
        with open(source, "w") as f:
            f.write(snippet("c").replace(ADDRESS, self.qemu.address))
        # The README's command line, with the uninstalled library.
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "qmpthin-1.0"], check=True,
                               capture_output=True, text=True).stdout.split()
        sanitize = os.environ.get("QMP_TEST_SANITIZE_FLAGS", "").split()
        subprocess.run([os.environ.get("CC", "cc"), "-Wall", "-Werror", *sanitize, source, "-o", program,
                        *flags], check=True)

        agent = subprocess.Popen([program], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # Connected and armed once it printed its first line.
            first = agent.stdout.readline()
            self.assertEqual(first, f"QEMU {qemu_version()[0]}, VM prelaunch\n")
            watch = "unix:" + os.path.join(self.qemu.dir, "watch.sock")
            qmpthin("exec", watch, "cont")
            out, err = agent.communicate(timeout=30)
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.communicate()
        self.assertEqual(agent.returncode, 0, err)
        self.assertRegex(out, r"^data-file: writes reached \d+ bytes: extend it now\n$")
        reached = int(re.search(r"reached (\d+)", out).group(1))
        self.assertGreater(reached, 1024 * 1024)


if __name__ == "__main__":
    require_qemu()
    unittest.main(verbosity=2)
