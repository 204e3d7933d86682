#!/bin/sh
# Runs the whole suite against one build directory (default build/asan): the source check,
# every C unit test binary, the fuzz corpora replay, and the black-box API tests.
# Each step prints "name: N passed, N failed"; the last line sums them.
set -u
BUILD=${1:-build/asan}
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export CITYDESK_BIN=${CITYDESK_BIN:-$BUILD/citydesk}

total_pass=0
total_fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Runs one step, echoes its output, and adds the counts from its "N passed, N failed" lines.
step() {
	"$@" >"$log" 2>&1
	status=$?
	cat "$log"
	counts=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" |
		sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed.*/\2 \3/' |
		awk '{p+=$1; f+=$2} END {print p+0, f+0}')
	p=${counts% *}
	f=${counts#* }
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "step failed with status $status and no failure counted: $*"
		f=1
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
}

step sh scripts/checksrc.sh
for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] && step "$t"
done
if [ -f fuzz/Makefile ]; then
	step make -s -f fuzz/Makefile replay
fi
if ls tests/api/test_*.py >/dev/null 2>&1; then
	step python3 tests/api/run.py
fi
if [ -f tests/e2e/run.sh ]; then
	step sh tests/e2e/run.sh
fi

echo "total: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
