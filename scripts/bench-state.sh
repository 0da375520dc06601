#!/usr/bin/env bash
# The SQL state backends' read latency: starts a real PostgreSQL and a real MariaDB on
# 127.0.0.1 (tests/testsuite/support/dbservers.rs), writes 1,001 token-like records, and times
# 10,000 `get`s of one record by primary key through ktra's `state::sql::Sql` (pool, private
# runtime, driver and all). Prints one line per backend: p50, p99 and max.
#
#   scripts/bench-state.sh
#
# Environment:
#   BENCH_STATE_PROFILE  `test` (default: the debug build the test suite uses) or `release`
#                        (an optimized build of the test binary; slower to build)
set -euo pipefail
cd "$(dirname "$0")/.."

profile=()
if [[ "${BENCH_STATE_PROFILE:-test}" == release ]]; then
  profile=(--release)
fi
cargo test "${profile[@]}" --quiet --test testsuite state_sql:: -- \
  --ignored --nocapture --test-threads 1 _get_latency 2>&1 | grep -o 'BENCH .*' | sed 's/^BENCH //'
