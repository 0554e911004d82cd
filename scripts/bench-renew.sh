#!/usr/bin/env bash
# bench-renew.sh: issue 3's benchmark ("Done when" 1), run by hand as root,
# not by go test. It times a no-op `myapp cert renew` against a no-op
# `certbot renew --no-random-sleep-on-renew` (Debian's certbot) on this
# machine, side by side in one hyperfine run each, whole processes:
#
#   A. one not-due certificate: `myapp cert renew --config ...` (what the
#      renewal timer runs) vs `certbot renew` over one lineage, and
#      `myapp version`, the floor any run of this binary pays
#   B. N not-due certificates (default 100): ONE `myapp cert renew --all`
#      over N apps vs ONE `certbot renew` over N lineages. myapp twice: as
#      a repeated run finds it (each app's decision remembered from the
#      run before, its files unchanged: what is timed against certbot), and
#      with nothing remembered (the cache removed before each run: a run
#      after renewals or edits, or the first one)
#
# Both tools see the same certificates: self-signed ECDSA P-256, valid 80
# days from now, so neither is due (myapp renews with a third of the
# lifetime left, certbot 30 days before expiry). myapp gets a stored ARI
# window (as a previous run would have left it), so it decides without the
# network; certbot gets hand-made lineages (renewal conf, archive, live
# links) in a temporary --config-dir. Before timing, every command is run
# once without a network (unshare -n) and must report every certificate
# not due: nothing is contacted.
#
# myapp is built as a release is (CGO_ENABLED=0, -trimpath, -s -w). The
# apps are created and measured while holding
# /run/lock/myapp-e2e-machine.lock, the lock the end-to-end tests take
# (each e2e test takes it; other packages' tests do not), and only once the
# CPUs are idle: the timing is not shared with a test run, and no test sees
# the bench apps in /etc/myapp. It waits for idle CPUs before taking the
# lock, so that it does not hold up a test run while it waits.
#
# It creates /etc/myapp/bench-NNN, /var/lib/myapp/acme/{state,locks}/
# bench-NNN.*, /var/lib/myapp/acme/renew-cache (the decisions --all
# remembers) and a temporary directory, and removes them (and the
# directories it had to create) at exit. It refuses to run when any of them
# exists, or when /etc/myapp holds other apps (`cert renew --all` would
# act on them). docs/bench-renew.md records a run.
#
# Usage: scripts/bench-renew.sh [N]
#   BENCH_MIN_RUNS (default 30): hyperfine runs per command in A (B: a third)
#   BENCH_IDLE_PCT (default 15): busiest CPU use, in %, accepted as idle
#   BENCH_IDLE_WAIT (default 1800): seconds to wait for idle CPUs
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

N=${1:-100}
[[ $N =~ ^[0-9]+$ ]] && ((N >= 1 && N <= 999)) || die "N must be 1..999"
MIN_RUNS=${BENCH_MIN_RUNS:-30}
IDLE_PCT=${BENCH_IDLE_PCT:-15}
IDLE_WAIT=${BENCH_IDLE_WAIT:-1800}
LOCK=/run/lock/myapp-e2e-machine.lock

require_root
require_go
install_packages hyperfine certbot openssl jq util-linux

name() { printf 'bench-%03d' "$1"; }

# Refuse before anything is created (and before the cleanup trap exists):
# nothing of someone else's may be overwritten or removed.
for i in $(seq 1 "$N"); do
	for f in "/etc/myapp/$(name "$i")" "/var/lib/myapp/acme/state/$(name "$i").json" "/var/lib/myapp/acme/locks/$(name "$i").lock"; do
		[[ ! -e $f && ! -L $f ]] || die "$f exists: not overwriting it"
	done
done
check_no_other_apps() {
	local f
	for f in /etc/myapp/*/myapp.toml; do
		[[ -e $f ]] || continue
		[[ $f == /etc/myapp/bench-[0-9][0-9][0-9]/myapp.toml && -n ${ours[$f]:-} ]] && continue
		die "$f exists: \`myapp cert renew --all\` would renew that app too (run this on a machine without apps)"
	done
}
declare -A ours=()
check_no_other_apps

tmp=$(mktemp -d /tmp/bench-renew.XXXXXX)
created=()
cache=/var/lib/myapp/acme/renew-cache
[[ -e $cache ]] || created_cache=1
for d in /etc/myapp /var/lib/myapp /var/lib/myapp/acme /var/lib/myapp/acme/state /var/lib/myapp/acme/locks; do
	[[ -e $d ]] || created+=("$d")
done
cleanup() {
	local i d
	for i in "${!ours[@]}"; do
		rm -rf "$(dirname "$i")"
	done
	for i in $(seq 1 "$N"); do
		[[ -n ${ours[/etc/myapp/$(name "$i")/myapp.toml]:-} ]] || continue
		rm -f "/var/lib/myapp/acme/state/$(name "$i").json" "/var/lib/myapp/acme/locks/$(name "$i").lock"
	done
	[[ -z ${created_cache:-} ]] || rm -f "$cache"
	for ((d = ${#created[@]} - 1; d >= 0; d--)); do
		rmdir "${created[d]}" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "==> building myapp as a release is (CGO_ENABLED=0 -trimpath -ldflags '-s -w')"
version=$(git describe --always --dirty 2>/dev/null || echo dev)
bin=$tmp/myapp
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=$version" -o "$bin" .

# busiest_cpu prints the use, in %, of the busiest CPU over 2 seconds.
busiest_cpu() {
	local -a a b
	local i max=0 total idle pct t1 i1
	mapfile -t a < <(grep '^cpu[0-9]' /proc/stat)
	sleep 2
	mapfile -t b < <(grep '^cpu[0-9]' /proc/stat)
	for i in "${!a[@]}"; do
		# shellcheck disable=SC2086 # fields
		set -- ${a[i]}
		t1=$(($2 + $3 + $4 + $5 + $6 + $7 + $8 + $9)) i1=$(($5 + $6))
		# shellcheck disable=SC2086
		set -- ${b[i]}
		total=$(($2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 - t1)) idle=$(($5 + $6 - i1))
		((total > 0)) || continue
		pct=$((100 * (total - idle) / total))
		((pct > max)) && max=$pct
	done
	echo "$max"
}

# Wait for idle CPUs without the lock (a test run that waits for it must
# not wait for this script's idle check), then take the lock and check
# again; if something got busy meanwhile, let go of the lock and wait again.
# Past BENCH_IDLE_WAIT it measures anyway, holding the lock, and says so.
# The lock is then held to the end (fd 9 is closed at exit).
mkdir -p /run/lock
exec 9>>"$LOCK"
deadline=$((SECONDS + IDLE_WAIT)) said=0
while :; do
	while busy=$(busiest_cpu) && ((busy > IDLE_PCT && SECONDS < deadline)); do
		((said++ == 0)) && echo "==> waiting for idle CPUs (busiest at ${busy}%, want <= ${IDLE_PCT}%; up to ${IDLE_WAIT}s)"
	done
	if ! flock -n 9; then
		echo "==> a test run holds $LOCK; waiting for it (up to an hour)"
		flock -w 3600 9 || die "waited an hour for $LOCK"
	fi
	busy=$(busiest_cpu)
	((busy <= IDLE_PCT)) && break
	if ((SECONDS >= deadline)); then
		echo "==> WARNING: CPUs still busy after ${IDLE_WAIT}s (busiest ${busy}%): measuring anyway; the figures are disturbed" >&2
		break
	fi
	flock -u 9
done
echo "==> holding $LOCK; busiest CPU at ${busy}%"

rfc3339() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }

# certbot's lineage: renewal conf, archive, live links, as certbot writes.
lineage() { # config-dir domain key cert webroot
	local cd=$1 d=$2 f
	mkdir -p "$cd/archive/$d" "$cd/live/$d" "$cd/renewal"
	cp "$3" "$cd/archive/$d/privkey1.pem"
	cp "$4" "$cd/archive/$d/cert1.pem"
	cp "$4" "$cd/archive/$d/chain1.pem" # self-signed: its own issuer
	cp "$4" "$cd/archive/$d/fullchain1.pem"
	for f in cert privkey chain fullchain; do
		ln -s "../../archive/$d/${f}1.pem" "$cd/live/$d/$f.pem"
	done
	cat >"$cd/renewal/$d.conf" <<-EOF
		version = 2.1.0
		archive_dir = $cd/archive/$d
		cert = $cd/live/$d/cert.pem
		privkey = $cd/live/$d/privkey.pem
		chain = $cd/live/$d/chain.pem
		fullchain = $cd/live/$d/fullchain.pem

		[renewalparams]
		account = 00000000000000000000000000000000
		authenticator = webroot
		server = https://acme-v02.api.letsencrypt.org/directory
		key_type = ecdsa
		[[webroot_map]]
		$d = $5
	EOF
}

# myapp: /etc/myapp/<app>/myapp.toml, the versioned certificate layout and
# the renewal state with a stored ARI window.
echo "==> creating $N apps under /etc/myapp and $N certbot lineages under $tmp"
mkdir -p /etc/myapp /var/lib/myapp/acme/state "$tmp/cb1" "$tmp/cbN"
chmod 0700 /var/lib/myapp /var/lib/myapp/acme
win_start=$(rfc3339 '+53 days') win_end=$(rfc3339 '+55 days') next_poll=$(rfc3339 '+1 day')
for i in $(seq 1 "$N"); do
	app=$(name "$i") d=$(name "$i").test
	dir=/etc/myapp/$app
	mkdir "$dir" # fails if someone created it meanwhile
	ours[$dir/myapp.toml]=1
	v=$dir/certs/.archive/$d/20250101T000000Z-bench
	mkdir -p "$v"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 80 \
		-subj "/CN=$d" -addext "subjectAltName=DNS:$d" \
		-keyout "$v/privkey.pem" -out "$v/fullchain.pem" 2>/dev/null
	chmod 0600 "$v/privkey.pem"
	ln -s ".archive/$d/20250101T000000Z-bench" "$dir/certs/$d"
	printf 'app = "%s"\ndomains = ["%s"]\n\n[acme]\nemail = "bench@example.com"\n' "$app" "$d" >"$dir/myapp.toml"
	serial=$(openssl x509 -noout -serial -in "$v/fullchain.pem" | cut -d= -f2 | tr 'A-F' 'a-f' | sed 's/^0*//')
	cat >"/var/lib/myapp/acme/state/$app.json" <<-EOF
		{
		  "serial": "$serial",
		  "ari_window_start": "$win_start",
		  "ari_window_end": "$win_end",
		  "ari_next_poll": "$next_poll",
		  "renew_at": "$win_start"
		}
	EOF
	chmod 0600 "/var/lib/myapp/acme/state/$app.json"
	lineage "$tmp/cbN" "$d" "$v/privkey.pem" "$v/fullchain.pem" "/var/www/$app/acme"
	((i == 1)) && lineage "$tmp/cb1" "$d" "$v/privkey.pem" "$v/fullchain.pem" "/var/www/$app/acme"
done
check_no_other_apps # nothing else appeared meanwhile

myapp_one=("$bin" cert renew --config "/etc/myapp/$(name 1)/myapp.toml")
myapp_all=("$bin" cert renew --all)
certbot_args=(renew --no-random-sleep-on-renew --non-interactive)
certbot_one=(certbot "${certbot_args[@]}" --config-dir "$tmp/cb1" --work-dir "$tmp/cb1-work" --logs-dir "$tmp/cb1-logs")
certbot_all=(certbot "${certbot_args[@]}" --config-dir "$tmp/cbN" --work-dir "$tmp/cbN-work" --logs-dir "$tmp/cbN-logs")

echo "==> checking that every command is a quiet no-op without any network (unshare -n)"
# expect_not_due CERTS CMD...: CMD's JSON lists CERTS certificates, all not due, and nothing on stderr.
expect_not_due() {
	local n=$1 out
	shift
	out=$(unshare -n "$@" --output json 2>"$tmp/err") || die "$* failed without network: $out $(cat "$tmp/err")"
	[[ ! -s $tmp/err ]] || die "$* wrote to stderr: $(cat "$tmp/err")"
	[[ $(jq '[.certificates[] | select(.status == "not_due")] | length' <<<"$out") -eq $n &&
		$(jq '.certificates | length' <<<"$out") -eq $n ]] || die "$* is not a no-op over $n certificates: $out"
}
expect_not_due 1 "${myapp_one[@]}"
expect_not_due "$N" "${myapp_all[@]}"
# What --all remembers is only trusted for files older than a second.
sleep 1.1
expect_not_due "$N" "${myapp_all[@]}"
remembered=$("${myapp_all[@]}" -v 2>&1 | grep -c 'unchanged since an earlier run') || true
((remembered == N)) || die "--all remembered $remembered of $N decisions: the repeated run would not be what is timed"
for n in 1 "$N"; do
	if ((n == 1)); then c=("${certbot_one[@]}"); else c=("${certbot_all[@]}"); fi
	out=$(unshare -n "${c[@]}" 2>&1) || die "${c[*]} failed without network: $out"
	grep -q 'No renewals were attempted' <<<"$out" || die "${c[*]} is not a no-op: $out"
	[[ $(grep -c '(skipped)' <<<"$out") -eq $n ]] || die "${c[*]} did not skip $n certificates: $out"
done

# busy_seconds prints the CPU time this machine has spent busy since boot.
busy_seconds() {
	# shellcheck disable=SC2046 # fields
	set -- $(grep '^cpu ' /proc/stat)
	echo "$(($2 + $3 + $4 + $7 + $8)) $(getconf CLK_TCK)" | awk '{ printf "%.2f", $1 / $2 }'
}

# timed NAME WARMUP hyperfine-args...: runs hyperfine with --export-json
# $tmp/NAME.json and prints how much CPU other processes used meanwhile (the
# machine's busy time minus what hyperfine measured for the commands), in %
# of one CPU, to $tmp/NAME.others: a test run started meanwhile shows there.
timed() {
	local name=$1 warmup=$2 b0 b1 t0 t1
	shift 2
	b0=$(busy_seconds) t0=$EPOCHREALTIME
	hyperfine -N --warmup "$warmup" --export-json "$tmp/$name.json" "$@"
	b1=$(busy_seconds) t1=$EPOCHREALTIME
	jq -r --argjson w "$warmup" '[.results[] | (.user + .system) * ((.times | length) + $w)] | add' "$tmp/$name.json" |
		awk -v b0="$b0" -v b1="$b1" -v t0="$t0" -v t1="$t1" '{ o = 100 * (b1 - b0 - $1) / (t1 - t0); printf "%.0f", o < 0 ? 0 : o }' >"$tmp/$name.others"
}

# hyperfine -N runs each command without a shell; its median is the whole
# process, start to exit.
q() { printf '%q ' "$@"; }
echo "==> A: one certificate"
timed a 3 --min-runs "$MIN_RUNS" \
	-n "myapp cert renew (1 cert)" "$(q "${myapp_one[@]}")" \
	-n "certbot renew (1 cert)" "$(q "${certbot_one[@]}")" \
	-n "myapp version (floor)" "$(q "$bin" version)"

echo "==> B: $N certificates, one process each"
timed b 2 --min-runs "$(((MIN_RUNS + 2) / 3))" \
	--prepare true --prepare "$(q rm -f "$cache")" --prepare true \
	-n "myapp cert renew --all ($N apps)" "$(q "${myapp_all[@]}")" \
	-n "myapp cert renew --all ($N apps, nothing remembered)" "$(q "${myapp_all[@]}")" \
	-n "certbot renew ($N lineages)" "$(q "${certbot_all[@]}")"

ms() { jq -r --arg n "$2" '.results[] | select(.command == $n) | .median * 1000' "$1"; }
ma=$(ms "$tmp/a.json" "myapp cert renew (1 cert)")
ca=$(ms "$tmp/a.json" "certbot renew (1 cert)")
fa=$(ms "$tmp/a.json" "myapp version (floor)")
mb=$(ms "$tmp/b.json" "myapp cert renew --all ($N apps)")
mc=$(ms "$tmp/b.json" "myapp cert renew --all ($N apps, nothing remembered)")
cb=$(ms "$tmp/b.json" "certbot renew ($N lineages)")
echo
echo "== medians, whole process"
echo "   machine: $(nproc) CPUs, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r)"
echo "   $("$bin" version 2>&1 | head -1), CGO_ENABLED=0; $(certbot --version 2>&1) ($(dpkg-query -W -f='${Version}' certbot) from Debian); $(hyperfine --version)"
echo "   other processes meanwhile: $(cat "$tmp/a.others")% of a CPU during A, $(cat "$tmp/b.others")% during B (busiest CPU before: ${busy}%)"
awk -v ma="$ma" -v ca="$ca" -v fa="$fa" -v mb="$mb" -v mc="$mc" -v cb="$cb" -v n="$N" '
function ok(c) { return c ? "met" : "MISSED" }
BEGIN {
	printf "   %-34s %10s %10s %9s\n", "", "myapp", "certbot", "ratio"
	printf "   %-34s %7.2f ms %7.0f ms %8.0fx\n", "1 certificate", ma, ca, ca / ma
	printf "   %-34s %7.2f ms %7.0f ms %8.0fx\n", n " certificates (one process)", mb, cb, cb / mb
	printf "   %-34s %7.2f ms %7.0f ms %8.0fx\n", "  ... nothing remembered", mc, cb, cb / mc
	printf "   %-34s %7.2f ms\n", "myapp version (process floor)", fa
	printf "   %-34s %7.3f ms %7.1f ms\n", "per certificate, " n " in one run", mb / n, cb / n
	print ""
	printf "   target 1 cert:  myapp < 10 ms: %s; >= 50x certbot: %s\n", ok(ma < 10), ok(ca / ma >= 50)
	printf "   target %d certs: myapp < 50 ms: %s; >= 50x certbot: %s\n", n, ok(mb < 50), ok(cb / mb >= 50)
}'
for r in a b; do
	(($(cat "$tmp/$r.others") <= IDLE_PCT)) ||
		echo "   WARNING: other processes used $(cat "$tmp/$r.others")% of a CPU during ${r^^}: those figures are disturbed; run again on a quiet machine" >&2
done
