#!/usr/bin/env bash
# bench/serve.sh: attest serve against opa run --server, one after the other
# in one run, with the same policies (bench/policies) on the same
# AdmissionReview (bench/load/review.json). Run from anywhere inside the
# repository; extra arguments go to the load generator (go run ./bench/load
# -h lists them):
#
#   bench/serve.sh                 # 3 runs of attest, attest + decision log, opa
#   bench/serve.sh -runs 5 -hold 20s
#
# Environment: ATTEST (a prebuilt attest binary: no build), OPA (an opa
# binary: no install). It builds attest into .bin/attest and installs OPA
# v1.22.3 into .bin/ when it is not there (git-ignored), then prints each
# server's peak throughput and p50/p99 at 80% of its own peak, the medians
# over the runs and the ratios. Method: docs/performance.md ("attest serve").
set -euo pipefail
OPA_VERSION=v1.22.3
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN=$ROOT/.bin
mkdir -p "$BIN"
log() { echo "bench/serve: $*" >&2; }
if [ -z "${ATTEST:-}" ]; then
	ATTEST=$BIN/attest
	log "building attest into .bin/attest"
	go build -o "$ATTEST" ./cmd/attest
fi
OPA=${OPA:-$BIN/opa}
if ! { [ -x "$OPA" ] && "$OPA" version 2>/dev/null | grep -q "^Version: ${OPA_VERSION#v}$"; }; then
	log "installing opa $OPA_VERSION into .bin/ (a few minutes the first time)"
	GOBIN=$BIN go install "github.com/open-policy-agent/opa@$OPA_VERSION"
	OPA=$BIN/opa
fi
log "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (a busy machine gives low, noisy figures)"
exec go run ./bench/load -attest "$ATTEST" -opa "$OPA" "$@"
