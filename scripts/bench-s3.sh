#!/usr/bin/env bash
# The object-storage benchmark (issue 12): store requests of one `ktra add` at several
# registry sizes (counted by the S3 server, with and without the site), the add's peak RSS,
# and 8 concurrent writers on one crate against one writer doing the same adds. Runs moto's
# S3 server on 127.0.0.1 (scripts/moto-server.py; `pip install 'moto[server]==5.2.1'`).
#
#   scripts/bench-s3.sh
#
# Environment:
#   S3_SIZES     registry sizes in versions (default 1000,10000)
#   S3_WRITERS   concurrent writers (default 8); S3_EACH versions each (default 25)
#   S3_WORK      scratch folder (default a new temporary folder, removed unless S3_KEEP=1)
#   KTRA_BIN     measure this binary instead of building target/release/ktra
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${KTRA_BIN:-}" ]]; then
  echo "[bench-s3] building ktra (release)" >&2
  cargo build --release --quiet
  KTRA_BIN=$PWD/target/release/ktra
fi
export KTRA_BIN
exec python3 scripts/bench/s3_run.py
