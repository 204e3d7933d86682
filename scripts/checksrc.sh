#!/bin/sh
# Fails when banned C functions appear in src/ (see docs/../HOUSE-STYLE: unbounded or
# error-swallowing calls). Prints "checksrc: N passed, N failed" like the other test steps.
set -u
cd "$(dirname "$0")/.."
hits=$(grep -rnE '\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atoll|gets|sscanf)[[:space:]]*\(' \
	--include='*.c' --include='*.h' src tools bench fuzz 2>/dev/null)
if [ -n "$hits" ]; then
	echo "$hits"
	echo "checksrc: 0 passed, 1 failed"
	exit 1
fi
echo "checksrc: 1 passed, 0 failed"
