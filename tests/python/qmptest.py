# qmptest.py: a real QEMU for the Python tests
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PR_SET_PDEATHSIG = 1


def die_with_parent(parent):
    """A preexec_fn: QEMU must not outlive a test run that is killed. If
    the parent is already gone (getppid() changed), the signal would never
    come."""
    def setup():
        if (ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0
                or os.getppid() != parent):
            os._exit(127)
    return setup


def tool_env():
    """The environment for QEMU and its tools: without the sanitizer
    runtime a sanitized build of this library preloads into Python
    (qemu-img hangs with it)."""
    env = dict(os.environ)
    for name in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS"):
        env.pop(name, None)
    return env


class Qemu:
    """A QEMU with a QMP socket in its own temporary directory."""

    def __init__(self, *extra, prepare=None):
        """Starts QEMU with extra arguments ("@DIR@" is its directory);
        prepare(directory) runs first, to make disks."""
        self.dir = tempfile.mkdtemp(prefix="qmpthin-py-")
        if prepare is not None:
            prepare(self.dir)
        self.argv = [QEMU, "-nodefaults", "-no-user-config", "-display", "none",
                     "-chardev", "socket,id=qmp0,path=@DIR@/qmp.sock,server=on,wait=off",
                     "-mon", "chardev=qmp0,mode=control", *extra]
        self.argv = [arg.replace("@DIR@", self.dir) for arg in self.argv]
        self.socket = os.path.join(self.dir, "qmp.sock")
        self._spawn()

    def _spawn(self):
        """Starts QEMU and waits until its monitor greets."""
        with open(os.path.join(self.dir, "qemu.log"), "ab") as log:
            self.process = subprocess.Popen(
                self.argv, stdout=log, stderr=log, preexec_fn=die_with_parent(os.getpid()),
                env=tool_env())
        deadline = time.monotonic() + 10
        while not self._greets(deadline):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise RuntimeError("QEMU did not greet on its QMP socket")
            time.sleep(0.01)

    def _greets(self, deadline):
        """Whether the monitor greets a client before @deadline. A greeting,
        not a mere connect(): QEMU accepts on its socket before its monitor
        is set up, and a client that comes and goes in that window may leave
        the next one a closed connection."""
        received = b""
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect(self.socket)
                while b"\n" not in received:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    probe.settimeout(left)
                    chunk = probe.recv(4096)
                    if not chunk:
                        return False
                    received += chunk
        except OSError:
            return False
        return True

    def kill(self):
        """SIGKILL to this QEMU (its own PID), and reap it."""
        self.process.kill()
        self.process.wait()

    def restart(self):
        """The same command line again, once the previous QEMU is gone:
        the same socket path, a new process."""
        self.process.wait()
        self._spawn()

    @property
    def address(self):
        return "unix:" + self.socket

    def read_file(self, name):
        """The text of a file in QEMU's directory (serial.log, qemu.log)."""
        with open(os.path.join(self.dir, name), errors="replace") as f:
            return f.read()

    def close_process(self):
        """Ends QEMU (SIGTERM, then SIGKILL) and reaps it; its directory
        stays, for the disks to be checked."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def close(self):
        self.close_process()
        shutil.rmtree(self.dir, ignore_errors=True)


QEMU = shutil.which(os.environ.get("QMP_TEST_QEMU") or "qemu-system-x86_64")


def qemu_tool(name):
    """QEMU's tool @name (qemu-img, qemu-io) of the same release as the
    QEMU in use: next to it (a QEMU unpacked beside the system's brings its
    own), else in PATH."""
    if QEMU is not None:
        sibling = os.path.join(os.path.dirname(QEMU), name)
        if os.access(sibling, os.X_OK):
            return sibling
    return shutil.which(name) or name


def qemu_version():
    """(version, package) as `QEMU --version` states them, e.g. ("10.0.2",
    "Debian 1:10.0.2+ds-2"): what its QMP greeting must say. The package is
    "" when QEMU has none."""
    out = subprocess.run([QEMU, "--version"], capture_output=True, text=True, check=True,
                         env=tool_env()).stdout
    match = re.match(r"QEMU emulator version (\d+\.\d+\.\d+)(?: \((.*)\))?$", out, re.M)
    if match is None:
        raise AssertionError(f"{QEMU} --version: unexpected output: {out}")
    return match.group(1), match.group(2) or ""


def require_qemu():
    """Exits 77 (skip) when QEMU is missing, or 1 under CI, which must run
    it, or when $QMP_TEST_QEMU names a program that does not exist."""
    if QEMU is not None:
        return
    if os.environ.get("QMP_TEST_QEMU"):
        print(f"QMP_TEST_QEMU={os.environ['QMP_TEST_QEMU']}: no such program", file=sys.stderr)
        sys.exit(1)
    if os.environ.get("CI") == "true":
        print("qemu-system-x86_64 is missing, and CI must run these tests", file=sys.stderr)
        sys.exit(1)
    print("qemu-system-x86_64 is not installed: skipped", file=sys.stderr)
    sys.exit(77)
