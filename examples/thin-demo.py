#!/usr/bin/python3
# thin-demo.py: a real VM on a thin disk, kept running by thin-agent.py.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Boots QEMU (TCG: no KVM needed) with a 512-byte guest that writes its
# whole data disk, a qcow2 image of DISK_MIB on storage that starts at
# START_MIB. thin-agent.py grows the storage as the guest writes. Midway
# the demo kills the agent (SIGKILL): the VM soon pauses for lack of space
# with nobody to help, and the restarted agent learns from resync what it
# missed, extends and resumes the VM. At the end every byte is checked.
#
#   thin-demo.py --guest _build/tests/integration/guest/boot.bin
#
# (scripts/demo builds everything and runs it so.) Exit status 0 when the
# guest wrote its disk and every byte is there, 77 when QEMU is not
# installed, 1 on any failure.

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import gi

gi.require_version("Qmp", "1.0")
from gi.repository import GLib, Qmp  # noqa: E402

MiB = 1024 * 1024
DISK_MIB = 256
START_MIB = 4
CHUNK_MIB = 16
HERE = os.path.dirname(os.path.abspath(__file__))


class DemoFailed(Exception):
    pass


class Demo:
    def __init__(self, args):
        self.args = args
        self.start = time.monotonic()
        self.dir = tempfile.mkdtemp(prefix="qmpthin-demo-")
        self.qemu = None
        self.agent = None
        self.agent_buffer = b""
        self.agent_runs = 0
        self.agent_lines = []
        self.client = None
        self.pauses = []          # [start, end or None, kind]
        self.reported_mib = -1
        self.done = False
        self.tty = sys.stdout.isatty()
        # A library informs through signals and errors: anything it logs
        # above debug level in this process is a bug, and fails the demo.
        self.library_messages = []
        levels = (GLib.LogLevelFlags.LEVEL_CRITICAL | GLib.LogLevelFlags.LEVEL_WARNING
                  | GLib.LogLevelFlags.LEVEL_MESSAGE | GLib.LogLevelFlags.FLAG_FATAL
                  | GLib.LogLevelFlags.FLAG_RECURSION)
        GLib.log_set_handler("Qmp", levels,
                             lambda domain, level, message, _: self.library_messages.append(message), None)

    def tool(self, name):
        """qemu-img, qemu-io: of the same release as the QEMU in use (one
        unpacked beside the system's brings its own), else from PATH."""
        sibling = os.path.join(os.path.dirname(shutil.which(self.args.qemu) or ""), name)
        return sibling if os.access(sibling, os.X_OK) else name

    # Output: one timeline, every line stamped with the time since the start.
    def say(self, who, text):
        stamp = f"{time.monotonic() - self.start:7.2f}s"
        if self.tty:
            colours = {"demo": "1", "agent": "36", "guest": "33", "qemu": "35"}
            who_text = f"\033[{colours.get(who, '0')}m{who:<5}\033[0m"
        else:
            who_text = f"{who:<5}"
        print(f"{stamp}  {who_text}  {text}", flush=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def tool_env(self):
        env = dict(os.environ)
        for name in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS"):
            env.pop(name, None)
        return env

    # The VM.
    def make_disks(self):
        subprocess.run([self.tool("qemu-img"), "create", "-q", "-f", "qcow2", self.path("data.qcow2"), f"{DISK_MIB}M"],
                       check=True, env=self.tool_env())
        # The file is as big as the storage can ever get; the raw node's
        # size= is the storage as it is now.
        os.truncate(self.path("data.qcow2"), (DISK_MIB + 32) * MiB)
        shutil.copyfile(self.args.guest, self.path("boot.img"))
        os.truncate(self.path("boot.img"), MiB)

    def start_qemu(self):
        argv = [
            self.args.qemu, "-nodefaults", "-no-user-config", "-display", "none",
            "-machine", "pc,accel=tcg", "-m", "32", "-S", "-serial", f"file:{self.path('serial.log')}",
            "-chardev", f"socket,id=agent,path={self.path('agent.sock')},server=on,wait=off",
            "-mon", "chardev=agent,mode=control",
            "-chardev", f"socket,id=demo,path={self.path('demo.sock')},server=on,wait=off",
            "-mon", "chardev=demo,mode=control",
            "-blockdev", f"driver=file,node-name=boot-file,filename={self.path('boot.img')}",
            "-blockdev", "driver=raw,node-name=boot-fmt,file=boot-file",
            "-device", "ide-hd,bus=ide.0,unit=0,drive=boot-fmt,id=bootdisk,bootindex=0",
            "-blockdev", f"driver=file,node-name=data-file,filename={self.path('data.qcow2')}",
            "-blockdev", f"driver=raw,node-name=data-lim,file=data-file,size={START_MIB * MiB}",
            "-blockdev", "driver=qcow2,node-name=data-fmt,file=data-lim",
            "-device", "virtio-blk-pci,drive=data-fmt,id=datadisk,werror=enospc,rerror=stop",
        ]
        with open(self.path("qemu.log"), "wb") as log:
            self.qemu = subprocess.Popen(argv, stdout=log, stderr=log, env=self.tool_env())
        self.wait(lambda: os.path.exists(self.path("demo.sock")) and os.path.exists(self.path("agent.sock")),
                  10, "QEMU did not open its monitors")
        self.say("qemu", f"started (pid {self.qemu.pid}): a {DISK_MIB} MiB thin disk on {START_MIB} MiB "
                         f"of storage, paused before boot")

    # The agent, a separate process, as it would be on a host.
    def start_agent(self):
        self.agent_runs += 1
        argv = [sys.executable, os.path.join(HERE, "thin-agent.py"),
                "--qmp", "unix:" + self.path("agent.sock"),
                "--disk", f"data-file:data-lim:{START_MIB}M:{DISK_MIB + 32}M",
                "--chunk", f"{CHUNK_MIB}M", "--free", "50",
                "--extend-delay", str(self.args.extend_delay), "--sizing", self.args.sizing,
                "--state", self.path("agent-state.json")]
        self.agent = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.agent_buffer = b""
        GLib.io_add_watch(self.agent.stdout.fileno(), GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP,
                          self.on_agent_output, self.agent)
        self.say("demo", f"agent started (pid {self.agent.pid})")

    def on_agent_output(self, fd, condition, agent):
        data = os.read(fd, 65536) if condition & GLib.IO_IN else b""
        if agent is not self.agent:
            return GLib.SOURCE_REMOVE
        self.agent_buffer += data
        *lines, self.agent_buffer = self.agent_buffer.split(b"\n")
        for line in lines:
            text = line.decode(errors="replace")
            self.agent_lines.append(text)
            self.say("agent", text)
        return GLib.SOURCE_CONTINUE if data else GLib.SOURCE_REMOVE

    # What the demo sees through its own monitor.
    def on_stop_reason(self, client, reason):
        now = time.monotonic()
        if reason.props.kind == Qmp.StopKind.NOSPACE:
            if not self.pauses or self.pauses[-1][1] is not None:
                self.pauses.append([now, None])
        elif self.pauses and self.pauses[-1][1] is None:
            self.pauses[-1][1] = now

    def written_mib(self):
        try:
            with open(self.path("serial.log"), errors="replace") as log:
                text = log.read()
        except FileNotFoundError:
            return 0, False
        lbas = re.findall(r"W ([0-9A-Fa-f]{8})", text)
        done = "DONE" in text
        return (DISK_MIB if done else (int(lbas[-1], 16) * 512 // MiB if lbas else 0)), done

    def progress(self):
        mib, self.done = self.written_mib()
        step = 32
        if mib // step != self.reported_mib // step or (self.done and self.reported_mib != mib):
            bar = "#" * (mib * 30 // DISK_MIB)
            self.say("guest", f"[{bar:<30}] {mib:3} of {DISK_MIB} MiB written")
            self.reported_mib = mib
        return GLib.SOURCE_CONTINUE

    def wait(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        context = GLib.MainContext.default()
        timer = GLib.timeout_add(20, lambda: GLib.SOURCE_CONTINUE)
        try:
            while not predicate():
                if time.monotonic() > deadline:
                    raise DemoFailed(what)
                if self.qemu is not None and self.qemu.poll() is not None:
                    raise DemoFailed(f"QEMU exited: {open(self.path('qemu.log')).read()}")
                context.iteration(True)
        finally:
            GLib.source_remove(timer)

    def run(self):
        self.say("demo", f"work directory {self.dir}")
        self.make_disks()
        self.start_qemu()
        self.client = Qmp.Client.new("unix:" + self.path("demo.sock"))
        self.client.connect("stop-reason-changed", self.on_stop_reason)
        self.client.connect_sync(None)

        self.start_agent()
        self.wait(lambda: any(line.startswith("connected") for line in self.agent_lines), 20,
                  "the agent did not connect")
        self.say("demo", "booting the guest")
        self.client.cont_sync(None)
        GLib.timeout_add(100, self.progress)

        # A third of the way: the agent dies.
        self.wait(lambda: self.written_mib()[0] >= DISK_MIB // 3, 120, "the guest does not write")
        self.say("demo", "killing the agent (SIGKILL): nobody will extend the storage now")
        self.agent.kill()
        self.agent.wait()
        self.wait(lambda: self.client.get_stop_reason().props.kind == Qmp.StopKind.NOSPACE, 60,
                  "the VM did not run out of space without its agent")
        self.say("qemu", "VM paused: no space left on the data disk, and no agent")
        deadline = time.monotonic() + 1.5
        self.wait(lambda: time.monotonic() > deadline, 5, "")
        self.say("demo", "starting the agent again: it must find out what happened while it was away")
        self.start_agent()

        self.wait(lambda: self.done, 180, "the guest did not finish writing its disk")
        self.progress()
        self.say("guest", "finished writing its disk")
        self.agent.send_signal(signal.SIGTERM)
        self.wait(lambda: self.agent.poll() is not None, 10, "the agent did not stop")
        # Its last words, if they are still in the pipe.
        self.on_agent_output(self.agent.stdout.fileno(), GLib.IO_IN, self.agent)
        if self.agent.returncode != 0:
            raise DemoFailed(f"the agent exited with status {self.agent.returncode}")

        try:
            self.client.execute_sync("quit", None, None)
        except GLib.Error:
            pass  # QEMU may close before its reply
        self.qemu.wait(10)
        self.say("demo", "checking every byte of the disk")
        subprocess.run([self.tool("qemu-img"), "check", "-q", self.path("data.qcow2")], check=True,
                       env=self.tool_env())
        subprocess.run([self.tool("qemu-io"), "-f", "qcow2", "-r", "-c", f"read -P 0x5a 0 {DISK_MIB}M",
                        self.path("data.qcow2")], check=True, env=self.tool_env(), stdout=subprocess.DEVNULL)
        self.check_quiet()
        self.summary()

    def check_quiet(self):
        """The library printed nothing, in the agent (whose stderr is in
        its lines) or here, unless G_MESSAGES_DEBUG asked for it."""
        if os.environ.get("G_MESSAGES_DEBUG"):
            return
        printed = [line for line in self.agent_lines if re.search(r"\bQmp-[A-Z]", line)]
        printed += [f"(demo) {message}" for message in self.library_messages]
        if printed:
            raise DemoFailed("the library printed on its own: " + " | ".join(printed))

    def summary(self):
        grown = [line for line in self.agent_lines if line.startswith("storage grown")]
        final = re.search(r"is (\d+) MiB", grown[-1]).group(1) if grown else START_MIB
        derived = [line for line in self.agent_lines if "away" in line or "found on connecting" in line]
        paused = sum((end or time.monotonic()) - start for start, end in self.pauses)
        print()
        print(f"  {DISK_MIB} MiB written by the guest and verified, byte for byte")
        print(f"  storage grown {len(grown)} times, from {START_MIB} MiB to {final} MiB, "
              f"in chunks of {CHUNK_MIB} MiB")
        print(f"  ENOSPC pauses: {len(self.pauses)}, {paused:.2f} s paused in all "
              f"(the agent was dead during one)")
        print(f"  the restarted agent learned {len(derived)} things from resync: "
              + "; ".join(line.split(": ", 1)[0] for line in derived))
        print(f"  agent runs: {self.agent_runs}; elapsed {time.monotonic() - self.start:.1f} s")
        # What the library measured in the agent's last run.
        timing = [line for line in self.agent_lines if line.startswith("timing (")]
        if timing:
            head, _, rest = timing[-1].partition(": ")
            print(f"  {head}, the agent's last run:")
            for part in rest.split("; "):
                print(f"    {part}")
        if not derived:
            raise DemoFailed("the restarted agent derived nothing")

    def cleanup(self):
        for process in (self.agent, self.qemu):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        if self.agent is not None and self.agent.stdout is not None:
            self.agent.stdout.close()
        if self.client is not None:
            self.client.close_sync(None)
        shutil.rmtree(self.dir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description="A VM on a thin disk, kept running by thin-agent.py.")
    parser.add_argument("--guest", required=True, help="the boot-sector guest (boot.bin)")
    parser.add_argument("--qemu", default=os.environ.get("QMP_TEST_QEMU") or shutil.which("qemu-system-x86_64")
                        or "qemu-system-x86_64")
    parser.add_argument("--extend-delay", type=int, default=50, metavar="MS",
                        help="how long each extension takes (default 50)")
    parser.add_argument("--sizing", choices=("fixed", "adaptive"), default="fixed",
                        help="how the agent sizes extensions (default fixed: one chunk each)")
    args = parser.parse_args()
    for tool in (args.qemu, "qemu-img", "qemu-io"):
        if shutil.which(tool) is None and not os.access(
                os.path.join(os.path.dirname(shutil.which(args.qemu) or ""), tool), os.X_OK):
            print(f"thin-demo: {tool} not found: install qemu-system-x86 and qemu-utils",
                  file=sys.stderr)
            return 77
    demo = Demo(args)
    try:
        demo.run()
    except (DemoFailed, subprocess.CalledProcessError, GLib.Error) as error:
        demo.say("demo", f"FAILED: {error}")
        return 1
    finally:
        demo.cleanup()
    print("\nDemo finished: the VM never lost a byte.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
