#!/usr/bin/python3
# test_overrides.py: the Pythonic layer over gi.repository.Qmp (plain
# values in and out, event data as dicts, QEMU's error classes), against a
# real QEMU.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import json
import os
import socket
import sys
import tempfile
import threading
import time
import unittest

import gi

gi.require_version("Qmp", "1.0")
gi.require_version("Json", "1.0")
from gi.repository import Gio, GLib, Json, Qmp  # noqa: E402

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

        # Its repr shows the class and the text.
        self.assertEqual(repr(caught.exception), "Qmp.QemuError('GenericError', \"Device 'nosuch' not found\")")

        # Not QEMU's: the library's own classes, which Python knows how to
        # catch too.
        self.client.close_sync(None)
        with self.assertRaises(ConnectionError) as caught:
            self.client.execute_sync("query-status")
        self.assertIsInstance(caught.exception, Qmp.NotConnectedError)
        self.assertIsInstance(caught.exception, Qmp.ClientError)
        self.assertIsInstance(caught.exception, GLib.Error)
        self.assertNotIsInstance(caught.exception, Qmp.QemuError)
        self.assertTrue(caught.exception.matches(Qmp.error_quark(), Qmp.Error.NOT_CONNECTED))
        self.assertTrue(repr(caught.exception).startswith("Qmp.NotConnectedError('Cannot execute"))

    def test_timeout_and_closed(self):
        # A stopped QEMU answers nothing: the call times out.
        self.qemu.process.send_signal(19)  # SIGSTOP, to this QEMU's own PID
        try:
            with self.assertRaises(TimeoutError) as caught:
                self.client.execute_full_sync("query-status", None, 200)
            self.assertIsInstance(caught.exception, Qmp.TimeoutError)
            self.assertTrue(caught.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT))
            # The connection ends with a call in flight: closed.
            results = []
            self.client.execute("query-status", callback=lambda client, value, error: results.append(error))
            self.client.close_sync(None)
            run_until(lambda: results)
            self.assertIsInstance(results[0], ConnectionError)
            self.assertIsInstance(results[0], Qmp.ConnectionClosedError)
        finally:
            self.qemu.process.send_signal(18)  # SIGCONT

    def test_liveness(self):
        # The property, its setter and getter, the notification and the
        # signal, through GI; a stopped QEMU is found silent, and answers
        # again once it goes on.
        self.assertEqual(self.client.props.liveness_interval, 0)
        self.assertTrue(self.client.props.responsive)
        self.assertTrue(self.client.get_responsive())
        self.client.props.liveness_interval = 5000
        self.assertEqual(self.client.get_liveness_interval(), 5000)
        self.client.set_liveness_interval(200)
        self.assertEqual(self.client.props.liveness_interval, 200)
        notified, changes = [], []
        self.client.connect("notify::responsive", lambda client, pspec: notified.append(client.props.responsive))
        self.client.connect("responsive-changed", lambda client, responsive: changes.append(responsive))
        self.qemu.process.send_signal(19)  # SIGSTOP, to this QEMU's own PID
        try:
            run_until(lambda: changes, timeout=30)
        finally:
            self.qemu.process.send_signal(18)  # SIGCONT
        run_until(lambda: len(changes) == 2, timeout=30)
        self.assertEqual(changes, [False, True])
        self.assertEqual(notified, [False, True])
        self.assertEqual(self.client.execute_sync("query-status")["status"], "running")

    def test_connect_errors(self):
        client = Qmp.Client.new(os.path.join(self.qemu.dir, "nosuch.sock"))
        with self.assertRaises(FileNotFoundError) as caught:
            client.connect_sync(None)
        self.assertIsInstance(caught.exception, Qmp.SocketNotFoundError)
        self.assertIn("is QEMU running?", str(caught.exception))
        # A GLib.Error a signal passes becomes the same exception.
        plain = GLib.Error(caught.exception.message, caught.exception.domain, caught.exception.code)
        self.assertIsInstance(Qmp.error_from(plain), Qmp.SocketNotFoundError)

    def test_json_as_dicts(self):
        blocks = self.client.query_named_block_nodes_sync(None)
        node = [b for b in blocks if b.get_node_name() == "disk0"][0]
        self.assertIsInstance(node.get_json(), dict)
        self.assertEqual(node.json["node-name"], "disk0")
        status = self.client.query_status_sync(None)
        self.assertEqual(status.get_json()["status"], "running")
        reason = self.client.props.stop_reason
        self.assertEqual(reason.disks, [])
        # Read from QEMU's state by the connect's resync: derived.
        self.assertEqual(repr(reason), "<Qmp.StopReason running (running), derived>")

    def test_connect_sync_then_async(self):
        """An async call made by a handler while connect_sync() runs
        completes once the main loop runs (the library used to lose it)."""
        client = Qmp.Client.new(self.qemu.address)
        results = []

        def on_state(client, pspec):
            if client.props.state == Qmp.ClientState.READY:
                client.execute("query-status", callback=lambda client, value, error: results.append(value))

        self.client.close_sync(None)
        client.connect("notify::state", on_state)
        client.connect_sync(None)
        run_until(lambda: results)
        self.assertEqual(results[0]["status"], "running")
        client.close_sync(None)

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
        self.assertEqual(threshold.get_data(), threshold.data)
        self.assertIn("BLOCK_WRITE_THRESHOLD", repr(threshold))


class FakeQemu(threading.Thread):
    """A scripted QMP server on a UNIX socket, one connection: QEMU 7.2's
    greeting, and the replies given."""

    def __init__(self, replies):
        super().__init__(daemon=True)
        self.dir = tempfile.mkdtemp(prefix="qmpthin-fake-py-")
        self.path = os.path.join(self.dir, "qmp.sock")
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.replies = replies
        self.start()

    def run(self):
        connection, _ = self.listener.accept()
        with connection, connection.makefile("r") as lines:
            connection.sendall(b'{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, '
                               b'"package": ""}, "capabilities": ["oob"]}}\r\n')
            for line in lines:
                request = json.loads(line)
                reply = self.replies.get(request["execute"], {"return": {}})
                connection.sendall((json.dumps({**reply, "id": request["id"]}) + "\r\n").encode())

    def close(self):
        self.listener.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


class UnknownClassTest(unittest.TestCase):
    def test_unknown_class(self):
        """An error class this version does not know keeps its name in
        Python, as in C."""
        server = FakeQemu({
            "query-status": {"return": {"status": "running", "running": True}},
            "future": {"error": {"class": "BrandNewClass", "desc": "From a QEMU of the future"}},
        })
        self.addCleanup(server.close)
        client = Qmp.Client.new("unix:" + server.path)
        client.connect_sync(None)
        self.addCleanup(client.close_sync, None)
        with self.assertRaises(Qmp.QemuError) as caught:
            client.execute_sync("future")
        error = caught.exception
        self.assertEqual(error.code, Qmp.CommandError.UNKNOWN)
        self.assertEqual(error.class_name, "BrandNewClass")
        self.assertEqual(error.description, "From a QEMU of the future")
        self.assertEqual(str(error), "BrandNewClass: From a QEMU of the future")


if __name__ == "__main__":
    require_qemu()
    unittest.main(verbosity=2)
