#!/usr/bin/env bash
# Boots a real QEMU (TCG: no KVM needed), follows it with the qmp-status
# example and drives it from Python through gi.repository.Qmp: pause,
# resume, then quit. Usage: examples/run-demo.sh [BUILD_DIR]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/_build}" && pwd)
work=$(mktemp -d -t qmpthin-demo-XXXXXX)
qemu_pid=""
status_pid=""

cleanup() {
  # Only the processes this script started.
  [ -n "$status_pid" ] && kill "$status_pid" 2>/dev/null || true
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Booting QEMU (TCG) with two QMP monitors"
# A QMP monitor serves one client at a time: one for the watcher, one for
# the agent.
qemu-system-x86_64 -nodefaults -no-user-config -display none \
  -machine pc,accel=tcg -m 32 -S \
  -chardev "socket,id=watch,path=$work/watch.sock,server=on,wait=off" -mon chardev=watch,mode=control \
  -chardev "socket,id=agent,path=$work/agent.sock,server=on,wait=off" -mon chardev=agent,mode=control \
  >"$work/qemu.log" 2>&1 &
qemu_pid=$!
for _ in $(seq 100); do
  [ -S "$work/agent.sock" ] && [ -S "$work/watch.sock" ] && break
  sleep 0.05
done

step "Watching events with examples/qmp-status (C)"
"$build/examples/qmp-status" "unix:$work/watch.sock" >"$work/watch.log" 2>&1 &
status_pid=$!
for _ in $(seq 100); do
  grep -q '^status:' "$work/watch.log" 2>/dev/null && break
  sleep 0.05
done
cat "$work/watch.log"

step "Driving the VM from Python (gi.repository.Qmp)"
GI_TYPELIB_PATH="$build/bindings${GI_TYPELIB_PATH:+:$GI_TYPELIB_PATH}" \
LD_LIBRARY_PATH="$build/libqmpthin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
/usr/bin/python3 - "unix:$work/agent.sock" <<'PY'
import sys
import gi
gi.require_version("Qmp", "1.0")
from gi.repository import Qmp

client = Qmp.Client.new(sys.argv[1])
client.connect_sync(None)
print(f"agent: connected to QEMU {client.props.qemu_version}")
for action in ("cont", "stop", "cont"):
    getattr(client, f"{action}_sync")(None)
    info = client.query_status_sync(None)
    print(f"agent: {action:<4} -> {info.props.status_string}")
print("agent: quit")
try:
    client.execute_sync("quit", None, None)
except Exception as error:  # QEMU may close before its reply
    print(f"agent: quit: {error}")
PY

wait "$qemu_pid" || true
qemu_pid=""
for _ in $(seq 100); do
  kill -0 "$status_pid" 2>/dev/null || break
  sleep 0.05
done
status_pid=""

step "What the watcher saw"
cat "$work/watch.log"
for event in RESUME STOP SHUTDOWN; do
  if ! grep -q "\"event\":\"$event\"" "$work/watch.log"; then
    echo "demo: the watcher did not see $event" >&2
    exit 1
  fi
done
step "Done: every event arrived, in order"
