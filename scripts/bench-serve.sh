#!/usr/bin/env bash
# The server benchmark: builds ktra in release mode, then measures `ktra serve` against the
# targets of the server issue:
#   1. index file (and config.json) requests per second, ktra serve vs nginx serving the same
#      public/ folder with the server block of `ktra nginx-config` (wrk, same concurrency)
#   2. publish of a 1 MiB crate over the API into a 100,000-version registry (client round trip)
#   3. 16 concurrent publishers of one crate: index complete, `ktra verify` clean, only genuine
#      conflicts, peak RSS of the server
# Everything listens on 127.0.0.1 (ports picked by the kernel). Prints a markdown table and
# writes BENCH_DIR/serve-results.json. About 4-5 minutes with the cached registry.
#
#   scripts/bench-serve.sh
#
# Needs python3, nginx and wrk (installed with apt-get when missing and running as root).
# Environment:
#   BENCH_DIR            cache and scratch folder (default /tmp/ktra-bench); the synthetic
#                        100k-version registry cached there by scripts/bench.sh is reused (and
#                        built the same way if missing); it is copied, never modified
#   SERVE_ROUNDS         wrk rounds per server and path (default 3)
#   SERVE_WRK_SECONDS    seconds per wrk run (default 5); SERVE_WRK_CONNECTIONS (default 32)
#   SERVE_NGINX_WORKERS  nginx worker_processes (default 2, like ktra serve's one loop per core on 2 cores)
#   SERVE_PUBLISH_RUNS   timed publishes per registry (default 30)
#   SERVE_PUBLISHERS     concurrent publishers (default 16); SERVE_VERSIONS_EACH (default 25)
#   SERVE_KEEP=1         keep BENCH_DIR/serve-work (the registry copies) afterwards
#   KTRA_BIN=path        measure this ktra binary instead of building target/release/ktra
# The binary is copied into BENCH_DIR/serve-work first, so a rebuild during the run changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-/tmp/ktra-bench}
mkdir -p "$BENCH_DIR"
for tool in python3; do
  command -v "$tool" >/dev/null || { echo "error: the benchmark needs $tool" >&2; exit 1; }
done
if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
  echo "error: the benchmark compares ktra serve with nginx, which is not installed" >&2
  exit 1
fi
export PATH="$PATH:/usr/sbin"
if ! command -v wrk >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "[bench-serve] installing wrk (apt-get install -y wrk)" >&2
    apt-get install -y -qq wrk >&2 || { apt-get update -qq >&2 && apt-get install -y -qq wrk >&2; }
  fi
  command -v wrk >/dev/null || {
    echo "error: the benchmark needs wrk (the HTTP load generator): install it, e.g. 'apt-get install wrk' as root" >&2
    exit 1
  }
fi

given=()
if [[ -n ${KTRA_BIN:-} ]]; then
  [[ -x $KTRA_BIN ]] || { echo "error: KTRA_BIN=$KTRA_BIN is not an executable" >&2; exit 1; }
  ktra=$KTRA_BIN
  given=(--binary-given)
else
  command -v cargo >/dev/null || { echo "error: building ktra needs cargo (or set KTRA_BIN)" >&2; exit 1; }
  echo "[bench-serve] building ktra (release)" >&2
  cargo build --release --quiet
  ktra=$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/ktra
fi

args=(--ktra "$ktra" "${given[@]}" --bench-dir "$BENCH_DIR"
  --rounds "${SERVE_ROUNDS:-3}" --wrk-seconds "${SERVE_WRK_SECONDS:-5}"
  --wrk-connections "${SERVE_WRK_CONNECTIONS:-32}" --nginx-workers "${SERVE_NGINX_WORKERS:-2}"
  --publish-runs "${SERVE_PUBLISH_RUNS:-30}"
  --publishers "${SERVE_PUBLISHERS:-16}" --versions-each "${SERVE_VERSIONS_EACH:-25}")
[[ ${SERVE_KEEP:-0} == 1 ]] && args+=(--keep)
PYTHONDONTWRITEBYTECODE=1 exec python3 scripts/bench/serve_run.py "${args[@]}"
