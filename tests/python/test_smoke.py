#!/usr/bin/python3
# test_smoke.py: libqmpthin from Python through GObject introspection,
# against a real QEMU.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import sys
import unittest

import gi

gi.require_version("Qmp", "1.0")
gi.require_version("Json", "1.0")
from gi.repository import GLib, Json, Qmp  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmptest import Qemu, require_qemu  # noqa: E402


class SmokeTest(unittest.TestCase):
    def setUp(self):
        self.qemu = Qemu("-machine", "none", "-S")
        self.addCleanup(self.qemu.close)
        self.client = Qmp.Client.new(self.qemu.address)
        self.client.connect_sync(None)

    def test_greeting(self):
        self.assertEqual(self.client.props.state, Qmp.ClientState.READY)
        self.assertEqual(self.client.props.qemu_major, 7)
        self.assertIn("oob", self.client.props.capabilities)

    def test_query_status(self):
        node = self.client.execute_sync("query-status", None, None)
        status = node.get_object()
        self.assertEqual(status.get_string_member("status"), "prelaunch")
        self.assertFalse(status.get_boolean_member("running"))

        info = self.client.query_status_sync(None)
        self.assertEqual(info.props.status, Qmp.RunState.PRELAUNCH)
        self.assertEqual(info.props.status_string, "prelaunch")

    def test_command_error(self):
        with self.assertRaises(GLib.Error) as caught:
            self.client.execute_sync("no-such-command", None, None)
        error = caught.exception
        self.assertTrue(error.matches(Qmp.command_error_quark(), Qmp.CommandError.COMMAND_NOT_FOUND))
        self.assertEqual(error.message, "The command no-such-command has not been found")

    def test_arguments(self):
        arguments = Json.Object()
        arguments.set_boolean_member("bogus", True)
        with self.assertRaises(GLib.Error) as caught:
            self.client.execute_sync("query-status", arguments, None)
        self.assertTrue(caught.exception.matches(Qmp.command_error_quark(),
                                                 Qmp.CommandError.GENERIC_ERROR))

    def test_async_and_events(self):
        loop = GLib.MainLoop()
        events = []
        results = []

        def on_event(client, event):
            events.append(event.props.name)
            if event.props.name == "RESUME":
                loop.quit()

        def on_reply(client, result):
            results.append(client.execute_finish(result))

        self.client.connect("event", on_event)
        for _ in range(10):
            self.client.execute_async("query-status", None, None, on_reply)
        self.client.execute_async("cont", None, None, on_reply)
        GLib.timeout_add_seconds(20, loop.quit)
        loop.run()
        self.assertEqual(events, ["RESUME"])
        self.assertGreaterEqual(len(results), 10)

    def test_sync_from_handler(self):
        # An agent's handler that resumes the VM synchronously.
        loop = GLib.MainLoop()
        seen = []

        def on_stop(client, event):
            info = client.query_status_sync(None)
            seen.append(info.props.status)
            client.cont_sync(None)

        def on_resume(client, event):
            seen.append("resumed")
            if len(seen) >= 3:
                loop.quit()

        self.client.connect("stop", on_stop)
        self.client.connect("resume", on_resume)
        self.client.cont_sync(None)
        self.client.stop_sync(None)
        GLib.timeout_add_seconds(20, loop.quit)
        loop.run()
        self.assertEqual(seen, ["resumed", Qmp.RunState.PAUSED, "resumed"])


if __name__ == "__main__":
    require_qemu()
    unittest.main(verbosity=2)
