#!/usr/bin/env bash
# Boots a real QEMU (TCG: no KVM needed, no disks), follows it with the
# qmp-status example (C) and drives it from Python through
# gi.repository.Qmp: resume, pause, resume, quit. Exits 0 when the example
# printed RESUME, STOP, RESUME and SHUTDOWN, in that order, and then ended
# cleanly.
#
# Usage: examples/run-demo.sh [BUILD_DIR]   (default: _build)
# $QEMU overrides the emulator (default: qemu-system-x86_64 in PATH).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build_arg=${1:-$top/_build}
qemu=${QEMU:-qemu-system-x86_64}

die() { echo "run-demo: $*" >&2; exit 1; }

[ -d "$build_arg" ] || die "no build directory $build_arg (meson setup $build_arg && ninja -C $build_arg)"
build=$(cd "$build_arg" && pwd)
[ -x "$build/examples/qmp-status" ] || die "$build/examples/qmp-status is not built"
[ -f "$build/bindings/Qmp-1.0.typelib" ] || die "$build has no Qmp-1.0.typelib (introspection is needed)"
command -v "$qemu" >/dev/null || die "$qemu is not installed"

work=$(mktemp -d -t qmpthin-demo-XXXXXX)
qemu_pid=""
watch_pid=""

# Stops only the processes this script started, then removes their files.
cleanup() {
  local pid
  for pid in $watch_pid $qemu_pid; do
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

if [ -t 1 ]; then
  step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  step() { printf '\n== %s\n' "$*"; }
fi

# Waits up to 10 s for a command to succeed.
wait_for() {
  for _ in $(seq 200); do
    "$@" && return 0
    sleep 0.05
  done
  return 1
}

step "Booting QEMU (TCG, no disks, paused) with two QMP monitors"
# A QMP monitor serves one client at a time: one monitor for the watcher,
# one for the manager.
"$qemu" -nodefaults -no-user-config -display none \
  -machine pc -accel tcg -m 32 -S \
  -chardev "socket,id=watch,path=$work/watch.sock,server=on,wait=off" -mon chardev=watch,mode=control \
  -chardev "socket,id=ctl,path=$work/ctl.sock,server=on,wait=off" -mon chardev=ctl,mode=control \
  >"$work/qemu.log" 2>&1 &
qemu_pid=$!
sockets_ready() { [ -S "$work/watch.sock" ] && [ -S "$work/ctl.sock" ]; }
if ! wait_for sockets_ready; then
  cat "$work/qemu.log" >&2
  die "QEMU did not open its monitors"
fi
echo "QEMU pid $qemu_pid, monitors in $work"

step "Watcher: examples/qmp-status (C) on the first monitor"
"$build/examples/qmp-status" "unix:$work/watch.sock" >"$work/watch.log" 2>"$work/watch.err" &
watch_pid=$!
watcher_ready() { grep -q '^status:' "$work/watch.log"; }
if ! wait_for watcher_ready; then
  cat "$work/watch.log" "$work/watch.err" >&2
  die "the watcher did not start"
fi
sed 's/^/  watcher | /' "$work/watch.log"

step "Manager: Python (gi.repository.Qmp) on the second monitor"
GI_TYPELIB_PATH="$build/bindings${GI_TYPELIB_PATH:+:$GI_TYPELIB_PATH}" \
LD_LIBRARY_PATH="$build/libqmpthin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
/usr/bin/python3 - "unix:$work/ctl.sock" <<'PY'
import sys

import gi
gi.require_version("Qmp", "1.0")
from gi.repository import Gio, GLib, Qmp

client = Qmp.Client.new(sys.argv[1])
client.connect_sync(None)
print(f"  manager | connected to QEMU {client.props.qemu_version}")
for action in ("cont", "stop", "cont"):
    getattr(client, f"{action}_sync")(None)
    info = client.query_status_sync(None)
    print(f"  manager | {action:<4} -> {info.props.status_string}")
try:
    client.execute_sync("quit", None, None)
    print("  manager | quit -> {}")
except GLib.Error as error:
    # QEMU sends SHUTDOWN, then its reply, then closes: the reply can be lost.
    if not error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CLOSED):
        raise
    print(f"  manager | quit -> connection closed ({error.message})")
PY

step "QEMU exits, the watcher sees it go"
if ! wait "$qemu_pid"; then
  cat "$work/qemu.log" >&2
  die "QEMU did not exit cleanly"
fi
qemu_pid=""
watch_status=0
wait "$watch_pid" || watch_status=$?
watch_pid=""
sed 's/^/  watcher | /' "$work/watch.log" "$work/watch.err"
[ "$watch_status" -eq 0 ] || die "the watcher exited with status $watch_status"

# Event lines start with their ISO 8601 time; the name comes next.
seen=$(awk '/^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T/ { printf "%s%s", sep, $2; sep = " " }' "$work/watch.log")
expected="RESUME STOP RESUME SHUTDOWN"
[ "$seen" = "$expected" ] || die "the watcher saw \"$seen\", expected \"$expected\""
step "Done: the watcher saw $expected, in order, and ended cleanly"
