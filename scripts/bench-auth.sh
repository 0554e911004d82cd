#!/usr/bin/env bash
# bench-auth.sh: issue 4's benchmark ("Done when" 4), run by hand as root,
# not by go test:
#
#	sudo scripts/bench-auth.sh [authbench flags, e.g. -duration 5s -rounds 3]
#
# It builds myapp as a release is built (CGO_ENABLED=0 -trimpath
# -ldflags='-s -w', as .goreleaser.yaml) and internal/authbench the same
# way, and runs authbench, which drives `myapp auth serve` processes over
# loopback and prints, in one run on this machine:
#
#   - GET /me requests/s (wrk) as a ratio to a bare net/http handler
#     sending the same bytes, same wrk, same connections, alternating
#     rounds, medians compared (target >= 0.6); once with server and
#     client sharing the CPUs, once pinned apart with taskset;
#   - refresh rotations/s on SQLite (target >= 3,000/s on 2 cores), on
#     PostgreSQL and on MariaDB (a fresh schema/database each, dropped
#     after);
#   - logins/s with 50 concurrent clients, and the peak RSS (VmHWM) of the
#     server process during them (target <= 300 MB).
#
# PostgreSQL and MariaDB: MYAPP_TEST_POSTGRES_URL and MYAPP_TEST_MYSQL_URL
# when set, else the servers test.sh uses, started the same way (no systemd
# needed) and stopped at exit if this script started them.
#
# The whole measurement holds /run/lock/myapp-e2e-machine.lock, the lock
# test.sh and the end-to-end tests take, after waiting for a run that
# holds it: a test run neither shares the CPUs with it nor stops the
# databases under it. docs/bench-auth.md records a run.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

require_root
require_go
install_packages wrk mariadb-server postgresql util-linux

tmp=$(mktemp -d /tmp/bench-auth.XXXXXX)
cleanup() {
	stop_started_services
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "==> building myapp and authbench (CGO_ENABLED=0 -trimpath -ldflags='-s -w', like a release)"
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$tmp/myapp" .
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$tmp/authbench" ./internal/authbench

lock=/run/lock/myapp-e2e-machine.lock
mkdir -p /run/lock
exec 9>>"$lock"
if ! flock -n 9; then
	echo "==> another myapp test or demo holds $lock; waiting for it to finish"
	flock -w 7200 9 || die "waited two hours for $lock"
fi
echo "==> holding $lock"

# The database servers must not inherit the lock's descriptor: they
# would hold the lock for as long as they run.
if [[ -z ${MYAPP_TEST_POSTGRES_URL:-} ]]; then
	start_postgres 9>&-
fi
if [[ -z ${MYAPP_TEST_MYSQL_URL:-} ]]; then
	start_mariadb 9>&-
fi

"$tmp/authbench" -myapp "$tmp/myapp" -wrk "$(command -v wrk)" \
	-postgres "$MYAPP_TEST_POSTGRES_URL" -mysql "$MYAPP_TEST_MYSQL_URL" "$@" 9>&-
