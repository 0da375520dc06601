#!/usr/bin/env bash
# End-to-end demo: build ktra, make a registry named `demo` in a temporary directory, serve
# its public/ folder on 127.0.0.1, add the example crates, yank demo-base 1.1.0, then build
# and run examples/consumer against the sparse index with a private CARGO_HOME.
#
# Needs cargo and python3. Environment:
#   KTRA_BIN=path   use this ktra binary instead of building target/release/ktra
#   KEEP=1          keep the temporary directory (its path is printed at the end)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf '\n==> %s\n' "$*"; }

if [[ -n "${KTRA_BIN:-}" ]]; then
    ktra="$KTRA_BIN"
else
    say "building ktra (release)"
    (cd "$root" && cargo build --release)
    ktra="${CARGO_TARGET_DIR:-$root/target}/release/ktra"
fi
[[ -x "$ktra" ]] || { echo "no ktra binary at $ktra" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/ktra-demo.XXXXXX")"
server_pid=""
cleanup() {
    status=$?
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ "${KEEP:-}" == 1 || $status -ne 0 ]]; then
        echo "work directory kept: $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

reg="$work/reg"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
base_url="http://127.0.0.1:$port"
sparse_index="sparse+$base_url/index/"

say "serving $reg/public at $base_url"
# The directory does not exist yet: http.server looks files up per request, and `ktra init`
# wants to create the registry itself.
python3 -m http.server --bind 127.0.0.1 "$port" --directory "$reg/public" \
    >"$work/http.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/http.log" >&2; exit 1; }
    sleep 0.1
done

say "ktra init"
"$ktra" init "$reg" --url "$base_url" --name demo
export KTRA_REGISTRY="$reg"

# A private cargo home with no configuration: `ktra add` shows the registry to the cargo it
# runs by itself, and the consumer names it in its own .cargo/config.toml.
export CARGO_HOME="$work/cargo-home"
mkdir -p "$CARGO_HOME"
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR CARGO_REGISTRIES_DEMO_INDEX

# Work on a copy, so that packaging leaves nothing in the source tree and no VCS state
# (uncommitted examples) gets in the way.
mkdir -p "$work/examples"
tar -C "$root/examples" --exclude=target --exclude=Cargo.lock -cf - . | tar -C "$work/examples" -xf -

say "adding the example crates (leaves first)"
for dir in demo-base demo-base-1.1 demo-sys demo-codegen demo-workspace demo-features; do
    echo "--- ktra add examples/$dir"
    "$ktra" add "$work/examples/$dir"
done

say "yanking demo-base@1.1.0"
# http.server's Last-Modified has one-second resolution, and cargo revalidates cached index
# files with it: had cargo fetched demo-base's index file from this server since its last
# write, a yank within the same second would look unchanged to cargo.
sleep 1
"$ktra" yank demo-base@1.1.0

say "building and running the consumer against $sparse_index"
consumer="$work/consumer"
cp -R "$work/examples/consumer" "$consumer"
mkdir -p "$consumer/.cargo"
cat >"$consumer/.cargo/config.toml" <<EOF
[registries.demo]
index = "$sparse_index"
EOF
output="$(cd "$consumer" && CARGO_TARGET_DIR="$work/consumer-target" cargo run --quiet)"
printf '%s\n' "$output"

grep -qx 'demo-base: hello from demo-base 1.0.0' <<<"$output" ||
    { echo "the consumer did not get demo-base 1.0.0" >&2; exit 1; }
if grep -A1 '^name = "demo-base"$' "$consumer/Cargo.lock" | grep -q '^version = "1.1.0"$'; then
    echo "Cargo.lock has the yanked demo-base 1.1.0" >&2
    exit 1
fi

say "ktra verify"
"$ktra" verify

say "registry contents"
"$ktra" list

cat <<EOF

Success:
  registry        $reg
  sparse index    $sparse_index
  git index       file://$reg/public/index.git
  consumer        built from the registry, demo-base 1.0.0 (1.1.0 yanked), verify passed
EOF
