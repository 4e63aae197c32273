#!/usr/bin/python3
# test_cli.py: the qmpthin command line tool against a real QEMU.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmptest import Qemu, qemu_tool, qemu_version, require_qemu, tool_env  # noqa: E402

CLI = os.environ.get("QMPTHIN_CLI", "qmpthin")
WATCH_THIN = os.environ.get("QMP_EXAMPLE_WATCH_THIN")
THIN_EXTEND = os.environ.get("QMP_EXAMPLE_THIN_EXTEND")
MiB = 1024 * 1024


def qmpthin(*args, check=True):
    """Runs the tool; returns (exit status, stdout, stderr)."""
    done = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise AssertionError(f"qmpthin {' '.join(args)}: exit {done.returncode}: {done.stderr}")
    return done.returncode, done.stdout, done.stderr


def make_disks(directory):
    data = os.path.join(directory, "data.qcow2")
    subprocess.run([qemu_tool("qemu-img"), "create", "-q", "-f", "qcow2", data, "8M"], check=True,
                   env=tool_env())
    os.truncate(data, 64 * MiB)
    boot = os.path.join(directory, "boot.img")
    shutil.copyfile(os.environ["QMP_TEST_GUEST_BOOT"], boot)
    os.truncate(boot, MiB)


# A paused guest with a thin data disk of 2 MiB of storage, and a second
# monitor for `watch` (a monitor serves one client at a time).
GUEST = [
    "-machine", "pc,accel=tcg", "-m", "32", "-S", "-serial", "file:@DIR@/serial.log",
    "-chardev", "socket,id=qmp1,path=@DIR@/watch.sock,server=on,wait=off",
    "-mon", "chardev=qmp1,mode=control",
    "-blockdev", "driver=file,node-name=boot-file,filename=@DIR@/boot.img",
    "-blockdev", "driver=raw,node-name=boot-fmt,file=boot-file",
    "-device", "ide-hd,bus=ide.0,unit=0,drive=boot-fmt,id=bootdisk,bootindex=0",
    "-blockdev", "driver=file,node-name=data-file,filename=@DIR@/data.qcow2",
    "-blockdev", "driver=raw,node-name=data-lim,file=data-file,size=2097152",
    "-blockdev", "driver=qcow2,node-name=data-fmt,file=data-lim",
    "-device", "virtio-blk-pci,drive=data-fmt,id=datadisk,werror=enospc,rerror=stop",
]


class Lines:
    """The lines a background process writes to a pipe, read as they come
    without blocking: a test waits for the line that says the process got
    somewhere, not for a time it hopes is long enough."""

    def __init__(self, pipe):
        os.set_blocking(pipe.fileno(), False)
        self.pipe = pipe
        self.buffer = b""
        self.lines = []

    def read(self):
        """The complete lines so far."""
        chunk = self.pipe.read()
        if chunk:
            self.buffer += chunk
            *lines, self.buffer = self.buffer.split(b"\n")
            self.lines += [line.decode() for line in lines]
        return self.lines

    def wait(self, predicate, what, timeout=20):
        """Waits until predicate(lines) holds; returns the lines."""
        deadline = time.monotonic() + timeout
        while not predicate(self.read()):
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {what}, got {self.lines}")
            time.sleep(0.02)
        return self.lines

    def wait_for(self, line, timeout=20):
        return self.wait(lambda lines: line in lines, repr(line), timeout)

    def close(self):
        """Everything, once the process has exited."""
        self.read()
        if self.buffer:
            self.lines.append(self.buffer.decode())
            self.buffer = b""
        self.pipe.close()
        return "".join(line + "\n" for line in self.lines)


def stop_process(process, *outputs):
    """SIGTERM to @process (its own PID), reaped; returns the whole text of
    each of @outputs (Lines)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return [output.close() for output in outputs]


class Watcher:
    """`qmpthin watch` in the background, its lines collected."""

    def __init__(self, *args):
        self.process = subprocess.Popen([CLI, "watch", *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
        self.stdout = Lines(self.process.stdout)
        self.stderr = Lines(self.process.stderr)
        self.result = None

    @property
    def events(self):
        return [json.loads(line) for line in self.stdout.read() if line]

    def wait_events(self, count, timeout=20):
        self.stdout.wait(lambda lines: len([line for line in lines if line]) >= count,
                         f"{count} events", timeout)
        return self.events

    def stop(self):
        """Stops it (SIGTERM) once; returns (exit status, stderr)."""
        if self.result is None:
            _, err = stop_process(self.process, self.stdout, self.stderr)
            self.result = (self.process.returncode, err)
        return self.result


class CliTest(unittest.TestCase):
    def setUp(self):
        self.qemu = Qemu(*GUEST, prepare=make_disks)
        self.addCleanup(self.qemu.close)
        self.watch_address = "unix:" + os.path.join(self.qemu.dir, "watch.sock")

    def test_usage(self):
        status, out, _ = qmpthin("--help")
        self.assertEqual(status, 0)
        for command in ("watch", "status", "exec", "set-threshold"):
            self.assertIn(command, out)
        for args in (["frobnicate"], [], ["status"], ["exec", self.qemu.address],
                     ["set-threshold", self.qemu.address, "data-file", "12X"],
                     ["exec", self.qemu.address, "query-status", "[1]"],
                     ["status", self.qemu.address, "--bogus"]):
            status, _, err = qmpthin(*args, check=False)
            self.assertEqual(status, 2, args)
            self.assertTrue(err.startswith("qmpthin"), err)
        status, out, _ = qmpthin("exec", "--help")
        self.assertEqual(status, 0)
        self.assertIn("ARGUMENTS", out)

    def test_exec_and_errors(self):
        _, out, _ = qmpthin("exec", self.qemu.address, "query-status")
        self.assertEqual(json.loads(out)["status"], "prelaunch")
        _, out, _ = qmpthin("exec", self.qemu.address, "qom-list", '{"path": "/machine"}')
        self.assertIn("peripheral", [child["name"] for child in json.loads(out)])

        status, out, err = qmpthin("exec", self.qemu.address, "no-such-command", check=False)
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(err, "qmpthin: no-such-command: CommandNotFound: "
                              "The command no-such-command has not been found\n")
        status, _, err = qmpthin("set-threshold", self.qemu.address, "nosuch", "1M", check=False)
        self.assertEqual(status, 1)
        self.assertIn("GenericError: Device 'nosuch' not found", err)
        # Every error as "qmpthin: WHAT: CLASS: MESSAGE".
        missing = os.path.join(self.qemu.dir, "nonexistent")
        status, _, err = qmpthin("status", "unix:" + missing, check=False)
        self.assertEqual(status, 1)
        self.assertEqual(err, f"qmpthin: connect: not-found: There is no QMP socket at {missing}: "
                              "is QEMU running?\n")
        # A negative size is a size, not an option.
        status, _, err = qmpthin("set-threshold", self.qemu.address, "data-file", "-1", check=False)
        self.assertEqual(status, 2)
        self.assertIn("BYTES must not be negative", err)
        # Said what it did.
        _, out, _ = qmpthin("set-threshold", self.qemu.address, "data-file", "2M")
        self.assertEqual(out, f"armed data-file at {2 * MiB} bytes\n")
        _, out, _ = qmpthin("set-threshold", self.qemu.address, "data-file", "0")
        self.assertEqual(out, "disarmed the write threshold of data-file\n")

    def test_status(self):
        qmpthin("set-threshold", self.qemu.address, "data-file", "1M")
        _, out, _ = qmpthin("status", self.qemu.address, "--json")
        report = json.loads(out)
        self.assertEqual(report["run-state"], "prelaunch")
        self.assertEqual(report["stop-reason"]["kind"], "prelaunch")
        disks = {disk["node-name"]: disk for disk in report["disks"]}
        self.assertEqual(disks["data-fmt"]["storage-node"], "data-file")
        self.assertEqual(disks["data-fmt"]["write-threshold"], MiB)
        self.assertEqual(disks["data-fmt"]["io-status"], "ok")
        self.assertEqual(disks["boot-fmt"]["storage-node"], "boot-file")
        _, table, _ = qmpthin("status", self.qemu.address)
        self.assertIn("stop reason: prelaunch", table)
        self.assertRegex(table, r"\ndatadisk +data-fmt +ok +data-file +1\.0 MiB +0 B\n")

        # The guest runs out of space: the status says why, naming the disk.
        qmpthin("exec", self.qemu.address, "cont")
        deadline = time.monotonic() + 30
        while json.loads(qmpthin("status", self.qemu.address, "--json")[1])["run-state"] != "io-error":
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        _, out, _ = qmpthin("status", self.qemu.address, "--json")
        report = json.loads(out)
        self.assertEqual(report["stop-reason"]["kind"], "nospace")
        self.assertEqual(report["stop-reason"]["nodes"], ["data-fmt"])
        self.assertTrue(report["stop-reason"]["derived"])
        # The disk by every name QEMU gave it, its QOM path included.
        self.assertEqual(report["stop-reason"]["disks"], [{
            "node-name": "data-fmt", "device": "", "qom-path": "/machine/peripheral/datadisk/virtio-backend"}])
        disks = {disk["node-name"]: disk for disk in report["disks"]}
        self.assertEqual(disks["data-fmt"]["io-status"], "nospace")
        self.assertFalse(disks["data-fmt"]["io-status-stale"])
        self.assertEqual(disks["data-fmt"]["write-threshold"], 0)

        self.assertLessEqual(disks["data-fmt"]["allocated"], 2 * MiB)
        self.assertGreater(disks["data-fmt"]["allocated"], MiB)
        # Resumed (with room): QEMU keeps io-status nospace, and says so.
        qmpthin("exec", self.qemu.address, "blockdev-reopen", json.dumps(
            {"options": [{"driver": "raw", "node-name": "data-lim", "file": "data-file", "size": 64 * MiB}]}))
        qmpthin("exec", self.qemu.address, "cont")
        _, out, _ = qmpthin("status", self.qemu.address, "--json")
        disks = {disk["node-name"]: disk for disk in json.loads(out)["disks"]}
        self.assertEqual(disks["data-fmt"]["io-status"], "nospace")
        self.assertTrue(disks["data-fmt"]["io-status-stale"])
        _, table, _ = qmpthin("status", self.qemu.address)
        self.assertRegex(table, r"\ndatadisk +data-fmt +nospace\* ")
        self.assertIn("* the error of an earlier pause", table)

    def test_watch(self):
        watcher = Watcher(self.watch_address)
        self.addCleanup(watcher.stop)
        watcher.stderr.wait(lambda lines: any(line.startswith("qmpthin: watching QEMU") for line in lines),
                            "the watcher connected")
        qmpthin("exec", self.qemu.address, "cont")
        qmpthin("exec", self.qemu.address, "stop")
        events = watcher.wait_events(2)
        self.assertEqual([e["event"] for e in events[:2]], ["RESUME", "STOP"])
        self.assertEqual(events[0]["data"], {})
        self.assertGreater(events[0]["timestamp"]["seconds"], 1600000000)
        self.assertNotIn("derived", events[0])
        status, err = watcher.stop()
        self.assertEqual(status, 0, err)

        # Only the events asked for.
        filtered = Watcher(self.watch_address, "--event", "RESUME")
        self.addCleanup(filtered.stop)
        filtered.stderr.wait(lambda lines: any(line.startswith("qmpthin: watching QEMU") for line in lines),
                             "the watcher connected")
        qmpthin("exec", self.qemu.address, "cont")
        qmpthin("exec", self.qemu.address, "stop")
        qmpthin("exec", self.qemu.address, "cont")
        self.assertEqual([e["event"] for e in filtered.wait_events(2)], ["RESUME", "RESUME"])
        self.assertEqual(filtered.stop()[0], 0)

        # An event QEMU does not have is a mistake, not a quiet watch.
        status, _, err = qmpthin("watch", self.watch_address, "--event", "NOSUCH_EVENT", check=False)
        self.assertEqual(status, 2)
        self.assertIn("has no event named “NOSUCH_EVENT”", err)

    def test_watch_timing(self):
        watcher = Watcher(self.watch_address, "--event", "RESUME", "--timing")
        self.addCleanup(watcher.stop)
        watcher.stderr.wait(lambda lines: any(line.startswith("qmpthin: watching QEMU") for line in lines),
                            "the watcher connected")

        def seen(kind):
            return [line for line in watcher.events if line.get("timing") == kind]

        def wait_paused():
            deadline = time.monotonic() + 30
            while json.loads(qmpthin("exec", self.qemu.address, "query-status")[1])["status"] != "io-error":
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.02)

        # A threshold at 1 MiB, then the storage (2 MiB) runs out.
        qmpthin("set-threshold", self.qemu.address, "data-file", "1M")
        qmpthin("exec", self.qemu.address, "cont")
        wait_paused()
        # Extended to 8 MiB, a threshold at 3 MiB, resumed: the pause ends,
        # and the second threshold gives a rate.
        qmpthin("exec", self.qemu.address, "blockdev-reopen", json.dumps(
            {"options": [{"driver": "raw", "node-name": "data-lim", "file": "data-file", "size": 8 * MiB}]}))
        qmpthin("set-threshold", self.qemu.address, "data-file", "3M")
        qmpthin("exec", self.qemu.address, "cont")
        watcher.stdout.wait(lambda lines: len(seen("threshold")) >= 2, "two crossings", timeout=30)
        out, err = stop_process(watcher.process, watcher.stdout, watcher.stderr)
        watcher.result = (watcher.process.returncode, err)
        self.assertEqual(watcher.process.returncode, 0, err)
        lines = [json.loads(line) for line in out.splitlines() if line]

        def timing(kind):
            return [line for line in lines if line.get("timing") == kind]

        # Only the events asked for; the timing lines on top.
        self.assertEqual({line["event"] for line in lines if "event" in line}, {"RESUME"})
        first, second = timing("threshold")[:2]
        self.assertEqual(first["node-name"], "data-file")
        self.assertGreater(first["allocation"], MiB)
        self.assertNotIn("write-rate", first)
        self.assertGreater(second["allocation"], 3 * MiB)
        self.assertGreater(second["running-usec"], 0)
        self.assertEqual(second["write-rate"],
                         (second["allocation"] - first["allocation"]) * 1000000 // second["running-usec"])
        pauses = timing("pause")
        self.assertGreaterEqual(len(pauses), 1)
        self.assertGreater(pauses[0]["paused-usec"], 0)
        summary = lines[-1]
        self.assertEqual(summary["timing"], "summary")
        self.assertEqual(summary["pauses"], len(pauses))
        self.assertEqual(summary["paused-usec"], sum(pause["paused-usec"] for pause in pauses))
        self.assertEqual(summary["write-rate"]["data-file"], timing("threshold")[-1]["write-rate"])

    def test_watch_derived_and_reconnect(self):
        # The VM pauses on a full disk while nobody watches.
        qmpthin("exec", self.qemu.address, "cont")
        deadline = time.monotonic() + 30
        while json.loads(qmpthin("exec", self.qemu.address, "query-status")[1])["status"] != "io-error":
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        watcher = Watcher(self.watch_address, "--reconnect")
        self.addCleanup(watcher.stop)
        event = watcher.wait_events(1)[0]
        self.assertEqual(event["event"], "BLOCK_IO_ERROR")
        self.assertTrue(event["derived"])
        self.assertTrue(event["data"]["nospace"])
        self.assertEqual(event["data"]["node-name"], "data-fmt")
        # When the client read QEMU's state, as the help says.
        self.assertGreater(event["timestamp"]["seconds"], 1600000000)

        # QEMU is killed and comes back: the watcher stays and follows it.
        self.qemu.kill()
        watcher.stderr.wait(lambda lines: any("connection lost" in line for line in lines), "connection lost")
        self.assertIsNone(watcher.process.poll())
        self.qemu.restart()
        # Said once the new QEMU's state is known: its events come after.
        watcher.stderr.wait_for("qmpthin: reconnected to a new QEMU instance")
        qmpthin("exec", self.qemu.address, "cont")
        self.assertEqual(watcher.wait_events(2)[1]["event"], "RESUME")
        status, err = watcher.stop()
        self.assertEqual(status, 0)
        self.assertIn("connection lost", err)
        self.assertIn("reconnected to a new QEMU instance", err)


    def snapshot(self):
        """A live snapshot of the data disk onto the overlay snap-fmt over
        the storage node snap-file."""
        overlay = os.path.join(self.qemu.dir, "snap.qcow2")
        subprocess.run([qemu_tool("qemu-img"), "create", "-q", "-f", "qcow2", "-F", "qcow2",
                        "-b", os.path.join(self.qemu.dir, "data.qcow2"), overlay, "8M"],
                       check=True, env=tool_env())
        qmpthin("exec", self.qemu.address, "blockdev-add",
                json.dumps({"driver": "file", "node-name": "snap-file", "filename": overlay}))
        qmpthin("exec", self.qemu.address, "blockdev-add",
                json.dumps({"driver": "qcow2", "node-name": "snap-fmt", "file": "snap-file", "backing": None}))
        qmpthin("exec", self.qemu.address, "blockdev-snapshot",
                json.dumps({"node": "data-fmt", "overlay": "snap-fmt"}))

    def test_watch_graph(self):
        watcher = Watcher(self.watch_address, "--graph", "--graph-interval", "100", "--event", "RESUME")
        self.addCleanup(watcher.stop)

        def graphs(lines):
            return [json.loads(line) for line in lines if line.startswith('{"graph"')]

        def has_graph(wanted):
            return lambda lines: any(g["graph"] == wanted for g in graphs(lines))

        start = [{"device": "bootdisk", "node-name": "boot-fmt", "storage-node": "boot-file"},
                 {"device": "datadisk", "node-name": "data-fmt", "storage-node": "data-file"}]
        watcher.stdout.wait(has_graph(start), "the graph read once connected")
        self.assertEqual(graphs(watcher.stdout.read())[0], {"graph": start, "jobs": []})

        # A live snapshot sends no event: the interval finds it.
        self.snapshot()
        snapped = [start[0], {"device": "datadisk", "node-name": "snap-fmt", "storage-node": "snap-file"}]
        watcher.stdout.wait(has_graph(snapped), "the snapshot's overlay as the active layer")

        # An active commit: the guest still writes the overlay, under the
        # job's filter, until the pivot makes the base the top again.
        qmpthin("exec", self.qemu.address, "block-commit", json.dumps({"job-id": "merge", "device": "snap-fmt"}))
        watcher.stdout.wait(lambda lines: any(g["graph"] == snapped and g["jobs"] == [
            {"id": "merge", "type": "commit", "status": "ready"}] for g in graphs(lines)), "the commit, ready")
        qmpthin("exec", self.qemu.address, "job-complete", json.dumps({"id": "merge"}))
        watcher.stdout.wait(lambda lines: graphs(lines)[-1] == {"graph": start, "jobs": []}, "the pivot")

        # One line per change, however often the graph is read; --event
        # filters events, not graph lines.
        qmpthin("exec", self.qemu.address, "cont")
        events = watcher.stdout.wait(lambda lines: any(line.startswith('{"event"') for line in lines), "RESUME")
        self.assertEqual(graphs(events)[-1], {"graph": start, "jobs": []})
        self.assertEqual([json.loads(line)["event"] for line in events if line.startswith('{"event"')], ["RESUME"])
        status, err = watcher.stop()
        self.assertEqual(status, 0, err)

    @unittest.skipUnless(WATCH_THIN, "the examples are not built")
    def test_watch_thin_example(self):
        example = subprocess.Popen([WATCH_THIN, self.watch_address, "data-file", str(MiB)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = Lines(example.stdout), Lines(example.stderr)
        try:
            # Armed, and the stop reason the connect found printed.
            stdout.wait_for(f"armed data-file at {MiB} bytes")
            qmpthin("exec", self.qemu.address, "cont")
            stdout.wait(lambda lines: "VM nospace (data-fmt)" in lines
                        and "data-fmt: No space left on device" in lines, "the pause, explained", timeout=30)
        finally:
            out, err = stop_process(example, stdout, stderr)
        self.assertEqual(example.returncode, 0, err)
        lines = out.splitlines()
        # The stop reason the connect found, printed once.
        self.assertEqual(lines[:3], [f"QEMU {qemu_version()[0]}", "VM prelaunch", f"armed data-file at {MiB} bytes"])
        self.assertEqual(lines.count("VM prelaunch"), 1)
        self.assertIn("VM running", lines)
        self.assertRegex(out, r"data-file: writes reached \d+ bytes, past the threshold: extend now")
        self.assertIn("data-fmt: No space left on device", lines)
        self.assertIn("VM nospace (data-fmt)", lines)
    @unittest.skipUnless(THIN_EXTEND, "examples not built")
    def test_thin_extend_example(self):
        # 2 MiB of storage under an 8 MiB disk the guest fills: it only
        # finishes if the example keeps growing the storage.
        example = subprocess.Popen([THIN_EXTEND, self.watch_address, "data-file", "data-lim",
                                    str(2 * MiB), str(64 * MiB), str(MiB)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = Lines(example.stdout), Lines(example.stderr)
        try:
            # Connected and armed.
            stdout.wait(lambda lines: len(lines) >= 1, "its first line")
            qmpthin("exec", self.qemu.address, "cont")
            deadline = time.monotonic() + 60
            while "DONE" not in self.qemu.read_file("serial.log"):
                self.assertLess(time.monotonic(), deadline, "the guest did not finish")
                self.assertIsNone(example.poll(), "the example exited")
                time.sleep(0.05)
        finally:
            out, err = stop_process(example, stdout, stderr)
        self.assertEqual(example.returncode, 0, err)
        self.assertEqual(err, "")
        lines = out.splitlines()
        self.assertEqual(lines[0], f"watching data-file on QEMU {qemu_version()[0]}: "
                                   f"threshold at {2 * MiB - MiB * 80 // 100} bytes")
        self.assertRegex(out, r"data-file needs more storage \(threshold crossed\): 2097152 -> \d+ bytes")
        extensions, pauses, _ = map(int, re.fullmatch(
            r"(\d+) extension\(s\), (\d+) ENOSPC pause\(s\), (\d+) ms paused", lines[-1]).groups())
        self.assertEqual(extensions, out.count("needs more storage"))
        self.assertGreaterEqual(extensions, 6)
        self.assertEqual(pauses, out.count("VM resumed after an extension"))

        # Every byte the guest wrote is there.
        self.qemu.close_process()
        data = os.path.join(self.qemu.dir, "data.qcow2")
        subprocess.run([qemu_tool("qemu-img"), "check", "-q", data], check=True, env=tool_env())
        read = subprocess.run([qemu_tool("qemu-io"), "-f", "qcow2", "-r", "-c", f"read -P 0x5a 0 {8 * MiB}", data],
                              capture_output=True, text=True, env=tool_env())
        self.assertEqual(read.returncode, 0, read.stderr)
        self.assertNotIn("Pattern verification failed", read.stdout)


    @unittest.skipUnless(THIN_EXTEND, "examples not built")
    def test_thin_extend_example_snapshot(self):
        # A snapshot sends no event: the example's 2 s poll finds it, and
        # the example says the disk moved to storage it does not manage.
        example = subprocess.Popen([THIN_EXTEND, self.watch_address, "data-file", "data-lim",
                                    str(2 * MiB), str(64 * MiB), str(MiB)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = Lines(example.stdout), Lines(example.stderr)
        try:
            stdout.wait(lambda lines: len(lines) >= 1, "its first line")
            self.snapshot()
            stdout.wait_for("the disk moved from data-file to snap-file (a snapshot, or a job's pivot)")
        finally:
            out, err = stop_process(example, stdout, stderr)
        self.assertEqual(example.returncode, 0, err)
        self.assertEqual(out.splitlines()[-1], "0 extension(s), 0 ENOSPC pause(s), 0 ms paused")


if __name__ == "__main__":
    require_qemu()
    unittest.main(verbosity=2)
