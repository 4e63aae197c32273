#!/usr/bin/python3
# test_smoke.py: libqmpthin from Python through GObject introspection,
# against a real QEMU: the introspected C API itself, past the Pythonic
# overrides (test_overrides.py tests those).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import sys
import unittest

import gi

gi.require_version("Qmp", "1.0")
gi.require_version("Json", "1.0")
from gi.repository import GLib, Json, Qmp  # noqa: E402
from gi.module import get_introspection_module  # noqa: E402

# The class as introspected, whether or not the overrides are loaded.
RawClient = get_introspection_module("Qmp").Client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmptest import Qemu, qemu_version, require_qemu  # noqa: E402

# A guard against hangs, not a timing assertion.
WAIT_LIMIT_S = 30


def run_loop(loop):
    """Runs @loop until a handler quits it; fails after WAIT_LIMIT_S."""
    timed_out = []

    def on_timeout():
        timed_out.append(True)
        loop.quit()
        return GLib.SOURCE_REMOVE

    guard = GLib.timeout_add_seconds(WAIT_LIMIT_S, on_timeout)
    loop.run()
    if timed_out:
        raise AssertionError(f"nothing happened in {WAIT_LIMIT_S} s")
    GLib.source_remove(guard)


class SmokeTest(unittest.TestCase):
    machine = ("-machine", "none", "-S")

    def setUp(self):
        self.qemu = Qemu(*self.machine)
        self.addCleanup(self.qemu.close)
        self.client = Qmp.Client.new(self.qemu.address)
        # Cleanups run last-in first-out: the client goes before its QEMU.
        self.addCleanup(setattr, self, "client", None)
        self.client.connect_sync(None)

    def test_greeting(self):
        props = self.client.props
        self.assertEqual(props.state, Qmp.ClientState.READY)
        # What `qemu-system-x86_64 --version` says, as text and in numbers.
        version, package = qemu_version()
        self.assertEqual(props.qemu_version, version)
        self.assertEqual(f"{props.qemu_major}.{props.qemu_minor}.{props.qemu_micro}", version)
        self.assertEqual(props.qemu_package, package)
        self.assertTrue(props.qemu_package)
        self.assertIn("oob", props.capabilities)

    def test_query_status(self):
        node = RawClient.execute_sync(self.client, "query-status", None, None)
        self.assertIsInstance(node, Json.Node)
        self.assertEqual(node.get_node_type(), Json.NodeType.OBJECT)
        status = node.get_object()
        self.assertEqual(status.get_string_member("status"), "prelaunch")
        self.assertFalse(status.get_boolean_member("running"))

        info = self.client.query_status_sync(None)
        self.assertEqual(info.props.status, Qmp.RunState.PRELAUNCH)
        self.assertEqual(info.props.status_string, "prelaunch")

    def test_command_not_found(self):
        with self.assertRaises(GLib.Error) as caught:
            RawClient.execute_sync(self.client, "no-such-command", None, None)
        error = caught.exception
        self.assertTrue(error.matches(Qmp.command_error_quark(), Qmp.CommandError.COMMAND_NOT_FOUND))
        self.assertEqual(error.domain, GLib.quark_to_string(Qmp.command_error_quark()))
        # QEMU's class reaches Python as the code: PyGObject copies a
        # GError's domain, code and message, not the class name the library
        # attaches to it; the class of a known code is still there.
        self.assertEqual(Qmp.CommandError(error.code), Qmp.CommandError.COMMAND_NOT_FOUND)
        self.assertEqual(Qmp.command_error_get_class_name(error), "CommandNotFound")
        self.assertEqual(error.message, "The command no-such-command has not been found")
        # Still connected: an error reply is an answer.
        self.assertEqual(self.client.props.state, Qmp.ClientState.READY)

    def test_bad_argument(self):
        arguments = Json.Object()
        arguments.set_boolean_member("bogus", True)
        with self.assertRaises(GLib.Error) as caught:
            RawClient.execute_sync(self.client, "query-status", arguments, None)
        self.assertTrue(caught.exception.matches(Qmp.command_error_quark(),
                                                 Qmp.CommandError.GENERIC_ERROR))
        self.assertEqual(caught.exception.message, "Parameter 'bogus' is unexpected")

    def test_async_and_events(self):
        loop = GLib.MainLoop()
        events = []
        results = {}

        def quit_when_done():
            if len(results) == 11 and events:
                loop.quit()

        def on_event(client, event):
            events.append((event.props.name, event.props.data.get_size()))
            quit_when_done()

        def on_reply(client, result, key):
            self.assertNotIn(key, results, "completed twice")
            try:
                results[key] = RawClient.execute_finish(client, result)
            except GLib.Error as error:
                results[key] = error
            quit_when_done()

        self.client.connect("event", on_event)
        for i in range(10):
            self.client.execute_async("query-status", None, None, on_reply, i)
        self.client.execute_async("cont", None, None, on_reply, "cont")
        run_loop(loop)

        # Commands run in order: every query-status came before cont.
        for i in range(10):
            self.assertIsInstance(results[i], Json.Node)
            self.assertEqual(results[i].get_object().get_string_member("status"), "prelaunch")
        self.assertEqual(results["cont"].get_object().get_size(), 0)
        self.assertEqual(events, [("RESUME", 0)])
        self.assertEqual(self.client.query_status_sync(None).props.status, Qmp.RunState.RUNNING)

    def test_sync_from_handler(self):
        # A management program's handler that resumes the VM synchronously.
        loop = GLib.MainLoop()
        seen = []

        def on_stop(client, event):
            info = client.query_status_sync(None)
            seen.append(info.props.status)
            client.cont_sync(None)

        def on_resume(client, event):
            seen.append("resumed")
            if len(seen) == 3:
                loop.quit()

        self.client.connect("stop", on_stop)
        self.client.connect("resume", on_resume)
        self.client.cont_sync(None)
        self.client.stop_sync(None)
        run_loop(loop)
        self.assertEqual(seen, ["resumed", Qmp.RunState.PAUSED, "resumed"])


if __name__ == "__main__":
    require_qemu()
    unittest.main(verbosity=2)
