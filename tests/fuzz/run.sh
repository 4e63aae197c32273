#!/bin/sh
# run.sh: build the libFuzzer targets, replay the reproducers, fuzz a while
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: tests/fuzz/run.sh [SECONDS] [BUILD_DIR] [TARGET...]
#
#   SECONDS    how long each target fuzzes (default 60); 0 only replays
#              the reproducers and the seed corpus
#   BUILD_DIR  a clang build directory (default _build-fuzz in the source
#              tree), set up here if it does not exist
#   TARGET     stream, message or client (default: all three, in turn);
#              e.g. `tests/fuzz/run.sh 3600 _build-fuzz client` for a long
#              campaign on one target
#
# For each target: every file of tests/fuzz/regressions/<target>/ runs
# once, then the target fuzzes a copy of tests/fuzz/corpus/<target>/ (the
# checked-in corpus does not grow). It prints executions and coverage per
# target and exits non-zero on any crash, leak, timeout or sanitizer
# report; the inputs that failed are kept under the printed directory.
#
# Needs clang and libFuzzer (Debian 12: clang, libclang-rt-14-dev).

set -eu

duration=${1:-60}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-"$src/_build-fuzz"}
[ $# -gt 2 ] && shift 2 || set --
targets=${*:-"stream message client"}
for t in $targets; do
    case $t in
        stream|message|client) ;;
        *) echo "run.sh: unknown target '$t' (stream, message, client)" >&2; exit 2 ;;
    esac
done

if [ ! -f "$build/build.ninja" ]; then
    CC=${CC:-clang} meson setup "$build" "$src" \
        -Dfuzzing=true -Dtests=true -Dwerror=true \
        -Db_sanitize=address,undefined -Db_lundef=false \
        -Dintrospection=disabled -Dgtk_doc=false -Dexamples=false
fi
ninja -C "$build" $(for t in $targets; do printf 'tests/fuzz/fuzz-%s ' "$t"; done)

# A leak, an UBSan report or a sanitizer error is a failure; allocation
# failures are not a bug of ours.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS UBSAN_OPTIONS

work=$(mktemp -d "${TMPDIR:-/tmp}/qmpthin-fuzz.XXXXXX")
failed=""
summary=""

for t in $targets; do
    exe="$build/tests/fuzz/fuzz-$t"
    regressions="$src/tests/fuzz/regressions/fuzz-$t"
    mkdir -p "$work/$t/corpus" "$work/$t/artifacts"

    # Regressions: with files as arguments libFuzzer runs each once.
    if [ -n "$(ls "$regressions" 2>/dev/null)" ]; then
        if ! "$exe" "$regressions"/* >"$work/$t/regressions.log" 2>&1; then
            echo "fuzz-$t: a regression input fails; see $work/$t/regressions.log" >&2
            tail -n 30 "$work/$t/regressions.log" >&2
            failed="$failed fuzz-$t(regression)"
        fi
    fi

    cp "$src/tests/fuzz/corpus/fuzz-$t"/* "$work/$t/corpus/"
    if [ "$duration" -gt 0 ]; then
        set -- -max_total_time="$duration"
    else
        set -- -runs=0
    fi
    rc=0
    "$exe" "$@" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$work/$t/artifacts/" \
        "$work/$t/corpus" >"$work/$t/fuzz.log" 2>&1 || rc=$?

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/fuzz.log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$work/$t/fuzz.log" | tail -n 1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$work/$t/fuzz.log" | tail -n 1 | cut -d' ' -f2)
    line=$(printf 'fuzz-%-8s %12s executions  cov: %-6s ft: %-6s' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}")
    if [ "$rc" -ne 0 ]; then
        line="$line  FAILED (exit $rc)"
        failed="$failed fuzz-$t"
        echo "fuzz-$t failed; the end of its log ($work/$t/fuzz.log):" >&2
        grep -v '^#[0-9]' "$work/$t/fuzz.log" | tail -n 40 >&2
    fi
    echo "$line"
    summary="$summary$line
"
done

echo
printf '%s' "$summary"
if [ -n "$failed" ]; then
    echo "FAILED:$failed (logs and failing inputs in $work)"
    exit 1
fi
rm -rf "$work"
echo "all fuzz targets passed"
