#!/usr/bin/env bash
# Fuzzing on the stable toolchain: runs each harness of src/fuzz_tests/ (the `.crate` reader,
# manifest to index entry, the publish body decoder, the index line parser, the settings
# parser) for SECONDS seconds each (default 60), one after the other, in the test profile
# (KTRA_FUZZ_RELEASE=1: optimized, several times more cases per second after a longer build).
#
#   scripts/fuzz.sh [SECONDS]
#
# A failing input is saved under target/fuzz-findings/ and the failure names the seed:
# KTRA_FUZZ_SEED=N scripts/fuzz.sh repeats the run. Keep the input as a regression case.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
harnesses=(
  fuzz_tests::archive::random_bytes
  fuzz_tests::archive::mutated_and_random_tarballs
  fuzz_tests::manifest::random_toml_ish_text
  fuzz_tests::manifest::structured_random_manifests
  fuzz_tests::manifest::random_target_keys
  fuzz_tests::publish_body::random_bytes
  fuzz_tests::publish_body::bodies_of_cargos_layout
  fuzz_tests::index_line::random_bytes
  fuzz_tests::index_line::mutated_real_lines
  fuzz_tests::config::random_toml_ish_settings
)
profile=()
if [[ "${KTRA_FUZZ_RELEASE:-}" == 1 ]]; then profile=(--release); fi
cargo test --locked "${profile[@]}" --lib --no-run
for h in "${harnesses[@]}"; do
  KTRA_FUZZ_SECONDS="$seconds" cargo test --locked "${profile[@]}" --lib -q -- \
    --exact "$h" --nocapture 2>&1 | grep -E "cases|panicked|failed|FAILED|saved" || {
    echo "fuzz: $h failed" >&2
    exit 1
  }
done
echo "fuzz: every harness ran ${seconds}s without a finding"
