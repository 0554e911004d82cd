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
# It needs ports 80, 443, 8000, 8053, 14000 and 15000 free on this machine.
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
	echo "demo.sh: run as root (it boots a container with systemd-nspawn)" >&2
	exit 1
fi
if ! command -v go >/dev/null; then
	echo "demo.sh: go not found in PATH (hint: this needs the Go toolchain named in go.mod)" >&2
	exit 1
fi

packages=(debootstrap systemd-container openssh-client curl ca-certificates tar iproute2)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "==> apt-get install ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/myapp-demo-bin.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "==> go build myapp"
CGO_ENABLED=0 go build -o "$work/myapp" .

go build -o "$work/demo" ./internal/testenv/cmd/demo
"$work/demo" --myapp "$work/myapp" "$@"
