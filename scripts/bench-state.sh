#!/usr/bin/env bash
# The state-backend benchmark (issue 13 item 9). Starts PostgreSQL, MariaDB, Redis and nx-27017
# (the MongoDB stand-in) on free 127.0.0.1 ports in a scratch folder, the way the tests do
# (tests/testsuite/support/dbservers.rs, scripts/supervise.py), but PostgreSQL DURABLE (fsync,
# synchronous_commit and full_page_writes on; the tests turn them off), MariaDB with
# innodb_flush_log_at_trx_commit=1 and Redis with an append-only file synced every second; and
# stops them at the end, on an error or on Ctrl-C. Then measures:
#   1. token lookup latency per backend (files, PostgreSQL, MariaDB, Redis, MongoDB):
#      `ktra state check --samples N`, STATE_RUNS runs; and the receiver's token check
#      (`GET /api/ktra/check-read` of a private registry) from one client
#   2. the connection pools: 32 clients at once on that endpoint, the receiver's database
#      connections counted from /proc, its peak RSS
#   3. a publish at 100,000 versions: real `cargo publish` of STATE_PUBLISHES new versions of one
#      crate (which has 1,000 versions already) into the same registry with file state and with
#      PostgreSQL state, interleaved, each timed; the same as bare API publishes; the statements
#      one PostgreSQL publish makes; `ktra serve`'s peak RSS (VmHWM) after the publishes
# Prints a markdown report (for docs/performance.md) and writes BENCH_DIR/state-results.json.
#
#   scripts/bench-state.sh
#
# Needs python3, cargo, ss (iproute2), Debian's postgresql, mariadb-server and redis-server, and
# nx-27017 from PyPI (`.ci/run` installs them all).
# Environment:
#   BENCH_DIR         cache and scratch folder (default /tmp/ktra-bench); the 100,000-version
#                     registry is cached there (state-100k, about 1 minute to build); it is
#                     copied, never modified
#   STATE_SAMPLES     lookups per `state check` run (default 10000); STATE_RUNS runs (default 3)
#   STATE_PUBLISHES   timed publishes per registry and kind (default 20)
#   STATE_ONLY        `tokens` or `publish`: only that part
#   STATE_REBUILD=1   rebuild the cached registry;  STATE_KEEP=1  keep BENCH_DIR/state-work
#   KTRA_BIN          measure this binary instead of building target/release/ktra
#   STATE_CHECK_BIN   run `STATE_CHECK_BIN -r REG state check --samples N` instead of this ktra's
#                     (a build that has the command, when this one does not)
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-/tmp/ktra-bench}
mkdir -p "$BENCH_DIR"
for tool in python3 cargo ss; do
  command -v "$tool" >/dev/null || { echo "error: the benchmark needs $tool" >&2; exit 1; }
done

if [[ -n ${KTRA_BIN:-} ]]; then
  [[ -x $KTRA_BIN ]] || { echo "error: KTRA_BIN=$KTRA_BIN is not an executable" >&2; exit 1; }
  ktra=$KTRA_BIN
else
  echo "[bench-state] building ktra (release)" >&2
  cargo build --release --quiet
  ktra=$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/ktra
fi

args=(--ktra "$ktra" --bench-dir "$BENCH_DIR" --samples "${STATE_SAMPLES:-10000}"
  --runs "${STATE_RUNS:-3}" --publishes "${STATE_PUBLISHES:-20}")
[[ -n ${STATE_CHECK_BIN:-} ]] && args+=(--check-bin "$STATE_CHECK_BIN")
[[ -n ${STATE_ONLY:-} ]] && args+=(--only "$STATE_ONLY")
[[ ${STATE_REBUILD:-0} == 1 ]] && args+=(--rebuild)
[[ ${STATE_KEEP:-0} == 1 ]] && args+=(--keep)

# The driver stops the servers itself on an error, Ctrl-C or SIGTERM; this trap passes a
# signal given to this script on to it (the servers' supervisors also stop them should the
# driver die: they hold a pipe from it).
driver=
trap '[[ -n $driver ]] && kill -TERM "$driver" 2>/dev/null; wait "$driver" 2>/dev/null' INT TERM HUP
PYTHONDONTWRITEBYTECODE=1 python3 scripts/bench/state_run.py "${args[@]}" &
driver=$!
wait "$driver"
