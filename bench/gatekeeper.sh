#!/usr/bin/env bash
# bench/gatekeeper.sh: attest against gator (Gatekeeper's CLI) on the same
# generated manifests with the same ConstraintTemplates and Constraints
# (bench/gatekeeper: six Rego-only templates of the Gatekeeper library).
#
#   bench/gatekeeper.sh               # 3 runs, 10,000 manifests
#   bench/gatekeeper.sh -r 5 -n 20000
#
# gator: `gator test -f bench/gatekeeper -f CORPUS -o json`; attest:
# `attest policy check --no-builtin --policy bench/gatekeeper --format json
# CORPUS` from an empty project. Installs gator v3.23.1 into .bin/ when it is
# not there (minutes, the first time). One warm-up run each (its output is
# the one compared, by bench/gkcompare), then RUNS runs under /usr/bin/time;
# prints medians of wall time, CPU time and peak RSS. Exit 0 when the
# findings are the same, 1 when they differ, 2 on a setup error.
set -euo pipefail
RUNS=3 N=10000 SEED=1
GATOR_VERSION=v3.23.1
die() { echo "bench: $*" >&2; exit 2; }
log() { echo "bench: $*" >&2; }
while [ $# -gt 0 ]; do
	case "$1" in
	-r) RUNS=${2:?}; shift 2 ;;
	-n) N=${2:?}; shift 2 ;;
	-h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
done
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is needed"
BIN=$ROOT/.bin OUT=$ROOT/bench/out DATA=$ROOT/bench/corpus-data
mkdir -p "$BIN" "$OUT" "$DATA"
GATOR=${GATOR:-$BIN/gator}
if [ ! -x "$GATOR" ]; then
	log "installing gator $GATOR_VERSION into .bin/ (several minutes the first time)"
	GOBIN=$BIN go install "github.com/open-policy-agent/gatekeeper/v3/cmd/gator@$GATOR_VERSION" || die "could not install gator"
fi
log "building attest, corpusgen, gkcompare"
# ATTEST=/path/to/attest: a prebuilt binary, no build
ATTEST=${ATTEST:-}
if [ -z "$ATTEST" ]; then
	ATTEST=$BIN/attest
	go build -o "$ATTEST" ./cmd/attest
fi
go build -o "$BIN/corpusgen" ./bench/corpusgen
go build -o "$BIN/gkcompare" ./bench/gkcompare
# the same corpus directory bench/run.sh uses
stamp=$(sha256sum <bench/corpusgen/main.go | cut -c1-12)
dir=$DATA/n$N-seed$SEED-$stamp
if [ ! -f "$dir/.complete" ]; then
	rm -rf "$dir"
	"$BIN/corpusgen" -n "$N" -seed "$SEED" -out "$dir" -q
	touch "$dir/.complete"
fi
empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
run() { # run NAME CMD... -> "wall_s cpu_s rss_mib" medians
	local name=$1 i rc
	shift
	rm -f "$OUT/gk-$name.times"
	for i in $(seq 0 "$RUNS"); do
		log "$name: run $i/$RUNS (0 = warm-up)"
		rc=0
		/usr/bin/time -f '%e %U %S %M' -o "$OUT/gk-$name.time1" "$@" >"$OUT/gk-$name.$i.json" 2>"$OUT/gk-$name.stderr" || rc=$?
		[ "$rc" -le 1 ] || { tail -n 20 "$OUT/gk-$name.stderr" >&2; die "$name exited $rc"; }
		[ "$i" = 0 ] || tail -n 1 "$OUT/gk-$name.time1" >>"$OUT/gk-$name.times"
	done
	echo "$(awk '{print $1}' "$OUT/gk-$name.times" | median) $(awk '{print $2+$3}' "$OUT/gk-$name.times" | median) $(awk '{print $4/1024}' "$OUT/gk-$name.times" | median)"
}
load=$(cut -d' ' -f1 /proc/loadavg)
# gator resolves nothing from the working directory; run it from the empty dir all the same
read -r gt gc gm <<<"$(cd "$empty" && run gator "$GATOR" test -f "$ROOT/bench/gatekeeper" -f "$dir" -o json)"
read -r at ac am <<<"$(run attest "$ATTEST" policy check --project "$empty" --no-builtin --policy bench/gatekeeper --format json "$dir")"
status=0
same=$("$BIN/gkcompare" -gator "$OUT/gk-gator.0.json" -attest "$OUT/gk-attest.0.json") || status=1
r() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1fx", a / b}'; }
echo "## attest vs gator $GATOR_VERSION ($N manifests, median of $RUNS runs after a warm-up)"
echo
echo "- machine: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) CPUs; load average $load before, $(cut -d' ' -f1 /proc/loadavg) after"
echo "- findings: $same"
echo
echo "| tool | wall time | CPU time | peak RSS |"
echo "|---|---:|---:|---:|"
printf '| gator | %.2f s | %.2f s | %.0f MiB |\n' "$gt" "$gc" "$gm"
printf '| attest | %.2f s | %.2f s | %.0f MiB |\n' "$at" "$ac" "$am"
echo "| ratio (gator/attest) | $(r "$gt" "$at") | $(r "$gc" "$ac") | $(r "$gm" "$am") |"
exit $status
