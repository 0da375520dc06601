#!/usr/bin/env bash
# The site benchmark (issue 5): builds ktra in release mode, then measures the crate-browser site
# against the issue's targets:
#   1. `ktra site` (full build) of 20,000 crates / 100,000 versions: ≤ 10 s; peak RSS: every page
#      new (a registry made before the site, metadata back-filled from the .crate files), every
#      page replaced (a template changed) and nothing changed (nothing written)
#   2. the site's cost in one `ktra add`: ≤ 5 ms and independent of registry size: the same add
#      into the registry and into a twin with `[site] enabled = false`, interleaved, in
#      registries of 1, 20,000 (bare and realistic) and 100,000 crates; and the whole add's
#      time against a ktra from before the site (issue 2's single-add numbers)
#   3. crate page size ≤ 50 KB (median, p99, largest; a page with 50 versions and a 20 KB README)
#   4. search-index.json ≤ 100 bytes a crate
#   5. issue 2's bulk add of the real corpus vs the sha256sum + cp + sync floor, this ktra (with
#      and without its site) and the pre-site one (when a corpus is there)
# on two 20,000-crate registries: a copy of scripts/bench.sh's cached synthetic registry (bare
# manifests, built the same way if missing) and a realistic one (descriptions, keywords, READMEs;
# scripts/bench/synth_rich.py), built once and cached in BENCH_DIR. Prints a markdown table and
# writes BENCH_DIR/site-results.json. About 8 minutes with both registries and the baseline
# cached; the first run adds about 2 minutes for the realistic registry and one release build
# of the baseline.
#
#   scripts/bench-site.sh
#
# Needs python3 and /usr/bin/time.
# Environment:
#   BENCH_DIR            cache and scratch folder (default /tmp/ktra-bench)
#   CORPUS               corpus folder for the bulk add (default BENCH_DIR/corpus, as made by
#                        scripts/bench.sh); the bulk add is skipped when there is none
#   SITE_BASELINE_REV    git revision of the ktra to compare adds with (default c27de07, the last
#                        commit before the site work); built once into BENCH_DIR/ktra-REV from
#                        `git archive` (same CARGO_TARGET_DIR); "none" to skip the comparison
#   SITE_BASELINE_BIN    a ready baseline binary instead of SITE_BASELINE_REV
#   SITE_RUNS            `ktra site` runs that change nothing (default 2). Without a journal (as
#                        on this machine) ext4 avoids reusing inodes freed in the last minutes, so
#                        file creation is slow after mass deletion: the script deletes nothing in
#                        bulk until the end; see SiteBench.discard in site_run.py
#   SITE_SINGLE_RUNS     single-add rounds (default 30)
#   BENCH_RUNS           bulk add runs (default 5)
#   BENCH_REBUILD=1      rebuild the cached bare registry; SITE_REBUILD_RICH=1 the realistic one;
#                        SITE_REBUILD_WIDE=1 the 100,000-crate one (single adds only)
#   SITE_KEEP=1          keep BENCH_DIR/site-work (the registry copies) afterwards
#   KTRA_BIN=path        measure this ktra binary instead of building target/release/ktra
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-/tmp/ktra-bench}
mkdir -p "$BENCH_DIR"
for tool in python3 sha256sum /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "error: the site benchmark needs $tool" >&2; exit 1; }
done

target_dir() {
  cargo metadata --format-version 1 --no-deps --manifest-path "$1/Cargo.toml" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])'
}

# The baseline first: it shares the target folder, so the measured ktra is built last.
baseline=${SITE_BASELINE_BIN:-}
label=
rev=${SITE_BASELINE_REV:-c27de07}
if [[ -n $baseline ]]; then
  [[ -x $baseline ]] || { echo "error: SITE_BASELINE_BIN=$baseline is not an executable" >&2; exit 1; }
  label="baseline $(basename "$baseline")"
elif [[ $rev != none ]]; then
  full=$(git rev-parse --short "$rev^{commit}")
  baseline=$BENCH_DIR/ktra-$full
  label="ktra $full (before the site)"
  if [[ ! -x $baseline ]]; then
    echo "[bench-site] building the baseline ktra at $full (release, once; cached as $baseline)" >&2
    src=$BENCH_DIR/baseline-src-$full
    rm -rf "$src" && mkdir -p "$src"
    git archive "$full" | tar -x -C "$src"
    # Same CARGO_TARGET_DIR when one is set (the dependencies are shared), else the repository's
    # target folder, so the build is not a cold one.
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$(target_dir .)}
    cargo build --release --quiet --manifest-path "$src/Cargo.toml"
    cp "$CARGO_TARGET_DIR/release/ktra" "$baseline.partial"
    mv "$baseline.partial" "$baseline"
    rm -rf "$src"
  fi
fi

if [[ -n ${KTRA_BIN:-} ]]; then
  [[ -x $KTRA_BIN ]] || { echo "error: KTRA_BIN=$KTRA_BIN is not an executable" >&2; exit 1; }
  built=$KTRA_BIN
else
  echo "[bench-site] building ktra (release)" >&2
  cargo build --release --quiet
  built=$(target_dir .)/release/ktra
fi
# A copy, so a rebuild during the run changes nothing.
ktra=$BENCH_DIR/ktra-site-bench
cp "$built" "$ktra.partial" && mv "$ktra.partial" "$ktra"

args=(--ktra "$ktra" --bench-dir "$BENCH_DIR" --corpus "${CORPUS:-$BENCH_DIR/corpus}"
  --runs "${BENCH_RUNS:-5}" --site-runs "${SITE_RUNS:-2}" 
  --single-runs "${SITE_SINGLE_RUNS:-30}")
[[ -n $baseline ]] && args+=(--baseline "$baseline" --baseline-label "$label")
[[ ${BENCH_REBUILD:-0} == 1 ]] && args+=(--rebuild)
[[ ${SITE_REBUILD_RICH:-0} == 1 ]] && args+=(--rebuild-rich)
[[ ${SITE_REBUILD_WIDE:-0} == 1 ]] && args+=(--rebuild-wide)
[[ ${SITE_KEEP:-0} == 1 ]] && args+=(--keep)
PYTHONDONTWRITEBYTECODE=1 exec python3 scripts/bench/site_run.py "${args[@]}"
