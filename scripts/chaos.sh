#!/usr/bin/env bash
# The long runs that attack ktra (not part of the default test run; their regression cases are in
# tests/testsuite/hardening_chaos.rs). Runs, each bounded in time and count:
#   1. scripts/chaos/kill.py        kill -9 injections mid-operation (add, publish, yank, remove,
#                                   sync-mirror, the git step); verify and the next write after each
#   2. scripts/chaos/concurrent.py  10 concurrent writers (CLI, two receivers, real cargo) + a reader
#   3. scripts/chaos/hostile.py     100+ hostile inputs (tarballs, publish bodies, URLs, headers,
#                                   tokens, settings) with the public/ tree hashed around each
# Exits non-zero if any of them reports a failure; each prints its own summary.
#
#   scripts/chaos.sh                      # full size: 1000 injections, 120 s of writers
#   scripts/chaos.sh --quick              # 100 injections, 20 s of writers, short slowloris
#   scripts/chaos.sh --injections N --seconds S --seed K --only kill|concurrent|hostile
#
# Everything listens on 127.0.0.1 on free ports, in temp dirs (kept when something fails).
# Needs python3 (standard library only), git and cargo. KTRA_BIN=path uses that binary instead
# of building target/release/ktra.
set -uo pipefail
cd "$(dirname "$0")/.."

injections=1000
seconds=120
seed=1
max_seconds=3600
slowloris=20
only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) injections=100; seconds=20; slowloris=8; max_seconds=900 ;;
        --injections) injections=$2; shift ;;
        --seconds) seconds=$2; shift ;;
        --seed) seed=$2; shift ;;
        --max-seconds) max_seconds=$2; shift ;;
        --only) only=$2; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

if [ -n "${KTRA_BIN:-}" ]; then
    ktra=$KTRA_BIN
else
    cargo build --release --locked --quiet || exit 1
    ktra=target/release/ktra
fi

status=0
summary=()
step() {
    local name=$1
    shift
    if [ -n "$only" ] && [ "$only" != "$name" ]; then
        return
    fi
    echo "=== $name: $*"
    local start=$SECONDS
    if python3 "$@"; then
        summary+=("$name: ok ($((SECONDS - start)) s)")
    else
        summary+=("$name: FAILED ($((SECONDS - start)) s)")
        status=1
    fi
}

step kill scripts/chaos/kill.py --ktra "$ktra" --count "$injections" --seed "$seed" \
    --check-every $(( injections < 100 ? injections : 100 )) --max-seconds "$max_seconds"
step concurrent scripts/chaos/concurrent.py --ktra "$ktra" --seconds "$seconds"
step hostile scripts/chaos/hostile.py --ktra "$ktra" --slowloris-seconds "$slowloris"

echo
printf '%s\n' "${summary[@]}"
exit $status
