#!/bin/sh
# `make run`: starts citydesk on the default Luohu data set. On the first run (no accounts
# yet) it creates the account `admin` with a random password, saved in $DATA/admin-password
# (mode 600) and printed once, so a newcomer can log in straight away.
set -eu
cd "$(dirname "$0")/.."
BIN=build/citydesk
export CITYDESK_DATA="${CITYDESK_DATA:-./var}"
export CITYDESK_LISTEN="${CITYDESK_LISTEN:-127.0.0.1:8080}"
# The demo: an empty store is seeded with a year of history, then a simulator keeps reports,
# device telemetry and now and then a fire alarm coming. CITYDESK_DEMO=off for a clean server.
export CITYDESK_DEMO="${CITYDESK_DEMO:-on}"
mkdir -p "$CITYDESK_DATA"

if ! "$BIN" user list 2>/dev/null | awk 'NR > 1 && $3 == "admin" {found = 1} END {exit !found}'; then
	pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	printf '%s\n' "$pw" | "$BIN" user add --username admin --role admin --name "系统管理员" --password-stdin
	umask 077
	printf '%s\n' "$pw" > "$CITYDESK_DATA/admin-password"
	echo "created the account admin; its password is in $CITYDESK_DATA/admin-password"
fi

cat <<MSG

  citydesk — http://$CITYDESK_LISTEN   (console: log in as admin)
  Residents' app: http://$CITYDESK_LISTEN/app     Open311: http://$CITYDESK_LISTEN/open311/v2/discovery.json
  Demo: $CITYDESK_DEMO (CITYDESK_DEMO=off make run for a clean server)
  API:     curl -s -X POST http://$CITYDESK_LISTEN/api/v1/sessions \\
             -d '{"username":"admin","password":"'\$(cat $CITYDESK_DATA/admin-password)'"}'
  Try:     curl -s 'http://$CITYDESK_LISTEN/api/v1/map/locate?lat=22.548&lng=114.118'
  More accounts: $BIN user add --username NAME --role ROLE --password-stdin
  Stop with Ctrl-C (SIGINT) or SIGTERM: requests in flight finish, the store is checkpointed.

MSG
exec "$BIN" serve
