#!/bin/sh
# The browser tests: Playwright (npm playwright-core, installed by `npm ci`) driving Debian's
# chromium headless against a real citydesk ($CITYDESK_BIN, default build/asan/citydesk) on a
# fresh data directory. Prints "e2e: N passed, N failed". Screenshots: tests/e2e/artifacts/.
set -u
cd "$(dirname "$0")/../.."
if [ ! -d node_modules/playwright-core ]; then
	npm ci --no-audit --no-fund --silent >/dev/null 2>&1 || true
fi
exec node tests/e2e/run.mjs "$@"
