#!/usr/bin/python3
# test_thin.py: a real ENOSPC pause seen from Python through GObject
# introspection, with typed event properties; extend and resume.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import json
import os
import shutil
import subprocess
import sys
import unittest

import gi

gi.require_version("Qmp", "1.0")
gi.require_version("Json", "1.0")
from gi.repository import GLib, Json, Qmp  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmptest import Qemu, qemu_tool, require_qemu, tool_env  # noqa: E402

MiB = 1024 * 1024


def make_disks(directory):
    data = os.path.join(directory, "data.qcow2")
    subprocess.run([qemu_tool("qemu-img"), "create", "-q", "-f", "qcow2", data, "8M"], check=True,
                   env=tool_env())
    os.truncate(data, 64 * MiB)
    boot = os.path.join(directory, "boot.img")
    shutil.copyfile(os.environ["QMP_TEST_GUEST_BOOT"], boot)
    os.truncate(boot, MiB)


class ThinTest(unittest.TestCase):
    def setUp(self):
        self.qemu = Qemu(
            "-machine", "pc,accel=tcg", "-m", "32", "-S", "-serial", "file:@DIR@/serial.log",
            "-blockdev", "driver=file,node-name=boot-file,filename=@DIR@/boot.img",
            "-blockdev", "driver=raw,node-name=boot-fmt,file=boot-file",
            "-device", "ide-hd,bus=ide.0,unit=0,drive=boot-fmt,id=bootdisk,bootindex=0",
            "-blockdev", "driver=file,node-name=data-file,filename=@DIR@/data.qcow2",
            "-blockdev", "driver=raw,node-name=data-lim,file=data-file,size=2097152",
            "-blockdev", "driver=qcow2,node-name=data-fmt,file=data-lim",
            "-device", "virtio-blk-pci,drive=data-fmt,id=datadisk,werror=enospc,rerror=stop",
            prepare=make_disks)
        self.addCleanup(self.qemu.close)
        self.client = Qmp.Client.new(self.qemu.address)
        self.client.connect_sync(None)

    def reopen(self, size):
        options = Json.from_string(
            '{"options": [{"driver": "raw", "node-name": "data-lim", "file": "data-file", "size": %d}]}' % size)
        self.client.execute_sync("blockdev-reopen", options.get_object(), None)

    def serial(self):
        with open(os.path.join(self.qemu.dir, "serial.log")) as log:
            return log.read()

    def test_enospc_extend_resume(self):
        loop = GLib.MainLoop()
        state = {"limit": 2 * MiB, "errors": [], "derived": [], "thresholds": [], "pauses": 0}

        def on_threshold(client, event):
            state["thresholds"].append((event.props.node_name, event.props.write_threshold,
                                        event.props.amount_exceeded, event.props.end_offset))

        def on_io_error(client, event):
            # A pause whose error QEMU held back is explained by asking QEMU:
            # its error is derived, from query-block.
            errors = state["derived" if event.props.derived else "errors"]
            errors.append((event.props.node_name, event.props.nospace,
                           event.props.action, event.props.operation, event.props.device,
                           event.props.qom_path))

        def on_stop(client, event):
            # An agent's handler: extend, re-arm, resume, all synchronously.
            state["pauses"] += 1
            status = client.query_status_sync(None)
            self.assertEqual(status.props.status, Qmp.RunState.IO_ERROR)
            disks = [b for b in client.query_block_sync(None) if b.props.node_name == "data-fmt"]
            self.assertEqual(disks[0].props.io_status, Qmp.IoStatus.NOSPACE)
            state["limit"] += 2 * MiB
            self.reopen(state["limit"])
            client.set_write_threshold_sync("data-file", state["limit"] - MiB, None)
            client.cont_sync(None)

        def poll_done():
            if "DONE" in self.serial():
                loop.quit()
                return GLib.SOURCE_REMOVE
            return GLib.SOURCE_CONTINUE

        self.client.connect("block-write-threshold", on_threshold)
        self.client.connect("block-io-error", on_io_error)
        self.client.connect("stop", on_stop)
        self.client.set_write_threshold_sync("data-file", MiB, None)
        self.client.cont_sync(None)
        GLib.timeout_add(20, poll_done)
        GLib.timeout_add_seconds(120, loop.quit)
        loop.run()

        self.assertIn("DONE", self.serial())
        self.assertGreaterEqual(state["pauses"], 2)
        # QEMU 7.2 reports every pause with a BLOCK_IO_ERROR. 10.0 sends at
        # most one a second per device: pauses within a second share one,
        # which may come after the STOP, even after the guest finished; the
        # client asks QEMU about the others and derives their errors.
        if self.client.props.qemu_major == 7:
            self.assertEqual(len(state["errors"]), state["pauses"])
            self.assertEqual(state["derived"], [])
        else:
            self.assertGreaterEqual(len(state["errors"]), 1)
            self.assertLessEqual(len(state["errors"]), state["pauses"])
        for node, nospace, action, operation, device, qom_path in state["errors"] + state["derived"]:
            self.assertEqual(node, "data-fmt")
            self.assertTrue(nospace)
            self.assertEqual(action, Qmp.BlockErrorAction.STOP)
            self.assertEqual(device, "")
            # The device's path: not in 7.2's event, in 10.0's, and in
            # what query-block says (qdev) for a derived one.
            if self.client.props.qemu_major == 7:
                self.assertIsNone(qom_path)
            elif self.client.props.qemu_major >= 10:
                self.assertEqual(qom_path, "/machine/peripheral/datadisk/virtio-backend")
        # What failed is known only from QEMU's own event.
        for error in state["errors"]:
            self.assertEqual(error[3], Qmp.IoOperation.WRITE)
        self.assertEqual(state["thresholds"][0][:2], ("data-file", MiB))
        for node, threshold, amount, end in state["thresholds"]:
            self.assertEqual(node, "data-file")
            self.assertEqual(end, threshold + amount)


    def test_sizing(self):
        """The sizing mode of a disk is read and set from Python; fixed by
        default."""
        monitor = Qmp.ThinMonitor.new(self.client)
        disk = monitor.add_disk("data-file", 2 * MiB, 2 * MiB, Qmp.THIN_DEFAULT_FREE_PERCENT)
        self.assertEqual(disk.props.sizing, Qmp.ThinSizing.FIXED)
        notified = []
        disk.connect("notify::sizing", lambda disk, pspec: notified.append(disk.props.sizing))
        disk.props.sizing = Qmp.ThinSizing.ADAPTIVE
        self.assertEqual(disk.get_sizing(), Qmp.ThinSizing.ADAPTIVE)
        disk.set_sizing(Qmp.ThinSizing.FIXED)
        self.assertEqual(notified, [Qmp.ThinSizing.ADAPTIVE, Qmp.ThinSizing.FIXED])
        self.assertEqual(disk.props.write_rate, 0)
        self.assertEqual(disk.get_timing(Qmp.ThinPhase.NOTICE).props.count, 0)

    def test_monitor_fill(self):
        """The guest fills its disk through QmpThinMonitor, extended from
        Python; every byte lands."""
        loop = GLib.MainLoop()
        needs = []
        monitor = Qmp.ThinMonitor.new(self.client)

        def on_extend_needed(monitor, disk, wanted_size, reason):
            self.assertEqual(disk.props.state, Qmp.ThinDiskState.EXCEEDED)
            needs.append((disk.props.node_name, wanted_size, reason))
            size = min(wanted_size, 64 * MiB)
            self.reopen(size)
            monitor.extended(disk.props.node_name, size)

        def poll_done():
            if "DONE" in self.serial():
                loop.quit()
                return GLib.SOURCE_REMOVE
            return GLib.SOURCE_CONTINUE

        monitor.connect("extend-needed", on_extend_needed)
        disk = monitor.add_disk("data-file", 2 * MiB, 2 * MiB, Qmp.THIN_DEFAULT_FREE_PERCENT)
        self.assertEqual(disk.props.node_name, "data-file")
        self.client.cont_sync(None)
        GLib.timeout_add(20, poll_done)
        GLib.timeout_add_seconds(120, loop.quit)
        loop.run()

        self.assertIn("DONE", self.serial())
        self.assertGreaterEqual(len(needs), 3)
        self.assertEqual(disk.props.n_extensions, len(needs))
        self.assertEqual(monitor.props.n_resumes, monitor.get_n_nospace_pauses())
        print(f"extensions {disk.props.n_extensions}, ENOSPC pauses {monitor.props.n_nospace_pauses}, "
              f"paused {monitor.get_nospace_paused_usec() / 1000:.1f} ms")
        # The timing of each phase, as plain numbers, per disk and for the
        # monitor; the back end answered from the handler.
        extend = disk.get_timing(Qmp.ThinPhase.EXTEND)
        self.assertIsInstance(extend.props.count, int)
        self.assertEqual(extend.props.count, disk.props.n_extensions)
        self.assertEqual(extend.get_count(), extend.props.count)
        self.assertEqual(monitor.get_timing(Qmp.ThinPhase.EXTEND).props.count, disk.props.n_extensions)
        # No threshold to arm once the disk reached its maximum size.
        self.assertIn(disk.get_timing(Qmp.ThinPhase.REARM).props.count,
                      (disk.props.n_extensions - 1, disk.props.n_extensions))
        pause = monitor.get_timing(Qmp.ThinPhase.PAUSE)
        self.assertEqual(pause.props.count, monitor.props.n_nospace_pauses)
        self.assertEqual(pause.props.total_usec, monitor.get_nospace_paused_usec())
        for phase in (Qmp.ThinPhase.NOTICE, Qmp.ThinPhase.EXTEND, Qmp.ThinPhase.REARM, Qmp.ThinPhase.PAUSE):
            timing = monitor.get_timing(phase)
            self.assertIsInstance(timing.props.mean_usec, int)
            self.assertLessEqual(timing.props.mean_usec, timing.props.max_usec)
            self.assertLessEqual(timing.props.last_usec, timing.props.max_usec)
            print(f"{phase.value_nick}: {timing.props.count} times, mean {timing.props.mean_usec} µs, "
                  f"max {timing.props.max_usec} µs")
        self.assertIsInstance(disk.props.write_rate, int)
        self.assertGreater(disk.props.write_rate, 0)
        # The default maximum is what qemu-img says a fully allocated
        # image of that virtual size takes.
        measure = subprocess.run([qemu_tool("qemu-img"), "measure", "--output=json", "-O", "qcow2",
                                  "--size", "8M"], check=True, env=tool_env(),
                                 stdout=subprocess.PIPE, text=True)
        self.assertEqual(disk.props.maximum_size, json.loads(measure.stdout)["fully-allocated"])
        for node, wanted, reason in needs:
            self.assertEqual(node, "data-file")
            # Whole MiB, except the last: the largest size the qcow2
            # image can use (virtual size plus metadata), from the graph.
            if wanted % MiB:
                self.assertEqual(wanted, disk.props.maximum_size)
            self.assertIn(reason, (Qmp.ExtendReason.THRESHOLD, Qmp.ExtendReason.NOSPACE))

        self.client.execute_sync("quit", None, None)
        self.qemu.process.wait(timeout=10)
        image = os.path.join(self.qemu.dir, "data.qcow2")
        subprocess.run([qemu_tool("qemu-img"), "check", "-q", image], check=True, env=tool_env())
        subprocess.run([qemu_tool("qemu-io"), "-f", "qcow2", "-r", "-c", "read -P 0x5a 0 8M", image],
                       check=True, env=tool_env(), stdout=subprocess.DEVNULL)

if __name__ == "__main__":
    require_qemu()
    unittest.main(verbosity=2)
