#!/usr/bin/python3
# test_auto_reconnect.py: QEMU killed and started again under a client with
# auto-reconnect, seen from Python through GObject introspection.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import sys
import time
import unittest

import gi

gi.require_version("Qmp", "1.0")
from gi.repository import Gio, GLib, Qmp  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmptest import Qemu, require_qemu  # noqa: E402


def run_until(predicate, timeout=10.0):
    """Runs the default main context until predicate() holds."""
    context = GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    timer = GLib.timeout_add(10, lambda: GLib.SOURCE_CONTINUE)  # wakes the blocking iteration
    try:
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("timed out")
            context.iteration(True)
    finally:
        GLib.source_remove(timer)


def spin(seconds):
    deadline = time.monotonic() + seconds
    run_until(lambda: time.monotonic() > deadline, seconds + 1)


class AutoReconnectTest(unittest.TestCase):
    def setUp(self):
        self.qemu = Qemu("-machine", "none")
        self.addCleanup(self.qemu.close)
        self.client = Qmp.Client.new(self.qemu.address)
        self.client.props.auto_reconnect = True
        self.client.props.reconnect_min_delay = 50
        self.client.props.reconnect_max_delay = 500
        self.log = []
        self.client.connect("notify::state",
                            lambda client, pspec: self.log.append(("state", client.props.state)))
        self.client.connect("disconnected", lambda client, error: self.log.append(("disconnected",)))
        self.client.connect("reconnected",
                            lambda client, new_instance: self.log.append(("reconnected", new_instance)))
        self.client.connect("stop-reason-changed",
                            lambda client, reason: self.log.append(("reason", reason.props.kind)))
        self.client.connect_sync(None)

    def test_qemu_restarted(self):
        client = self.client
        self.assertEqual(client.get_stop_reason().props.kind, Qmp.StopKind.RUNNING)
        client.stop_sync(None)
        run_until(lambda: client.get_stop_reason().props.kind == Qmp.StopKind.PAUSED_BY_USER)

        # Frozen, QEMU answers nothing: the commands are in flight at the kill.
        results = []

        def done(client, result):
            try:
                client.execute_finish(result)
                results.append("ok")
            except GLib.Error as error:
                results.append(error)

        self.qemu.process.send_signal(19)  # SIGSTOP
        for _ in range(3):
            client.execute_async("query-status", None, None, done)
        spin(0.1)
        self.assertEqual(client.get_n_pending(), 3)
        del self.log[:]
        self.qemu.kill()
        run_until(lambda: len(results) == 3)
        for error in results:
            self.assertIsInstance(error, GLib.Error)
            self.assertTrue(error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CLOSED), error.message)
        run_until(lambda: ("disconnected",) in self.log)

        # The new QEMU runs: nobody paused it.
        self.qemu.restart()
        accepting = time.monotonic()
        run_until(lambda: any(entry[0] == "reconnected" for entry in self.log))
        print(f"from the new QEMU's socket accepting to reconnected: {(time.monotonic() - accepting) * 1000:.1f} ms")
        spin(0.1)
        self.assertEqual(len(results), 3)
        self.assertEqual(client.props.state, Qmp.ClientState.READY)
        self.assertIn(("reconnected", True), self.log)
        self.assertEqual(self.log.count(("disconnected",)), 1)
        self.assertEqual([e for e in self.log if e[0] == "reason"], [("reason", Qmp.StopKind.RUNNING)])
        # ::reconnected comes after the stop reason of the resync.
        self.assertLess(self.log.index(("reason", Qmp.StopKind.RUNNING)), self.log.index(("reconnected", True)))
        self.assertEqual(client.get_stop_reason().props.kind, Qmp.StopKind.RUNNING)
        self.assertTrue(client.query_status_sync(None).props.running)

        # Closed by us: no more attempts.
        client.close_sync(None)
        self.qemu.kill()
        del self.log[:]
        spin(1.5)
        self.assertEqual(client.props.state, Qmp.ClientState.CLOSED)
        self.assertNotIn("reconnected", [entry[0] for entry in self.log])


if __name__ == "__main__":
    require_qemu()
    unittest.main(verbosity=2)
