#!/bin/sh
# `make bench`: every benchmark, each printing its figure beside the peer measured in the same
# run and the ratio. Figures are printed, never asserted: these machines are shared and noisy.
set -u
cd "$(dirname "$0")/.."
status=0
for b in locate http intake store classify series mqtt console; do
	script=bench/$b.sh
	[ -f "$script" ] || continue
	echo "== $b"
	sh "$script" || status=1
done
exit $status
