#!/usr/bin/env bash
# The project's test command: installs the Debian packages the tests need (when
# run as root), then checks formatting, lints, tests and docs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the test suite uses, as "package:command-it-provides".
# (Grows as issues add tests against real components: etcd, CNI plugins, …)
PACKAGES=("etcd-server:etcd" "protobuf-compiler:protoc" "containernetworking-plugins:/usr/lib/cni/bridge"
          "iptables:iptables-restore" "iproute2:ip")

missing=()
for entry in "${PACKAGES[@]}"; do
    pkg=${entry%%:*}
    cmd=${entry#*:}
    if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "$cmd" ]; then
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing missing Debian packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        echo "error: the tests need these Debian packages: ${missing[*]}" >&2
        echo "       install them (apt-get install ${missing[*]}) or run this script as root" >&2
        exit 1
    fi
fi

# CI builds once from a clean clone: incremental state only costs disk there.
if [ -n "${CI:-}" ]; then
    export CARGO_INCREMENTAL=0
fi
echo "==> disk before the build: $(df -h . | awk 'NR==2 {print $4 " free of " $2}')"

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy (-D warnings)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

echo "==> cargo test"
cargo test --workspace --all-features

echo "==> cargo doc (rustdoc warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features

echo "==> disk after the build: $(df -h . | awk 'NR==2 {print $4 " free of " $2}'), target $(du -sh target 2>/dev/null | cut -f1)"
echo "==> all checks passed"
