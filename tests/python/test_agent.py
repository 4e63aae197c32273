#!/usr/bin/python3
# test_agent.py: examples/thin-agent.py keeps a guest writing through a
# live snapshot taken mid-fill, on a real QEMU.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

import gi

gi.require_version("Qmp", "1.0")
gi.require_version("Json", "1.0")
from gi.repository import GLib, Json, Qmp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from qmptest import Qemu, qemu_tool, require_qemu, tool_env  # noqa: E402

AGENT = os.path.join(HERE, "..", "..", "examples", "thin-agent.py")
MiB = 1024 * 1024
DISK_MIB = 32


def make_disks(directory):
    for name, backing in (("data.qcow2", None), ("snap.qcow2", "data.qcow2")):
        path = os.path.join(directory, name)
        options = ["-F", "qcow2", "-b", os.path.join(directory, backing)] if backing else []
        subprocess.run([qemu_tool("qemu-img"), "create", "-q", "-f", "qcow2", *options, path, f"{DISK_MIB}M"],
                       check=True, env=tool_env())
        os.truncate(path, 2 * DISK_MIB * MiB)
    boot = os.path.join(directory, "boot.img")
    shutil.copyfile(os.environ["QMP_TEST_GUEST_BOOT"], boot)
    os.truncate(boot, MiB)


class AgentTest(unittest.TestCase):
    def setUp(self):
        self.qemu = Qemu(
            "-machine", "pc,accel=tcg", "-m", "32", "-S", "-serial", "file:@DIR@/serial.log",
            "-chardev", "socket,id=agent,path=@DIR@/agent.sock,server=on,wait=off",
            "-mon", "chardev=agent,mode=control",
            "-blockdev", "driver=file,node-name=boot-file,filename=@DIR@/boot.img",
            "-blockdev", "driver=raw,node-name=boot-fmt,file=boot-file",
            "-device", "ide-hd,bus=ide.0,unit=0,drive=boot-fmt,id=bootdisk,bootindex=0",
            "-blockdev", "driver=file,node-name=data-file,filename=@DIR@/data.qcow2",
            "-blockdev", f"driver=raw,node-name=data-lim,file=data-file,size={2 * MiB}",
            "-blockdev", "driver=qcow2,node-name=data-fmt,file=data-lim",
            "-device", "virtio-blk-pci,drive=data-fmt,id=datadisk,werror=enospc,rerror=stop",
            prepare=make_disks)
        self.addCleanup(self.qemu.close)
        self.client = Qmp.Client.new(self.qemu.address)
        self.client.connect_sync(None)
        self.addCleanup(self.client.close_sync, None)
        self.agent = None
        self.lines = []
        self.buffer = b""

    def execute(self, command, arguments):
        self.client.execute_sync(command, Json.from_string(json.dumps(arguments)).get_object(), None)

    def start_agent(self, *extra):
        self.agent = subprocess.Popen(
            [sys.executable, AGENT, "--qmp", "unix:" + os.path.join(self.qemu.dir, "agent.sock"),
             "--state", os.path.join(self.qemu.dir, "agent.json"), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(self.stop_agent)
        os.set_blocking(self.agent.stdout.fileno(), False)

    def stop_agent(self):
        """SIGTERM, reaped; returns its exit status."""
        if self.agent.poll() is None:
            self.agent.send_signal(signal.SIGTERM)
            try:
                self.agent.wait(20)
            except subprocess.TimeoutExpired:
                self.agent.kill()
                self.agent.wait()
        self.read_lines()
        self.agent.stdout.close()
        return self.agent.returncode

    def read_lines(self):
        if not self.agent.stdout.closed:
            chunk = self.agent.stdout.read()
            if chunk:
                self.buffer += chunk
                *lines, self.buffer = self.buffer.split(b"\n")
                self.lines += [line.decode() for line in lines]
        return self.lines

    def serial(self):
        with open(os.path.join(self.qemu.dir, "serial.log")) as log:
            return log.read()

    def wait(self, predicate, what, timeout=120):
        """Waits for predicate(), the agent's lines read as they come."""
        deadline = time.monotonic() + timeout
        context = GLib.MainContext.default()
        while not predicate():
            self.read_lines()
            if self.agent.poll() is not None:
                self.read_lines()
                raise AssertionError(f"the agent exited waiting for {what}: {self.lines}")
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {what}; the agent said {self.lines}")
            context.iteration(False)
            time.sleep(0.02)

    def said(self, prefix):
        return [line for line in self.read_lines() if line.startswith(prefix)]

    def test_snapshot_mid_fill(self):
        self.start_agent("--disk", f"data-file:data-lim:2M:{2 * DISK_MIB}M",
                         "--storage", f"snap-file:snap-lim:2M:{2 * DISK_MIB}M",
                         "--chunk", "2M", "--free", "50", "--poll", "500", "--extend-delay", "50")
        self.wait(lambda: self.said("connected"), "the agent to connect", 30)
        self.client.cont_sync(None)

        # The guest has written into the base's first chunk: the user
        # pauses the VM (the agent leaves a user's pause alone) and takes
        # a live snapshot onto an overlay with its own 2 MiB of storage.
        self.wait(lambda: self.said("extension requested: data-file"), "the first extension")
        self.client.stop_sync(None)
        self.execute("blockdev-add", {"driver": "file", "node-name": "snap-file",
                                      "filename": os.path.join(self.qemu.dir, "snap.qcow2")})
        self.execute("blockdev-add", {"driver": "raw", "node-name": "snap-lim", "file": "snap-file",
                                      "size": 2 * MiB})
        self.execute("blockdev-add", {"driver": "qcow2", "node-name": "snap-fmt", "file": "snap-lim",
                                      "backing": None})
        self.execute("blockdev-snapshot", {"node": "data-fmt", "overlay": "snap-fmt"})
        self.assertNotIn("DONE", self.serial())
        self.client.cont_sync(None)

        # The rest of the disk goes to the overlay, whose storage the agent
        # grows once the monitor found that the disk moved there.
        self.wait(lambda: "DONE" in self.serial(), "the guest to fill its disk")
        self.assertEqual(self.stop_agent(), 0, self.lines)
        log = "\n".join(self.lines)
        print(log)
        self.assertIn("disk moved: data-file -> snap-file, 2 MiB of storage", log)
        self.assertTrue(self.said("storage grown: data-file"), log)
        self.assertTrue(self.said("storage grown: snap-file"), log)
        self.assertFalse(self.said("monitor error"), log)
        self.assertNotIn("knows no storage", log)
        self.assertNotIn("Qmp-", log)       # the library printed nothing
        # Once moved, the base is not asked for any more.
        moved = self.lines.index(next(line for line in self.lines if line.startswith("disk moved")))
        self.assertFalse([line for line in self.lines[moved:] if line.startswith("extension requested: data-file")])

        # Every byte the guest wrote, through the overlay and its base.
        self.client.execute_sync("quit", None, None)
        self.qemu.process.wait(timeout=10)
        overlay = os.path.join(self.qemu.dir, "snap.qcow2")
        subprocess.run([qemu_tool("qemu-img"), "check", "-q", overlay], check=True, env=tool_env())
        subprocess.run([qemu_tool("qemu-io"), "-f", "qcow2", "-r", "-c", f"read -P 0x5a 0 {DISK_MIB}M", overlay],
                       check=True, env=tool_env(), stdout=subprocess.DEVNULL)

    def test_settings_from_python(self):
        """The monitor's safety nets, set from Python as the agent does."""
        monitor = Qmp.ThinMonitor.new(self.client)
        self.assertEqual(monitor.props.poll_interval, 0)
        self.assertEqual(monitor.props.io_error_policy, Qmp.IoErrorPolicy.LEAVE_PAUSED)
        self.assertEqual((monitor.props.n_job_resumes, monitor.get_n_io_error_retries()), (0, 0))
        monitor.props.poll_interval = 2000
        monitor.set_io_error_policy(Qmp.IoErrorPolicy.RETRY)
        monitor.set_pause_limit(60000)
        self.assertEqual((monitor.get_poll_interval(), monitor.props.io_error_policy, monitor.props.pause_limit),
                         (2000, Qmp.IoErrorPolicy.RETRY, 60000))
        # The largest a 32 MiB qcow2 image with 64 KiB clusters can grow to.
        measure = subprocess.run([qemu_tool("qemu-img"), "measure", "--output=json", "-O", "qcow2",
                                  "--size", f"{DISK_MIB}M"], check=True, env=tool_env(),
                                 stdout=subprocess.PIPE, text=True)
        self.assertEqual(Qmp.thin_estimate_maximum_size("qcow2", DISK_MIB * MiB, 65536),
                         json.loads(measure.stdout)["fully-allocated"])
        # The disk is found in the graph: its guest device and no job.
        disk = monitor.add_disk("data-file", 2 * MiB, 2 * MiB, Qmp.THIN_DEFAULT_FREE_PERCENT)
        self.wait_disk_located(disk)
        self.assertIsNone(disk.props.replica_of)
        self.assertIsNone(disk.props.job)

    def wait_disk_located(self, disk):
        deadline = time.monotonic() + 30
        context = GLib.MainContext.default()
        tick = GLib.timeout_add(50, lambda: GLib.SOURCE_CONTINUE)
        self.addCleanup(GLib.source_remove, tick)
        while not disk.props.device:
            self.assertLess(time.monotonic(), deadline, "the disk was not located")
            context.iteration(True)
        self.assertEqual(disk.props.device, "/machine/peripheral/datadisk/virtio-backend")


if __name__ == "__main__":
    require_qemu()
    unittest.main(verbosity=2)
