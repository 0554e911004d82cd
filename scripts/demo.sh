#!/usr/bin/env bash
# demo.sh: myapp's main job on this machine, with nothing but the repository.
#
# Run as root on a Debian 12 machine (with Go): it installs what it needs
# with apt-get, builds myapp, boots a throwaway Debian 12 host with systemd
# (systemd-nspawn, sharing this machine's loopback), starts Pebble (a test
# ACME CA) and a stub API backend on 127.0.0.1:8000, runs
# `myapp init --host web1` over real SSH, prints the URL and curls it, and
# tears everything down. --keep keeps it all running until Ctrl-C.
#
# It needs ports 80, 443, 8000, 8053, 9000, 14000 and 15000 free on this
# machine, and stops this machine's own nginx if it runs (it is not restarted).
set -euo pipefail

cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

require_root
require_go
install_packages debootstrap systemd-container openssh-client curl ca-certificates tar iproute2
wait_for_other_runs
stop_host_nginx
require_free_ports "${E2E_PORTS[@]}"

work=$(mktemp -d /tmp/myapp-demo-bin.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "==> go build myapp and the demo driver (a few minutes with an empty Go cache)"
CGO_ENABLED=0 go build -o "$work/myapp" .
go build -o "$work/demo" ./internal/testenv/cmd/demo
"$work/demo" --myapp "$work/myapp" "$@"
