#!/bin/sh
# Installs the Debian packages citydesk needs to build, test and benchmark, when missing.
# As root it runs apt-get; otherwise it prints the command to run. Safe to run every time.
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev
libmicrohttpd-dev libjansson-dev libsqlite3-dev sqlite3 libsodium-dev
libgeos-dev libopencc-dev libutf8proc-dev libmosquitto-dev mosquitto mosquitto-clients
libxlsxwriter-dev libcurl4-openssl-dev zlib1g-dev python3 curl nginx-light wrk
fasttext
chromium fonts-wqy-microhei"

# The browser tests' npm packages (package-lock.json), installed when node_modules is missing
# or older than the lockfile. Quiet when they are there.
npm_deps() {
	[ -f package-lock.json ] || return 0
	if ! command -v npm >/dev/null 2>&1; then
		echo "deps: npm is missing (Node.js 20 with npm is needed for tests/e2e)" >&2
		return 1
	fi
	if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
		echo "deps: npm ci"
		npm ci --no-audit --no-fund --silent
	fi
}
cd "$(dirname "$0")/.."

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	npm_deps
	exit 0
fi
echo "deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: not root; run: sudo apt-get install -y$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# nginx is only a benchmark peer: keep its service from starting on package install (and
# leave a policy-rc.d the machine already had alone).
own_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
	own_policy=1
fi
apt-get install -y -qq --no-install-recommends $missing
[ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
npm_deps
exit 0
