#!/usr/bin/python3
# test_overrides.py: the Pythonic layer over gi.repository.Qmp (plain
# values in and out, event data as dicts, QEMU's error classes), against a
# real QEMU.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import sys
import time
import unittest

import gi

gi.require_version("Qmp", "1.0")
gi.require_version("Json", "1.0")
from gi.repository import GLib, Json, Qmp  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmptest import Qemu, qemu_version, require_qemu  # noqa: E402


def run_until(predicate, timeout=10.0):
    context = GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    timer = GLib.timeout_add(10, lambda: GLib.SOURCE_CONTINUE)
    try:
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("timed out")
            context.iteration(True)
    finally:
        GLib.source_remove(timer)


class OverridesTest(unittest.TestCase):
    def setUp(self):
        self.qemu = Qemu("-machine", "none", "-blockdev", "driver=null-co,node-name=disk0,size=67108864")
        self.addCleanup(self.qemu.close)
        self.client = Qmp.Client.new(self.qemu.address)
        self.client.connect_sync(None)
        self.addCleanup(self.client.close_sync, None)

    def test_plain_values(self):
        status = self.client.execute_sync("query-status")
        self.assertEqual((status["status"], status["running"]), ("running", True))
        commands = self.client.execute_sync("query-commands")
        self.assertIsInstance(commands, list)
        self.assertIn({"name": "query-status"}, commands)
        # A dict, keyword arguments (underscores for dashes), both.
        children = self.client.execute_sync("qom-list", {"path": "/machine"})
        self.assertIn("peripheral", [child["name"] for child in children])
        text = self.client.execute_sync("human-monitor-command", command_line="info version")
        # HMP's own format: the version and the package text, run together.
        self.assertEqual(text, "".join(qemu_version()) + "\r\n")
        self.assertEqual(self.client.execute_sync("block-set-write-threshold", {"node-name": "disk0"},
                                                  write_threshold=4096), {})
        nodes = self.client.execute_sync("query-named-block-nodes", flat=True)
        self.assertEqual([n["write_threshold"] for n in nodes if n["node-name"] == "disk0"], [4096])
        # A Json.Object still works.
        arguments = Json.from_string('{"path": "/machine"}').get_object()
        self.assertEqual(self.client.execute_sync("qom-list", arguments), children)
        with self.assertRaises(TypeError):
            self.client.execute_sync("qom-list", ["/machine"])

    def test_errors(self):
        with self.assertRaises(Qmp.QemuError) as caught:
            self.client.execute_sync("no-such-command")
        error = caught.exception
        self.assertIsInstance(error, GLib.Error)
        self.assertEqual(error.class_name, "CommandNotFound")
        self.assertTrue(error.matches(Qmp.command_error_quark(), Qmp.CommandError.COMMAND_NOT_FOUND))
        self.assertEqual(error.message, "The command no-such-command has not been found")
        self.assertEqual(str(error), "CommandNotFound: The command no-such-command has not been found")

        with self.assertRaises(Qmp.QemuError) as caught:
            self.client.execute_sync("query-status", bogus=1)
        self.assertEqual(caught.exception.class_name, "GenericError")
        self.assertEqual(caught.exception.message, "Parameter 'bogus' is unexpected")

        # The typed calls too.
        with self.assertRaises(Qmp.QemuError) as caught:
            self.client.set_write_threshold_sync("nosuch", 1, None)
        self.assertEqual(caught.exception.class_name, "GenericError")
        self.assertEqual(caught.exception.message, "Device 'nosuch' not found")

        # Not QEMU's: a plain GLib.Error.
        self.client.close_sync(None)
        with self.assertRaises(GLib.Error) as caught:
            self.client.execute_sync("query-status")
        self.assertNotIsInstance(caught.exception, Qmp.QemuError)

    def test_async(self):
        results = []
        self.client.execute("query-status", callback=lambda client, value, error: results.append((value, error)))
        self.client.execute("no-such-command", callback=lambda client, value, error: results.append((value, error)))
        self.client.execute_async("qom-list", {"path": "/machine"}, None,
                                  lambda client, result: results.append(client.execute_finish(result)))
        run_until(lambda: len(results) == 3)
        self.assertEqual(results[0][0]["status"], "running")
        self.assertIsNone(results[0][1])
        self.assertIsNone(results[1][0])
        self.assertIsInstance(results[1][1], Qmp.QemuError)
        self.assertEqual(results[1][1].class_name, "CommandNotFound")
        self.assertIsInstance(results[2], list)

    def test_event_data(self):
        events = []
        self.client.connect("event", lambda client, event: events.append(event))
        self.client.set_write_threshold_sync("disk0", 1024 * 1024, None)
        self.client.execute_sync("human-monitor-command", command_line='qemu-io disk0 "write 0 2M"')
        self.client.execute_sync("stop")
        run_until(lambda: [e.get_name() for e in events] == ["BLOCK_WRITE_THRESHOLD", "STOP"])
        threshold, stop = events
        # Typed events stay typed, with their data as a dict.
        self.assertIsInstance(threshold, Qmp.WriteThresholdEvent)
        self.assertEqual(threshold.props.node_name, "disk0")
        self.assertEqual(threshold.data["node-name"], "disk0")
        self.assertEqual(threshold.data["write-threshold"], 1024 * 1024)
        self.assertEqual(threshold.data["amount-exceeded"], threshold.props.amount_exceeded)
        self.assertEqual(stop.data, {})
        self.assertIn("BLOCK_WRITE_THRESHOLD", repr(threshold))


if __name__ == "__main__":
    require_qemu()
    unittest.main(verbosity=2)
