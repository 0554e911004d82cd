#!/usr/bin/env bash
# bench-auth.sh: issue 4's benchmark ("Done when" 4), run by hand as root,
# not by go test:
#
#	sudo scripts/bench-auth.sh [authbench flags, e.g. -duration 5s -rounds 3]
#	sudo BENCH_REV=HEAD scripts/bench-auth.sh    # a commit, not the work tree
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
# the end-to-end tests take (and test.sh before it starts), once the CPUs
# are idle (BENCH_IDLE_PCT, default 20% busy, waited for up to
# BENCH_IDLE_WAIT seconds, default 1800): test runs neither share the
# CPUs with it nor, started later, stop the databases under it.
# docs/bench-auth.md records a run.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

require_root
require_go
# Progress goes to stderr, as authbench's: stdout is the report alone.
install_packages wrk mariadb-server postgresql util-linux >&2

tmp=$(mktemp -d /tmp/bench-auth.XXXXXX)
cleanup() {
	stop_started_services
	rm -rf "$tmp"
}
trap cleanup EXIT

# BENCH_REV=<commit> measures that commit, exported from git, whatever
# the work tree holds; by default the work tree is built.
src=. label=$(git describe --always --dirty 2>/dev/null || echo unknown)
if [[ -n ${BENCH_REV:-} ]]; then
	label=$(git rev-parse --short "$BENCH_REV^{commit}") || die "BENCH_REV=$BENCH_REV is no commit"
	src=$tmp/src
	mkdir "$src"
	git archive "$label" | tar -x -C "$src"
fi
echo "==> building myapp $label and authbench (CGO_ENABLED=0 -trimpath -ldflags='-s -w', like a release)" >&2
(
	cd "$src"
	CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=$label" -o "$tmp/myapp" .
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$tmp/authbench" ./internal/authbench
)

# machine_busy prints how busy the CPUs were over 2 seconds, in % of all.
machine_busy() {
	local a b
	read -ra a < <(grep '^cpu ' /proc/stat)
	sleep 2
	read -ra b < <(grep '^cpu ' /proc/stat)
	local total=0 idle i
	for i in 1 2 3 4 5 6 7 8; do
		total=$((total + b[i] - a[i]))
	done
	idle=$((b[4] + b[5] - a[4] - a[5]))
	echo $((total > 0 ? 100 * (total - idle) / total : 0))
}

# The e2e tests take the lock one test at a time, and other packages'
# tests not at all, so the lock alone does not make the machine quiet:
# wait for idle CPUs first, without the lock (a test run waiting for it
# must not wait for this check too), then take it and check again. Past
# BENCH_IDLE_WAIT seconds it measures anyway; the report shows the load.
idle_pct=${BENCH_IDLE_PCT:-20} idle_wait=${BENCH_IDLE_WAIT:-1800}
lock=/run/lock/myapp-e2e-machine.lock
mkdir -p /run/lock
exec 9>>"$lock"
deadline=$((SECONDS + idle_wait)) said=0
while :; do
	while busy=$(machine_busy) && ((busy > idle_pct && SECONDS < deadline)); do
		((said++ == 0)) && echo "==> waiting for idle CPUs (${busy}% busy, want <= ${idle_pct}%; up to ${idle_wait}s)" >&2
	done
	if ! flock -n 9; then
		echo "==> another myapp test or demo holds $lock; waiting for it to finish" >&2
		flock -w 7200 9 || die "waited two hours for $lock"
	fi
	busy=$(machine_busy)
	((busy <= idle_pct || SECONDS >= deadline)) && break
	flock -u 9
done
((busy <= idle_pct)) || echo "==> measuring on busy CPUs (${busy}%): the figures will be low and noisy" >&2
echo "==> holding $lock (CPUs ${busy}% busy)" >&2

# The database servers must not inherit the lock's descriptor: they
# would hold the lock for as long as they run.
if [[ -z ${MYAPP_TEST_POSTGRES_URL:-} ]]; then
	start_postgres 9>&- >&2
fi
if [[ -z ${MYAPP_TEST_MYSQL_URL:-} ]]; then
	start_mariadb 9>&- >&2
fi

"$tmp/authbench" -myapp "$tmp/myapp" -label "$label" -wrk "$(command -v wrk)" \
	-postgres "$MYAPP_TEST_POSTGRES_URL" -mysql "$MYAPP_TEST_MYSQL_URL" "$@" 9>&-
