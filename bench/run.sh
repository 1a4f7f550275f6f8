#!/usr/bin/env bash
# bench/run.sh: attest against conftest on the same generated manifests with
# the same conftest-style policies (bench/policies). Run from anywhere inside
# the repository:
#
#   bench/run.sh                      # 5 runs per tool and size, sizes 2500 5000 10000 20000
#   bench/run.sh -r 3 -s "10000"      # 3 runs, 10,000 manifests only
#   bench/run.sh --conftest-only      # measure conftest alone (attest columns say "pending")
#
# Environment: RUNS, SIZES, SEED, CONFTEST (path to a conftest binary),
# ATTEST (path to a prebuilt attest binary: no build), ATTEST_ARGS (extra
# flags for attest policy check).
#
# It builds attest into .bin/, installs conftest v0.71.1 into .bin/ when it is
# not there, generates each corpus once into bench/corpus-data/ (git-ignored),
# runs every tool once as a warm-up (that output is the one compared), then
# RUNS times under /usr/bin/time, and prints a Markdown table of medians to
# stdout. Progress goes to stderr. Exit status: 0 when both tools reported the
# same findings at every size, 1 when they differ, 2 on a setup error.
set -euo pipefail

RUNS=${RUNS:-5}
SIZES=${SIZES:-"2500 5000 10000 20000"}
SEED=${SEED:-1}
CONFTEST_VERSION=v0.71.1
CONFTEST_ONLY=0
ATTEST_ARGS=${ATTEST_ARGS:-}

die() { echo "bench: $*" >&2; exit 2; }
log() { echo "bench: $*" >&2; }

while [ $# -gt 0 ]; do
	case "$1" in
	-r | --runs) RUNS=${2:?-r needs a number}; shift 2 ;;
	-s | --sizes) SIZES=${2:?-s needs a list of sizes}; shift 2 ;;
	--seed) SEED=${2:?--seed needs a number}; shift 2 ;;
	--conftest-only) CONFTEST_ONLY=1; shift ;;
	-h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (try --help)" ;;
	esac
done
case "$RUNS" in '' | *[!0-9]* | 0) die "RUNS must be a positive number, not '$RUNS'" ;; esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ -f go.mod ] && [ -d bench/policies ] || die "run from the attest repository ($ROOT does not look like it)"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is needed for peak memory: apt-get install time"
command -v go >/dev/null || die "go is not on PATH"

BIN=$ROOT/.bin
OUT=$ROOT/bench/out
DATA=$ROOT/bench/corpus-data
mkdir -p "$BIN" "$OUT" "$DATA"

# --- tools -------------------------------------------------------------------
ATTEST_REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- cmd internal library go.mod 2>/dev/null | head -n 1)" ]; then
	ATTEST_REV="$ATTEST_REV + uncommitted changes"
fi
CONFTEST=${CONFTEST:-$BIN/conftest}
if [ ! -x "$CONFTEST" ]; then
	if command -v conftest >/dev/null && conftest --version 2>/dev/null | grep -q "${CONFTEST_VERSION#v}"; then
		CONFTEST=$(command -v conftest)
	else
		log "installing conftest $CONFTEST_VERSION into .bin/ (a few minutes the first time)"
		GOBIN=$BIN go install "github.com/open-policy-agent/conftest@$CONFTEST_VERSION" ||
			die "could not install conftest; set CONFTEST=/path/to/conftest"
		CONFTEST=$BIN/conftest
	fi
fi
ATTEST_FROM_ENV=${ATTEST:-}
if [ -n "$ATTEST_FROM_ENV" ]; then
	[ -x "$ATTEST" ] || die "ATTEST=$ATTEST is not an executable"
elif [ "$CONFTEST_ONLY" = 0 ]; then
	ATTEST=$BIN/attest
	log "building attest into .bin/attest"
	go build -o "$ATTEST" ./cmd/attest ||
		die "attest does not build; fix it or run with --conftest-only"
fi
log "building the corpus generator and the comparer"
go build -o "$BIN/corpusgen" ./bench/corpusgen
go build -o "$BIN/bench-compare" ./bench/compare

# --- helpers -----------------------------------------------------------------
# median of numbers on stdin (mean of the middle two for an even count)
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) exit 1; if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# corpus N: generate once per (size, seed, generator source), reuse afterwards
corpus() {
	local n=$1 stamp dir
	stamp=$(sha256sum <bench/corpusgen/main.go | cut -c1-12)
	dir=$DATA/n$n-seed$SEED-$stamp
	if [ ! -f "$dir/.complete" ]; then
		rm -rf "$dir"
		"$BIN/corpusgen" -n "$n" -seed "$SEED" -out "$dir" -q >&2
		touch "$dir/.complete"
	fi
	echo "$dir"
}

# measure NAME OUTFILE CMD...: one run; appends "seconds kib" to $OUT/NAME.times.
# Exit status 0 and 1 both mean "ran" (1 = findings); anything else is fatal.
measure() {
	local name=$1 outfile=$2 rc=0
	shift 2
	/usr/bin/time -f '%e %M %U %S' -o "$OUT/$name.time1" "$@" >"$outfile" 2>"$OUT/$name.stderr" || rc=$?
	if [ "$rc" -gt 1 ]; then
		echo "bench: '$*' exited $rc; its stderr:" >&2
		tail -n 20 "$OUT/$name.stderr" >&2
		exit 2
	fi
	# GNU time writes "Command exited with non-zero status 1" first in that case
	tail -n 1 "$OUT/$name.time1" >>"$OUT/$name.times"
}

run_tool() { # run_tool TOOL SIZE DIR -> prints "median_s median_mib median_cpu_s"
	local tool=$1 n=$2 dir=$3 name="$1-$2" i
	local -a cmd
	if [ "$tool" = conftest ]; then
		cmd=("$CONFTEST" test --policy bench/policies --output json --no-color "$dir")
	else
		# shellcheck disable=SC2206 # ATTEST_ARGS is split on purpose
		cmd=("$ATTEST" policy check --no-builtin --policy bench/policies --format json $ATTEST_ARGS "$dir")
	fi
	rm -f "$OUT/$name.times"
	log "$tool, $n manifests: warm-up"
	measure "$name-warmup" "$OUT/$name.json" "${cmd[@]}"
	for i in $(seq 1 "$RUNS"); do
		log "$tool, $n manifests: run $i/$RUNS"
		measure "$name" "$OUT/$name.run.json" "${cmd[@]}"
	done
	local t m c
	t=$(awk '{print $1}' "$OUT/$name.times" | median)
	m=$(awk '{print $2/1024}' "$OUT/$name.times" | median)
	c=$(awk '{print $3 + $4}' "$OUT/$name.times" | median)
	echo "$t $m $c"
}

fmt() { awk -v x="$1" -v f="$2" 'BEGIN {printf f, x}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.1fx", a / b; else print "n/a"}'; }

# --- runs --------------------------------------------------------------------
load_start=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")
if awk -v l="$load_start" -v n="$(nproc)" 'BEGIN {exit !(l + 0 > n / 2)}'; then
	log "warning: the machine is busy (load average $load_start on $(nproc) CPUs); times will be inflated"
fi
status=0
declare -A CT_T CT_M CT_C AT_T AT_M AT_C SAME
for n in $SIZES; do
	case "$n" in '' | *[!0-9]*) die "sizes must be numbers, not '$n'" ;; esac
	log "corpus of $n manifests"
	dir=$(corpus "$n")
	res=$(run_tool conftest "$n" "$dir")
	read -r "CT_T[$n]" "CT_M[$n]" "CT_C[$n]" <<<"$res"
	if [ "$CONFTEST_ONLY" = 1 ]; then
		SAME[$n]="not compared"
		continue
	fi
	res=$(run_tool attest "$n" "$dir")
	read -r "AT_T[$n]" "AT_M[$n]" "AT_C[$n]" <<<"$res"
	if cmp_out=$("$BIN/bench-compare" -root "$dir" -conftest "$OUT/conftest-$n.json" -attest "$OUT/attest-$n.json" 2>&1); then
		SAME[$n]="same (${cmp_out#same findings: })"
	else
		SAME[$n]="DIFFERENT"
		status=1
		echo "bench: findings differ at $n manifests:" >&2
		echo "$cmp_out" >&2
	fi
done

# --- report ------------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
echo "## attest vs conftest $CONFTEST_VERSION"
echo
echo "- machine: ${cpu:-unknown CPU}, $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo 2>/dev/null || echo "? GiB") RAM; $(go version | awk '{print $3}')"
if [ "$CONFTEST_ONLY" = 1 ]; then
	echo "- attest: not run (--conftest-only)"
elif [ -n "${ATTEST_FROM_ENV:-}" ]; then
	echo "- attest: $ATTEST (prebuilt)"
else
	echo "- attest: built from $ATTEST_REV"
fi
echo "- policies: bench/policies (10 conftest-style rules, package main); corpus: bench/corpusgen -seed $SEED"
echo "- median of $RUNS runs after one warm-up; wall time, CPU time (user+sys) and peak RSS from /usr/bin/time; load average $load_start before, $(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?") after"
echo
echo "| manifests | conftest time | attest time | time ratio (conftest/attest) | conftest CPU | attest CPU | CPU ratio | conftest peak RSS | attest peak RSS | memory ratio | attest per manifest | findings |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for n in $SIZES; do
	ct="$(fmt "${CT_T[$n]}" "%.2f s")"
	cm="$(fmt "${CT_M[$n]}" "%.0f MiB")"
	cc="$(fmt "${CT_C[$n]}" "%.2f s")"
	if [ "$CONFTEST_ONLY" = 1 ]; then
		at="pending" am="pending" tr="pending" mr="pending" per="pending" ac="pending" cr="pending"
	else
		ac="$(fmt "${AT_C[$n]}" "%.2f s")"
		cr="$(ratio "${CT_C[$n]}" "${AT_C[$n]}")"
		at="$(fmt "${AT_T[$n]}" "%.2f s")"
		am="$(fmt "${AT_M[$n]}" "%.0f MiB")"
		tr="$(ratio "${CT_T[$n]}" "${AT_T[$n]}")"
		mr="$(ratio "${CT_M[$n]}" "${AT_M[$n]}")"
		per="$(awk -v t="${AT_T[$n]}" -v n="$n" 'BEGIN {printf "%.0f µs", t * 1e6 / n}')"
	fi
	echo "| $n | $ct | $at | $tr | $cc | $ac | $cr | $cm | $am | $mr | $per | ${SAME[$n]} |"
done
exit $status
