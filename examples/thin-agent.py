#!/usr/bin/python3
# thin-agent.py: a thin-provisioning host agent in the small, on
# gi.repository.Qmp and Qmp.ThinMonitor.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# One VM, a map of its disks to their storage, a chunk policy: the agent
# keeps the VM running by growing each disk's storage before it fills up,
# and resumes the VM when it paused because one did. It persists what it
# armed and how big each storage is, so that when it is restarted it learns
# what happened while it was away (the client's resync derives it).
#
#   thin-agent.py --qmp unix:/run/vm1/qmp.sock \
#                 --disk vda-file:vda-lim:2G:20G --chunk 1G --state /var/lib/agent/vm1.json \
#                 --storage snap1-file:snap1-lim:1G:20G
#
# The monitor follows each disk through snapshots, commits and mirrors: a
# --storage is storage made for a node that is not in the graph yet (the
# overlay of a snapshot to come, a mirror's target); when the disk moves
# there, or the node becomes a replica a job writes, the agent grows it
# too. Every 2 s (--poll) the monitor also reads every disk's allocation,
# in case a threshold event was lost.
#
# Here the "storage" of a disk is a raw node with size= over its file
# node, grown with blockdev-reopen: QEMU then behaves as with a logical
# volume that an agent grows with lvextend. Replace Storage.grow() with
# your own.

import argparse
import json
import os
import signal
import sys
import time

import gi

gi.require_version("Qmp", "1.0")
from gi.repository import GLib, Qmp  # noqa: E402

MiB = 1024 * 1024
UNITS = {"": 1, "K": 1024, "M": MiB, "G": 1024 * MiB, "T": 1024 * 1024 * MiB}


def parse_size(text):
    """4096, 512K, 64M, 2G."""
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = text[-1] if text and text[-1] in UNITS else ""
    return int(text[:-1] if unit else text) * UNITS[unit]


def size_text(size):
    return f"{size // MiB} MiB" if size % MiB == 0 else f"{size / MiB:.1f} MiB"


STOP_TEXT = {
    Qmp.StopKind.RUNNING: "VM running",
    Qmp.StopKind.NOSPACE: "VM paused: out of space",
    Qmp.StopKind.IO_ERROR: "VM paused: I/O error",
    Qmp.StopKind.PAUSED_BY_USER: "VM paused by a user (the agent leaves it alone)",
    Qmp.StopKind.PRELAUNCH: "VM not started yet",
    Qmp.StopKind.SHUTDOWN: "VM shut down",
    # Published at once for a STOP QEMU did not explain; the client asks
    # QEMU, and the reason follows.
    Qmp.StopKind.UNKNOWN: "VM paused (why: asking QEMU)",
}

SIZING = {"fixed": Qmp.ThinSizing.FIXED, "adaptive": Qmp.ThinSizing.ADAPTIVE}


class Storage:
    """The storage under one disk: the raw node LIMIT_NODE (size=) over
    the file node FILE_NODE, the node the monitor watches."""

    def __init__(self, client, file_node, limit_node, maximum):
        self.client = client
        self.file_node = file_node
        self.limit_node = limit_node
        self.maximum = maximum

    def grow(self, size):
        # blockdev-reopen resets what it is not told: every option again.
        self.client.execute_sync("blockdev-reopen", {"options": [{
            "driver": "raw", "node-name": self.limit_node, "file": self.file_node, "size": size}]})


class Agent:
    def __init__(self, args):
        self.args = args
        self.loop = GLib.MainLoop()
        self.state = self.load_state()
        self.client = Qmp.Client.new(args.qmp)
        self.client.props.auto_reconnect = True
        self.monitor = None
        self.storage = {}
        self.pending = {}       # node -> size being grown
        self.extensions = 0

    # Persistence: what a restarted agent needs to know.
    def load_state(self):
        try:
            with open(self.args.state) as f:
                return json.load(f)
        except FileNotFoundError:
            return {"disks": {}}

    def save_state(self):
        for disk in self.monitor.list_disks():
            self.state["disks"][disk.props.node_name] = {
                "physical-size": disk.props.physical_size,
                "threshold": disk.props.threshold if disk.props.state == Qmp.ThinDiskState.ARMED else 0,
            }
        temporary = self.args.state + ".tmp"
        with open(temporary, "w") as f:
            json.dump(self.state, f)
        os.replace(temporary, self.args.state)

    def log(self, text):
        print(text, flush=True)

    # What QEMU tells.
    def on_threshold(self, client, event):
        how = "while the agent was away" if event.props.derived else f"at {size_text(event.props.end_offset)}"
        self.log(f"threshold crossed: {event.props.node_name} ({how})")

    def on_io_error(self, client, event):
        if event.props.nospace:
            when = " (found on connecting)" if event.props.derived else ""
            self.log(f"ENOSPC: {event.props.node_name} ran out of storage{when}")

    def on_stop_reason(self, client, reason):
        disks = ", ".join(reason.props.node_names)
        text = STOP_TEXT.get(reason.props.kind, f"VM paused ({Qmp.StopKind(reason.props.kind).value_nick})")
        self.log(text + (f" on {disks}" if disks else ""))

    def on_reconnected(self, client, new_instance):
        self.log("reconnected" + (" to a new QEMU" if new_instance else ""))

    # The graph: snapshots, commits and mirrors.
    def on_disk_moved(self, monitor, disk, previous_node):
        node = disk.props.node_name
        known = "" if node in self.storage else " (storage unknown to the agent: it cannot grow it)"
        self.log(f"disk moved: {previous_node} -> {node}, {size_text(disk.props.physical_size)} of storage{known}")
        self.save_state()

    def on_replica_added(self, monitor, replica):
        self.log(f"replica: job {replica.props.job} writes {replica.props.replica_of.props.node_name}'s data "
                 f"to {replica.props.node_name} too, {size_text(replica.props.physical_size)} of storage")

    def on_replica_removed(self, monitor, replica):
        self.log(f"replica {replica.props.node_name}: job {replica.props.job} ended")

    def on_paused_too_long(self, monitor, reason):
        self.log(f"VM paused for more than {monitor.props.pause_limit // 1000} s "
                 f"({Qmp.StopKind(reason.props.kind).value_nick}): needs a human")

    def on_error(self, monitor, disk, error):
        self.log(f"monitor error{' on ' + disk.props.node_name if disk else ''}: {error.message}")

    # The policy's requests.
    def on_extend_needed(self, monitor, disk, wanted, reason):
        node = disk.props.node_name
        storage = self.storage.get(node)
        if storage is None:
            self.log(f"extension requested: {node}, but the agent knows no storage for it")
            monitor.extend_failed(node, GLib.Error(f"no storage known for {node}", "thin-agent", 1))
            return
        size = min(wanted, storage.maximum)
        self.log(f"extension requested: {node} {size_text(disk.props.physical_size)} -> {size_text(size)} "
                 f"({Qmp.ExtendReason(reason).value_nick})")
        self.pending[node] = size
        if self.args.extend_delay:
            # A storage back end that takes its time, like lvextend.
            GLib.timeout_add(self.args.extend_delay, self.extend, node)
        else:
            self.extend(node)

    def extend(self, node):
        size = self.pending.pop(node)
        start = time.monotonic()
        try:
            self.storage[node].grow(size)
        except GLib.Error as error:
            self.log(f"growing {node} failed: {error.message}")
            self.monitor.extend_failed(node, error)
            return GLib.SOURCE_REMOVE
        self.extensions += 1
        self.log(f"storage grown: {node} is {size_text(size)} ({(time.monotonic() - start) * 1000:.1f} ms)")
        self.monitor.extended(node, size)
        self.save_state()
        return GLib.SOURCE_REMOVE

    def on_disk_state(self, disk, pspec):
        if disk.props.state == Qmp.ThinDiskState.ARMED:
            self.log(f"armed: {disk.props.node_name} at {size_text(disk.props.threshold)}")
            self.save_state()

    def on_resumed(self, monitor, pspec):
        self.log("VM resumed by the agent")

    def run(self):
        self.client.connect("block-write-threshold", self.on_threshold)
        self.client.connect("block-io-error", self.on_io_error)
        # Every reason, the one the connect finds included (notify::stop-reason;
        # stop-reason-changed leaves out the first one a client learns).
        self.client.connect("notify::stop-reason", lambda client, pspec: self.on_stop_reason(
            client, client.props.stop_reason))
        self.client.connect("reconnected", self.on_reconnected)
        self.monitor = Qmp.ThinMonitor.new(self.client)
        self.monitor.connect("extend-needed", self.on_extend_needed)
        self.monitor.connect("notify::n-resumes", self.on_resumed)
        self.monitor.connect("disk-moved", self.on_disk_moved)
        self.monitor.connect("replica-added", self.on_replica_added)
        self.monitor.connect("replica-removed", self.on_replica_removed)
        self.monitor.connect("paused-too-long", self.on_paused_too_long)
        self.monitor.connect("error", self.on_error)
        self.monitor.connect("notify::n-job-resumes",
                             lambda monitor, pspec: self.log("block job resumed: its target has room again"))
        self.monitor.props.poll_interval = self.args.poll
        self.monitor.props.pause_limit = self.args.pause_limit * 1000
        self.monitor.props.io_error_policy = (Qmp.IoErrorPolicy.RETRY if self.args.io_errors == "retry"
                                              else Qmp.IoErrorPolicy.LEAVE_PAUSED)
        for spec in self.args.storage:
            file_node, limit_node, size, maximum = spec.split(":")
            physical = self.state["disks"].get(file_node, {}).get("physical-size") or parse_size(size)
            self.storage[file_node] = Storage(self.client, file_node, limit_node, parse_size(maximum))
            self.monitor.declare_storage(file_node, physical)
        for spec in self.args.disk:
            file_node, limit_node, size, maximum = spec.split(":")
            known = self.state["disks"].get(file_node, {})
            physical = known.get("physical-size") or parse_size(size)
            if known.get("threshold"):
                # Armed by the previous run: if it fired meanwhile, resync says so.
                self.client.declare_write_threshold(file_node, known["threshold"])
            self.storage[file_node] = Storage(self.client, file_node, limit_node, parse_size(maximum))
            disk = self.monitor.add_disk(file_node, physical, self.args.chunk, self.args.free)
            disk.set_maximum_size(parse_size(maximum))
            disk.set_sizing(SIZING[self.args.sizing])
            disk.connect("notify::state", self.on_disk_state)
            self.log(f"watching {file_node}: {size_text(physical)} of storage, "
                     f"chunk {size_text(self.args.chunk)}, {self.args.free}% free at the threshold"
                     + (" (state from the previous run)" if known else ""))

        self.client.connect_sync(None)
        self.log(f"connected to QEMU {self.client.props.qemu_version}")
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, self.stop)
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, self.stop)
        self.loop.run()

        self.log(f"stopping; this run: {self.extensions} extension(s), "
                 f"{self.monitor.props.n_nospace_pauses} ENOSPC pause(s) seen "
                 f"({self.monitor.get_nospace_paused_usec() / 1000:.0f} ms), "
                 f"{self.monitor.props.n_resumes} resume(s)")
        self.log_timing()
        self.client.close_sync(None)
        return 0

    def log_timing(self):
        """What the monitor measured this run, as plain numbers."""
        parts = []
        for phase, text in ((Qmp.ThinPhase.NOTICE, "threshold to request"),
                            (Qmp.ThinPhase.EXTEND, "request to grown"),
                            (Qmp.ThinPhase.REARM, "grown to re-armed"),
                            (Qmp.ThinPhase.PAUSE, "ENOSPC pause")):
            timing = self.monitor.get_timing(phase)
            parts.append(f"{text} {timing.props.count}x mean {timing.props.mean_usec / 1000:.1f} ms "
                         f"max {timing.props.max_usec / 1000:.1f} ms")
        rates = ", ".join(f"{disk.props.node_name} {disk.props.write_rate / MiB:.1f} MiB/s"
                          for disk in self.monitor.list_disks())
        self.log(f"timing ({self.args.sizing} sizing): " + "; ".join(parts) + f"; write rate {rates}")

    def stop(self):
        self.loop.quit()
        return GLib.SOURCE_REMOVE


def main():
    parser = argparse.ArgumentParser(description="Keep a VM's thin disks big enough.")
    parser.add_argument("--qmp", required=True, help="QEMU's QMP address: unix:PATH or tcp:HOST:PORT")
    parser.add_argument("--disk", action="append", required=True,
                        metavar="FILE_NODE:LIMIT_NODE:SIZE:MAXIMUM",
                        help="a disk: the watched node, the raw node whose size= limits it, "
                             "the storage's size now and at most (repeat for more disks)")
    parser.add_argument("--storage", action="append", default=[],
                        metavar="FILE_NODE:LIMIT_NODE:SIZE:MAXIMUM",
                        help="storage for a node not in the graph yet: a snapshot's overlay, a mirror's "
                             "target (repeat for more)")
    parser.add_argument("--chunk", type=parse_size, default=2560 * MiB,
                        help="how much one extension adds (default 2560M)")
    parser.add_argument("--free", type=int, default=Qmp.THIN_DEFAULT_FREE_PERCENT,
                        help="percent of a chunk still free when the threshold fires (default 20)")
    parser.add_argument("--state", required=True, help="where to persist sizes and thresholds")
    parser.add_argument("--sizing", choices=sorted(SIZING), default="fixed",
                        help="fixed: every extension is a chunk; adaptive: sized from the measured "
                             "write rate and extension time (default fixed)")
    parser.add_argument("--extend-delay", type=int, default=0, metavar="MS",
                        help="make each extension take this long (a slow storage back end)")
    parser.add_argument("--poll", type=int, default=2000, metavar="MS",
                        help="read every disk's allocation this often, in case an event was lost "
                             "(default 2000; 0: never)")
    parser.add_argument("--pause-limit", type=int, default=60, metavar="SECONDS",
                        help="say so when the VM stays paused on an error this long (default 60; 0: never)")
    parser.add_argument("--io-errors", choices=("leave-paused", "retry"), default="leave-paused",
                        help="a VM paused on an I/O error other than ENOSPC: leave it (default), "
                             "or retry cont with backoff")
    return Agent(parser.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
