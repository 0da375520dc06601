#!/usr/bin/env bash
# The test command: formatting, lints, then every unit and integration test (the integration
# tests drive the real ktra binary, real cargo and a real static web server on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
