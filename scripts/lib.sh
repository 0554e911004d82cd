# Shared by demo.sh, test.sh and .ci/run: run as root, find Go, install
# Debian packages, keep the ports the test host needs free.
# shellcheck shell=bash

die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

require_root() {
	[[ $(id -u) -eq 0 ]] || die "run as root (hint: sudo $0): it boots a container with systemd-nspawn"
}

# require_go puts the Go toolchain on PATH (sudo's secure_path drops
# /usr/local/go/bin).
require_go() {
	if ! command -v go >/dev/null; then
		for d in /usr/local/go/bin /usr/lib/go/bin; do
			[[ -x $d/go ]] && PATH=$PATH:$d && break
		done
	fi
	command -v go >/dev/null || die "go not found (hint: install the Go version named in go.mod)"
}

# install_packages installs the Debian packages that are missing, without
# letting their install scripts start services on this machine (nginx would
# take :80 and :443 from the test host).
install_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	echo "==> apt-get install ${missing[*]}"
	local policy=/usr/sbin/policy-rc.d created=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 0755 "$policy"
		created=1
	fi
	local rc=0
	{
		apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	} || rc=$?
	((created)) && rm -f "$policy"
	((rc == 0)) || die "apt-get install ${missing[*]} failed"
}

# stop_host_nginx stops this machine's own nginx (installed for `nginx -t`
# in tests) if it runs: the test host's nginx needs :80 and :443.
stop_host_nginx() {
	local pid
	pid=$(cat /run/nginx.pid 2>/dev/null || true)
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */nginx* ]]; then
		echo "==> stopping this machine's nginx (pid $pid): the test host needs :80 and :443"
		nginx -s stop 2>/dev/null || kill "$pid"
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
}

# require_free_ports fails, naming the listener, when a port is taken.
require_free_ports() {
	local port
	for port in "$@"; do
		if [[ -n $(ss -Hltn "sport = :$port") ]]; then
			ss -Hltnp "sport = :$port" >&2 || true
			die "port $port is in use on this machine (the test host, Pebble and the stub backend need 80 443 8000 8053 14000 15000)"
		fi
	done
}

E2E_PORTS=(80 443 8000 8053 14000 15000)
