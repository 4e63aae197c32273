#!/bin/sh
# run.sh: libqmpthin against a bare C floor, as ratios measured in one run
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   bench/run.sh [BUILD_DIR]      (default: _build next to this directory)
#
# Builds nothing: it runs BUILD_DIR/bench/fake-qmp and qmpthin-bench.
# The client and its floor run alternately, REPEAT times each, against
# the same fake servers; the table gives the medians and the ratios to
# the targets. The environment may override the sizes (EVENTS, RTT,
# PIPELINE, WINDOW, VMS, ROUNDS, IDLE, REPEAT, LIVENESS, LIVENESS_IDLE). Exits 1 when a target is
# missed.
#
# The safety-net poll has no floor: VMS thin monitors poll every
# POLL_SLOW ms (vdsm's 2000) for POLL_SLOW_TICKS polls each, then every
# POLL_FAST ms for POLL_FAST_TICKS; each row gives the CPU time per VM
# per poll of the client and of the fake server, and the bytes, next to
# the idle baseline measured in the same run (the poll off, as long).
#
# Liveness has no floor either: VMS clients idle for LIVENESS_IDLE s with
# liveness off, then as long with liveness-interval LIVENESS ms; the row
# gives the CPU time per VM per second with it on, against off, and the
# probes.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../_build}
fake=$build/bench/fake-qmp
bench=$build/bench/qmpthin-bench
for program in "$fake" "$bench"; do
  if [ ! -x "$program" ]; then
    echo "run.sh: $program is missing: build first (ninja -C $build)" >&2
    exit 2
  fi
done

EVENTS=${EVENTS:-200000}
RTT=${RTT:-20000}
PIPELINE=${PIPELINE:-100000}
WINDOW=${WINDOW:-64}
VMS=${VMS:-1000}
ROUNDS=${ROUNDS:-20}
IDLE=${IDLE:-5}
REPEAT=${REPEAT:-5}
POLL_SLOW=${POLL_SLOW:-2000}
POLL_SLOW_TICKS=${POLL_SLOW_TICKS:-3}
POLL_FAST=${POLL_FAST:-100}
POLL_FAST_TICKS=${POLL_FAST_TICKS:-10}
LIVENESS=${LIVENESS:-2000}
LIVENESS_IDLE=${LIVENESS_IDLE:-10}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qmpthin-bench.XXXXXX")
pids=
cleanup() {
  for pid in $pids; do
    kill "$pid" 2>/dev/null || :
  done
  for pid in $pids; do
    wait "$pid" 2>/dev/null || :
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The fleet needs a socket per VM on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || :

wait_for() {
  i=0
  while [ ! -S "$1" ]; do
    i=$((i + 1))
    if [ $i -gt 300 ]; then
      echo "run.sh: $1 did not appear" >&2
      exit 1
    fi
    sleep 0.1
  done
}

"$fake" --socket "$tmp/qmp.sock" &
pids="$pids $!"
mkdir "$tmp/fleet"
"$fake" --fleet "$tmp/fleet" --vms "$VMS" &
pids="$pids $!"
wait_for "$tmp/qmp.sock"
wait_for "$tmp/fleet/control.sock"

results=$tmp/results.jsonl
run() {
  "$bench" "$@" >>"$results"
}

echo "libqmpthin vs floor: $(nproc) CPUs, $REPEAT runs each, client and floor alternating" >&2
for r in $(seq "$REPEAT"); do
  echo "  round $r/$REPEAT" >&2
  for b in events floor-events; do run "$b" --socket "$tmp/qmp.sock" --count "$EVENTS"; done
  for b in rtt floor-rtt; do run "$b" --socket "$tmp/qmp.sock" --count "$RTT"; done
  for b in pipeline floor-pipeline; do
    run "$b" --socket "$tmp/qmp.sock" --count "$PIPELINE" --window "$WINDOW"
  done
  for b in fleet floor-fleet; do
    run "$b" --dir "$tmp/fleet" --vms "$VMS" --rounds "$ROUNDS" --idle "$IDLE"
  done
  run poll --dir "$tmp/fleet" --vms "$VMS" --interval "$POLL_SLOW" --ticks "$POLL_SLOW_TICKS"
  run poll --dir "$tmp/fleet" --vms "$VMS" --interval "$POLL_FAST" --ticks "$POLL_FAST_TICKS"
  run liveness --dir "$tmp/fleet" --vms "$VMS" --interval "$LIVENESS" --idle "$LIVENESS_IDLE"
done

/usr/bin/python3 - "$results" <<'EOF'
import json
import statistics
import sys

runs = {}
polls = {}
liveness = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["bench"] == "poll":
        polls.setdefault(r["interval_ms"], []).append(r)
    elif r["bench"] == "liveness":
        liveness.append(r)
    else:
        runs.setdefault((r["bench"], r["impl"]), []).append(r)


def med(bench, impl, field):
    return statistics.median(r[field] for r in runs[(bench, impl)])


rows = []
failed = 0


def row(name, unit, client, floor, ratio, target, ok):
    """ok: True, False, or None for a figure with no target of its own."""
    global failed
    failed += ok is False
    rows.append((name, f"{client:,.1f} {unit}", f"{floor:,.1f} {unit}" if floor is not None else "-",
                 f"{ratio:.2f}x" if ratio is not None else "-", target,
                 {True: "met", False: "MISSED", None: ""}[ok]))


def higher(bench, field, unit, target, name):
    c, f = med(bench, "qmpthin", field), med(bench, "floor", field)
    row(name, unit, c, f, c / f, f">= {target}x floor", c / f >= target)


def lower(bench, field, unit, target, name, scale=1):
    c, f = med(bench, "qmpthin", field), med(bench, "floor", field)
    row(name, unit, c * scale, f * scale, c / f, f"<= {target}x floor", c / f <= target)


higher("events", "events_per_s", "ev/s", 0.8, "events")
growth = med("events", "qmpthin", "rss_peak_kib") - med("events", "qmpthin", "rss_before_kib")
fgrowth = med("events", "floor", "rss_peak_kib") - med("events", "floor", "rss_before_kib")
row("events: RSS growth", "KiB", growth, fgrowth, None, "flat (<= 4096 KiB)", growth <= 4096)
higher("rtt", "per_s", "rt/s", 0.7, "rtt")
row("rtt p50 / p99", "us", med("rtt", "qmpthin", "p50_us"), med("rtt", "floor", "p50_us"),
    None, f"(p99 {med('rtt', 'qmpthin', 'p99_us'):.0f} vs {med('rtt', 'floor', 'p99_us'):.0f} us)", None)
w = runs[("pipeline", "qmpthin")][0]["window"]
higher("pipeline", "per_s", "cmd/s", 0.7, f"pipeline({w})")
n = runs[("fleet", "qmpthin")][0]["vms"]
lower("fleet", "connect_s", "ms", 2, f"fleet {n}: connect all", 1000)
c = med("fleet", "qmpthin", "rss_per_conn_kib")
row(f"fleet {n}: RSS per connection", "KiB", c, med("fleet", "floor", "rss_per_conn_kib"), None,
    "<= 16 KiB", c <= 16)
lower("fleet", "broadcast_median_ms", "ms", 2, f"fleet {n}: broadcast to all")
idle = runs[("fleet", "qmpthin")][0]["idle_s"]
c = med("fleet", "qmpthin", "idle_cpu_s")
row(f"fleet {n}: CPU idle {idle} s", "ms", c * 1000, med("fleet", "floor", "idle_cpu_s") * 1000, None,
    "~0 (<= 50 ms)", c <= 0.05)

for interval, rs in sorted(polls.items(), reverse=True):
    def pmed(field):
        return statistics.median(r[field] for r in rs)
    rows.append((f"fleet {rs[0]['vms']}: poll every {interval} ms, CPU per VM per poll",
                 f"{pmed('cpu_per_poll_us'):,.1f} us", "-", "-",
                 f"(idle {pmed('idle_cpu_per_poll_us'):.2f} us; server {pmed('server_cpu_per_poll_us'):.1f} us)", ""))
    rows.append((f"fleet {rs[0]['vms']}: poll every {interval} ms, bytes per VM per poll",
                 f"{pmed('bytes_read_per_poll'):,.0f} B", "-", "-",
                 f"({pmed('bytes_written_per_poll'):.0f} B sent, {pmed('commands_per_poll'):.2f} commands)", ""))

if liveness:
    def lmed(field):
        return statistics.median(r[field] for r in liveness)
    r0 = liveness[0]
    rows.append((f"fleet {r0['vms']}: liveness every {r0['interval_ms']} ms, CPU per VM per s",
                 f"{lmed('on_cpu_per_vm_s_us'):,.2f} us", "-", f"{lmed('ratio'):.0f}x off",
                 f"(off {lmed('off_cpu_per_vm_s_us'):.2f} us; {lmed('probes_per_vm_s'):.2f} probes per VM per s, "
                 f"{lmed('cpu_per_probe_us'):.1f} us each; server {lmed('server_cpu_per_probe_us'):.1f} us)", ""))
    if any(r["responsive"] != r["vms"] or r["responsive_changes"] for r in liveness):
        rows.append(("liveness: a VM was found silent", "", "", "", "none", "MISSED"))
        failed += 1

header = ("benchmark", "libqmpthin", "floor", "ratio", "target", "")
widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
for r in [header] + rows:
    print("  ".join(str(v).ljust(widths[i]) if i == 0 or i >= 4 else str(v).rjust(widths[i])
                    for i, v in enumerate(r)).rstrip())
n_targets = sum(1 for r in rows if r[5])
print(f"medians of {len(runs[('events', 'qmpthin')])} runs; {n_targets - failed} targets met, {failed} missed")
sys.exit(1 if failed else 0)
EOF
