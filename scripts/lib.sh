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

# wait_for_other_runs waits while another myapp test or demo on this
# machine holds the test-host lock (the Go harness takes the same lock
# before it boots a host), so a second run queues instead of failing on
# ports the first one uses.
wait_for_other_runs() {
	local lock=/run/lock/myapp-e2e-machine.lock
	mkdir -p /run/lock
	if ! flock -n "$lock" true 2>/dev/null; then
		echo "==> another myapp test or demo holds $lock; waiting for it to finish"
		flock -w 3600 "$lock" true || die "waited an hour for $lock"
	fi
}

# require_free_ports fails, naming the listener, when a port is taken.
require_free_ports() {
	local port
	for port in "$@"; do
		if [[ -n $(ss -Hltn "sport = :$port") ]]; then
			ss -Hltnp "sport = :$port" >&2 || true
			die "port $port is in use on this machine (the test host, its auth server, Pebble and the stub backend need ${E2E_PORTS[*]})"
		fi
	done
}

E2E_PORTS=(80 443 8000 8053 9000 14000 15000)

# The auth server's MySQL and PostgreSQL tests (authserver, cmd) read these
# URLs; under CI=true they fail without them. The databases listen on
# loopback only, so a fixed password is no secret worth keeping.
TEST_DB_USER=myapp_test
TEST_DB_PASSWORD=myapp-test-only
STARTED_SERVICES=()

# start_mariadb starts MariaDB through its init script (there is no
# systemd as PID 1 here or in CI), creates the test user, who may create
# databases named myapp_test*, and exports MYAPP_TEST_MYSQL_URL.
start_mariadb() {
	if ! mariadb-admin ping >/dev/null 2>&1; then
		echo "==> starting mariadb"
		service mariadb start >/dev/null || die "could not start mariadb (see /var/log/mysql/error.log)"
		STARTED_SERVICES+=(mariadb)
	fi
	local u
	for u in "'$TEST_DB_USER'@'localhost'" "'$TEST_DB_USER'@'127.0.0.1'"; do
		mariadb -e "CREATE USER IF NOT EXISTS $u IDENTIFIED BY '$TEST_DB_PASSWORD';
			ALTER USER $u IDENTIFIED BY '$TEST_DB_PASSWORD';
			GRANT ALL PRIVILEGES ON \`myapp\\_test%\`.* TO $u;" || die "could not create the mariadb test user"
	done
	mariadb -e "CREATE DATABASE IF NOT EXISTS myapp_test" || die "could not create the mariadb test database"
	export MYAPP_TEST_MYSQL_URL="mysql+pymysql://$TEST_DB_USER:$TEST_DB_PASSWORD@127.0.0.1:3306/myapp_test"
}

# start_postgres starts the newest PostgreSQL cluster with pg_ctlcluster
# (creating it if the package install did not), creates the test role and
# its database, and exports MYAPP_TEST_POSTGRES_URL.
start_postgres() {
	local ver port
	ver=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1)
	[[ -n $ver ]] || die "postgresql is not installed"
	if ! pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main"' | grep -q .; then
		pg_createcluster "$ver" main >/dev/null || die "could not create the postgresql $ver cluster"
	fi
	if ! pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
		echo "==> starting postgresql $ver"
		pg_ctlcluster "$ver" main start || die "could not start postgresql $ver"
		STARTED_SERVICES+=("postgresql:$ver")
	fi
	port=$(pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main" {print $3}')
	runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -q <<SQL >/dev/null || die "could not create the postgresql test role"
DO \$\$BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$TEST_DB_USER') THEN
		CREATE ROLE $TEST_DB_USER LOGIN;
	END IF;
END\$\$;
ALTER ROLE $TEST_DB_USER LOGIN PASSWORD '$TEST_DB_PASSWORD';
SELECT 'CREATE DATABASE myapp_test OWNER $TEST_DB_USER' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'myapp_test')\gexec
SQL
	export MYAPP_TEST_POSTGRES_URL="postgresql+psycopg://$TEST_DB_USER:$TEST_DB_PASSWORD@127.0.0.1:$port/myapp_test"
}

# stop_started_services stops what start_mariadb and start_postgres
# started, leaving the machine's services as they were found.
stop_started_services() {
	local s
	for s in "${STARTED_SERVICES[@]}"; do
		case $s in
		mariadb) service mariadb stop >/dev/null 2>&1 || true ;;
		postgresql:*) pg_ctlcluster "${s#postgresql:}" main stop >/dev/null 2>&1 || true ;;
		esac
	done
}
