#!/usr/bin/env bash
# The performance benchmark: builds ktra in release mode, then measures bulk add against the
# hashing-and-copying floor, single-crate add into an empty vs a 100,000-version registry,
# verify against sha256sum, and index-line fidelity against crates.io's own lines.
# Prints a markdown table (for docs/performance.md) and writes BENCH_DIR/results.json.
#
#   scripts/bench.sh
#
# Environment:
#   BENCH_DIR      cache and scratch folder (default /tmp/ktra-bench); holds the downloaded corpus
#                  and the synthetic 100k-version registry between runs
#   CORPUS         an existing corpus folder (crates/*.crate + crates-io-lines.jsonl); default
#                  BENCH_DIR/corpus, created on first use with MAKE_CORPUS
#   MAKE_CORPUS    the corpus builder (default /work/shared/scripts/make-corpus.sh)
#   BENCH_RUNS     runs per measurement (default 5); BENCH_SINGLE_RUNS for single add (default 30)
#   BENCH_REBUILD  set to 1 to rebuild the cached synthetic registry
#   BENCH_ONLY     `bulk`: only the floor and the bulk add (no synthetic registry needed)
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-/tmp/ktra-bench}
MAKE_CORPUS=${MAKE_CORPUS:-/work/shared/scripts/make-corpus.sh}
mkdir -p "$BENCH_DIR"
for tool in python3 sha256sum /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "error: the benchmark needs $tool" >&2; exit 1; }
done

echo "[bench] building ktra (release)" >&2
cargo build --release --quiet
ktra=$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/ktra

if [[ -z ${CORPUS:-} ]]; then
  CORPUS=$BENCH_DIR/corpus
  if [[ ! -f $CORPUS/crates-io-lines.jsonl ]]; then
    echo "[bench] no corpus in $CORPUS yet: building it with $MAKE_CORPUS (downloads ~46 MB)" >&2
    rm -rf "$CORPUS.partial"
    bash "$MAKE_CORPUS" "$CORPUS.partial" >&2
    rm -rf "$CORPUS"
    mv "$CORPUS.partial" "$CORPUS"
  fi
fi
if [[ ! -f $CORPUS/crates-io-lines.jsonl || ! -d $CORPUS/crates ]]; then
  echo "error: $CORPUS is not a corpus (needs crates/ and crates-io-lines.jsonl)" >&2
  exit 1
fi

args=(--ktra "$ktra" --corpus "$CORPUS" --bench-dir "$BENCH_DIR"
  --runs "${BENCH_RUNS:-5}" --single-runs "${BENCH_SINGLE_RUNS:-30}")
[[ ${BENCH_REBUILD:-0} == 1 ]] && args+=(--rebuild)
[[ -n ${BENCH_ONLY:-} ]] && args+=(--only "$BENCH_ONLY")
PYTHONDONTWRITEBYTECODE=1 exec python3 scripts/bench/run.py "${args[@]}"
