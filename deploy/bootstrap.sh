#!/usr/bin/env bash
# Turnpike's two set-up commands (see README.md):
#   deploy/bootstrap.sh run [turnpike options...]
#       install missing Debian packages, build a Release binary, start build/turnpike
#       (with no options and no turnserver.conf: the embedded loopback demo configuration)
#   deploy/bootstrap.sh test
#       install what the tests need, build (GCC Release, then Clang with ASan+UBSan and
#       libFuzzer), and run every test. TURNPIKE_FUZZ_SECONDS=N fuzzes each target N seconds
#       (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "bootstrap: run as root or install sudo" >&2; exit 1; }
  sudo=sudo
fi

build_packages=(cmake ninja-build g++ pkg-config libboost1.81-dev libboost-json1.81-dev
                libboost-url1.81-dev libssl-dev zlib1g-dev
                libspdlog-dev libfmt-dev libcli11-dev libidn-dev libhiredis-dev
                prometheus-cpp-dev libsystemd-dev libavahi-client-dev libsqlite3-dev libpq-dev
                clang libbpf-dev libcap-dev)  # clang: relay-mux BPF program; libcap: its drop
# coturn: turnutils_stunclient/uclient/peer and turnadmin; chromium + Node.js: the browser
# interop test; postgresql: the psql-userdb tests (a server of their own, never the system's);
# dpkg-dev and lintian: the Debian package test (cpack, dpkg-shlibdeps, lintian);
# clang-format and clang-tidy: the style tests (tests/style/); ethtool: checksum offload off
# on the kernel relay's veth test; golang-go and pion's TURN library: the pion client's tests
# (tests/interop/pion/, built at test build time).
test_packages=(libgtest-dev libgmock-dev libclang-rt-14-dev coturn chromium openssl
               redis-server redis-tools systemd python3-yaml valgrind iproute2
               avahi-daemon avahi-utils dbus-daemon postgresql dpkg-dev lintian
               clang-format clang-tidy git ethtool golang-go golang-github-pion-turn.v2-dev)

install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
}

jobs=$(nproc)
# ctest runs two tests per core: most wait on clients, timers and child processes rather than
# compute (the suite's wall time halves, measured on 2 cores); the CPU-bound fuzzing runs
# count as two tests each (PROCESSORS 2 in tests/fuzz/CMakeLists.txt).
test_jobs=$((2 * jobs))

case "${1:-}" in
  run)
    shift
    install_missing "${build_packages[@]}"
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTURNPIKE_TESTS=OFF >/dev/null
    cmake --build build -j "$jobs" --target turnpike
    exec build/turnpike "$@"
    ;;
  test)
    install_missing "${build_packages[@]}" "${test_packages[@]}"
    # Any Node.js from 18 (Debian 12's) up runs the pinned playwright-core.
    command -v npm >/dev/null || install_missing nodejs npm
    (cd tests/interop/browser && npm ci --no-audit --no-fund --loglevel=error)
    # 1. GCC, Release, warnings as errors: unit, integration, corpus replay.
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTURNPIKE_TESTS=ON \
      -DTURNPIKE_WERROR=ON >/dev/null
    cmake --build build -j "$jobs"
    (cd build && ctest --output-on-failure -j "$test_jobs")
    # 2. Clang with AddressSanitizer + UndefinedBehaviorSanitizer: the same tests again, and
    #    the libFuzzer targets over their corpus plus a short fuzzing run.
    #    -O1 with line tables only: what the sanitizers need for their reports (file:line in
    #    every frame), a fifth less compile time than -O2 with full debug information.
    CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
      -DTURNPIKE_SANITIZE=ON -DTURNPIKE_FUZZ=ON -DTURNPIKE_WERROR=ON \
      -DTURNPIKE_FUZZ_SECONDS="${TURNPIKE_FUZZ_SECONDS:-20}" >/dev/null
    cmake --build build-asan -j "$jobs"
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      ctest --output-on-failure -j "$test_jobs")
    ;;
  *)
    echo "usage: $0 run [turnpike options...] | test" >&2
    exit 2
    ;;
esac
