#!/usr/bin/env bash
# The mirror benchmark: builds ktra in release mode, then measures `ktra sync-mirror` against the
# targets of the mirror issue:
#   1. corpus: ~500 real crates resolved and fetched by cargo (its default registry, a private
#      CARGO_HOME) with the full index file of each as cargo cached it; cached in
#      BENCH_DIR/mirror-corpus (downloads ~80 MB the first time)
#   2. upstream: that corpus as a static sparse registry served by nginx on 127.0.0.1
#   3. baseline: `cargo fetch --locked` of the corpus project from the upstream, fresh CARGO_HOME
#   4. `ktra sync-mirror --lockfile` into a fresh registry: ≤ 0.7× the baseline; peak RSS
#   5. re-sync with nothing changed: ≤ 5 % of the first sync
#   6. sanity: upstream stopped, the synced public/ served by `python3 -m http.server`, cargo
#      fetch --locked through the mirror must succeed (exit status 2 when it does not)
#   7. `ktra sync-mirror --all` of the synthetic 100,000-version registry (the one
#      scripts/bench.sh caches in BENCH_DIR, built the same way when missing): peak RSS ≤ 100 MiB
# Prints a markdown table and writes BENCH_DIR/mirror-results.json. Servers are stopped on exit.
# About 4 minutes with the cached corpus and registry on 2 cores; needs ~7 GB free in BENCH_DIR
# while it runs (finished trees are deleted only after the last timed run).
#
#   scripts/bench-mirror.sh
#
# Needs python3 (3.11+), cargo, nginx and /usr/bin/time (nginx and time are installed with
# apt-get when missing and running as root).
# Environment:
#   BENCH_DIR             cache and scratch folder (default /tmp/ktra-bench)
#   BENCH_RUNS            runs per measurement (default 5)
#   MIRROR_RESYNCS        re-syncs timed after each first sync (default 5)
#   MIRROR_JOBS           pass --jobs N to every sync-mirror (default: ktra's own default)
#   MIRROR_NGINX_WORKERS  nginx worker_processes of the upstream (default 2)
#   MIRROR_REBUILD_CORPUS=1  resolve and download the corpus again
#   MIRROR_SKIP_FULL=1    skip the 100,000-version full mirror (7)
#   MIRROR_SKIP_LOCKFILE=1  skip the corpus measurements (1-6)
#   MIRROR_KEEP=1         keep BENCH_DIR/mirror-work (the synced registries) afterwards
#   KTRA_BIN=path         measure this ktra binary instead of building target/release/ktra
# The binary is copied into BENCH_DIR first, so a rebuild during the run changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-/tmp/ktra-bench}
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
export PATH="$PATH:/usr/sbin"

need_apt() { # need_apt COMMAND PACKAGE: install PACKAGE with apt-get when COMMAND is missing
  command -v "$1" >/dev/null && return 0
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "[bench-mirror] installing $2 (apt-get install -y $2)" >&2
    apt-get install -y -qq "$2" >&2 || { apt-get update -qq >&2 && apt-get install -y -qq "$2" >&2; }
  fi
  command -v "$1" >/dev/null || {
    echo "error: the benchmark needs $1: install it, e.g. 'apt-get install $2' as root" >&2
    exit 1
  }
}
command -v python3 >/dev/null || { echo "error: the benchmark needs python3" >&2; exit 1; }
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "error: the benchmark needs python3 3.11 or newer (tomllib)" >&2; exit 1; }
command -v cargo >/dev/null || {
  echo "error: the benchmark needs cargo (the corpus and the baseline are cargo's own fetches)" >&2
  exit 1
}
need_apt nginx nginx
[[ -x /usr/bin/time ]] || { need_apt /usr/bin/time time; }

if [[ -n ${KTRA_BIN:-} ]]; then
  [[ -x $KTRA_BIN ]] || { echo "error: KTRA_BIN=$KTRA_BIN is not an executable" >&2; exit 1; }
  built=$KTRA_BIN
else
  echo "[bench-mirror] building ktra (release)" >&2
  cargo build --release --quiet
  built=$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/ktra
fi
"$built" sync-mirror --help >/dev/null 2>&1 || {
  echo "error: $built has no sync-mirror command" >&2
  exit 1
}
ktra=$BENCH_DIR/mirror-ktra
cp "$built" "$ktra.tmp" && mv "$ktra.tmp" "$ktra"

args=(--ktra "$ktra" --bench-dir "$BENCH_DIR" --runs "${BENCH_RUNS:-5}" --resyncs "${MIRROR_RESYNCS:-5}"
  --jobs "${MIRROR_JOBS:-0}" --nginx-workers "${MIRROR_NGINX_WORKERS:-2}")
[[ ${MIRROR_REBUILD_CORPUS:-0} == 1 ]] && args+=(--rebuild-corpus)
[[ ${MIRROR_SKIP_FULL:-0} == 1 ]] && args+=(--skip-full)
[[ ${MIRROR_SKIP_LOCKFILE:-0} == 1 ]] && args+=(--skip-lockfile)
[[ ${MIRROR_KEEP:-0} == 1 ]] && args+=(--keep)
PYTHONDONTWRITEBYTECODE=1 exec python3 scripts/bench/mirror_run.py "${args[@]}"
