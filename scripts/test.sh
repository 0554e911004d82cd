#!/usr/bin/env bash
# test.sh: every test, the README's second command (and what .ci/run runs).
#
# Run as root on a Debian 12 machine with Go: it installs the packages the
# tests use (real nginx, sshd, systemd-nspawn, debootstrap, PyJWT, MariaDB,
# PostgreSQL), starts MariaDB and PostgreSQL for the auth server's tests
# (MYAPP_TEST_MYSQL_URL, MYAPP_TEST_POSTGRES_URL; stopped again at the end
# if this script started them), makes sure the ports of the end-to-end test
# are free, and runs
#
#	go test -count=1 -timeout 40m ./...
#
# Extra arguments go to go test (e.g. -run TestInit -v). The end-to-end tests
# skip without root/debootstrap/systemd-nspawn, and the auth server's
# database tests without their URLs, but both fail under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

require_root
require_go
# debootstrap, systemd-container: the throwaway test host (e2e, internal/testenv)
# nginx-light: nginx -t and a live nginx in the templates tests
# openssh-server, openssh-client: a real sshd for the SSH transport; ssh for testenv
# sudo: the non-root SSH user; python3-jwt: PyJWT must accept our tokens
# mariadb-server, postgresql: the auth server's MySQL and PostgreSQL stores
# curl, iproute2 (ss), tar, ca-certificates: scripts and tests
install_packages debootstrap systemd-container nginx-light openssh-server openssh-client \
	sudo curl python3-jwt ca-certificates iproute2 tar mariadb-server postgresql python3-dotenv
trap stop_started_services EXIT
start_mariadb
start_postgres
wait_for_other_runs
stop_host_nginx
require_free_ports "${E2E_PORTS[@]}"

go test -count=1 -timeout 40m "$@" ./...
