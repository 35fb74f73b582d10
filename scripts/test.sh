#!/usr/bin/env bash
# The whole test suite: what CI runs and what a developer runs before pushing.
# Installs what the tests need, then runs formatting, lints and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Build prerequisites for the C parts of the crypto crates (pqcrypto: PQClean).
need_pkgs=()
command -v cc >/dev/null 2>&1 || need_pkgs+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need_pkgs+=(pkg-config)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  sudo_if_needed apt-get update
  sudo_if_needed apt-get install -y "${need_pkgs[@]}"
fi

# End-to-end tests (tests/e2e): a private ngircd per test; irssi and tmux to drive a real client.
e2e_pkgs=()
command -v ngircd >/dev/null 2>&1 || [ -x /usr/sbin/ngircd ] || e2e_pkgs+=(ngircd)
command -v irssi >/dev/null 2>&1 || e2e_pkgs+=(irssi)
command -v tmux >/dev/null 2>&1 || e2e_pkgs+=(tmux)
if [ "${#e2e_pkgs[@]}" -gt 0 ]; then
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y "${e2e_pkgs[@]}"
  if [[ " ${e2e_pkgs[*]} " == *" ngircd "* ]]; then
    # Debian's package starts a system ngircd on port 6667 (otrbnc's default): stop it and
    # keep it from starting at boot. The tests start their own servers. No init system: fine.
    sudo_if_needed service ngircd stop >/dev/null 2>&1 || true
    sudo_if_needed systemctl disable ngircd >/dev/null 2>&1 || true
    sudo_if_needed update-rc.d ngircd disable >/dev/null 2>&1 || true
  fi
fi

# Tor tests (tests/e2e/tor.rs): a private Tor network of Debian's tor daemons on loopback,
# started now in the background so it forms while the code builds; the tests wait for it.
if [ "${OTRBNC_TOR_TESTNET:-}" = "" ] && [ "${OTRBNC_SKIP_TOR:-0}" != "1" ]; then
  if ! command -v tor >/dev/null 2>&1 && ! [ -x /usr/sbin/tor ]; then
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y tor
    # Debian's package starts a system tor that would try to reach the real Tor network:
    # stop it and keep it from starting at boot. The tests use their own network.
    sudo_if_needed service tor stop >/dev/null 2>&1 || true
    sudo_if_needed systemctl disable tor >/dev/null 2>&1 || true
    sudo_if_needed update-rc.d tor disable >/dev/null 2>&1 || true
  fi
  tor_dir=$(mktemp -d "${TMPDIR:-/tmp}/otrbnc-tor-testnet.XXXXXX")
  export OTRBNC_TOR_TESTNET="$tor_dir"
  ./scripts/tor-testnet/start "$tor_dir" >"$tor_dir.log" 2>&1 &
  tor_start_pid=$!
  echo "== Tor test network starting in $tor_dir (log: $tor_dir.log)"
fi

# I2P tests (tests/e2e/i2p.rs): Debian's i2pd on loopback with a server tunnel in front of the
# test's IRC server, started now in the background too; the tests wait for it.
if [ "${OTRBNC_I2P_TESTNET:-}" = "" ] && [ "${OTRBNC_SKIP_I2P:-0}" != "1" ]; then
  # python3 runs the test network's SAM check (scripts/i2p-testnet/samcheck.py).
  i2p_pkgs=()
  command -v python3 >/dev/null 2>&1 || i2p_pkgs+=(python3)
  command -v i2pd >/dev/null 2>&1 || [ -x /usr/sbin/i2pd ] || i2p_pkgs+=(i2pd)
  if [ "${#i2p_pkgs[@]}" -gt 0 ]; then
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y "${i2p_pkgs[@]}"
    # The package's system router would join the real I2P network: stop it, keep it off.
    sudo_if_needed service i2pd stop >/dev/null 2>&1 || true
    sudo_if_needed systemctl disable i2pd >/dev/null 2>&1 || true
    sudo_if_needed update-rc.d i2pd disable >/dev/null 2>&1 || true
  fi
  i2p_dir=$(mktemp -d "${TMPDIR:-/tmp}/otrbnc-i2p-testnet.XXXXXX")
  export OTRBNC_I2P_TESTNET="$i2p_dir"
  ./scripts/i2p-testnet/start "$i2p_dir" >"$i2p_dir.log" 2>&1 &
  i2p_start_pid=$!
  echo "== I2P test network starting in $i2p_dir (log: $i2p_dir.log)"
fi

# Container tests (tests/e2e/docker.rs): they need a Docker engine, but no image registry:
# base images are made with debootstrap (scripts/docker-test/prepare), in the background too.
docker_skipped=""
if [ "${OTRBNC_DOCKER_TESTNET:-}" = "" ] && [ "${OTRBNC_SKIP_DOCKER:-0}" != "1" ]; then
  if command -v docker >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
    # An engine that is installed but not running: start it.
    sudo_if_needed service docker start >/dev/null 2>&1 || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do docker info >/dev/null 2>&1 && break; sleep 1; done
  fi
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    docker_pkgs=()
    command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || docker_pkgs+=(debootstrap)
    command -v tcpdump >/dev/null 2>&1 || [ -x /usr/bin/tcpdump ] || docker_pkgs+=(tcpdump)
    if [ "${#docker_pkgs[@]}" -gt 0 ]; then
      sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update
      sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y "${docker_pkgs[@]}"
    fi
    docker_dir=$(mktemp -d "${TMPDIR:-/tmp}/otrbnc-docker-test.XXXXXX")
    export OTRBNC_DOCKER_TESTNET="$docker_dir"
    sudo_if_needed ./scripts/docker-test/prepare "$docker_dir" >"$docker_dir.log" 2>&1 &
    docker_prepare_pid=$!
    echo "== Docker: making the base images in $docker_dir (log: $docker_dir.log)"
  else
    docker_skipped="no Docker engine here (docker info failed)"
  fi
elif [ "${OTRBNC_SKIP_DOCKER:-0}" = "1" ]; then
  docker_skipped="OTRBNC_SKIP_DOCKER=1"
fi
if [ -n "$docker_skipped" ]; then
  echo "== Docker: SKIPPING the container tests (tests/e2e/docker.rs): $docker_skipped"
  if [ "${OTRBNC_REQUIRE_DOCKER:-0}" = "1" ]; then
    echo "OTRBNC_REQUIRE_DOCKER=1: the container tests must run" >&2
    exit 1
  fi
fi

stop_test_networks() {
  if [ -n "${tor_start_pid:-}" ]; then
    kill "$tor_start_pid" >/dev/null 2>&1 || true
    ./scripts/tor-testnet/stop "$tor_dir" --clean >/dev/null 2>&1 || true
  fi
  if [ -n "${i2p_start_pid:-}" ]; then
    kill "$i2p_start_pid" >/dev/null 2>&1 || true
    ./scripts/i2p-testnet/stop "$i2p_dir" --clean >/dev/null 2>&1 || true
  fi
  if [ -n "${docker_prepare_pid:-}" ]; then
    kill "$docker_prepare_pid" >/dev/null 2>&1 || true
  fi
}
trap stop_test_networks EXIT

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== the protocol core is sans-IO (no async runtime in its dependency tree)"
if cargo tree -p otr-core -e normal,build --prefix none | grep -Ei '^(tokio|mio|async-std|smol|async-io) '; then
  echo "otr-core must not depend on an IO runtime" >&2
  exit 1
fi

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test"
if ! cargo test --workspace --all-targets; then
  if [ -n "${tor_dir:-}" ]; then
    echo "== Tor test network log ($tor_dir.log):"
    tail -n 40 "$tor_dir.log" || true
  fi
  if [ -n "${i2p_dir:-}" ]; then
    echo "== I2P test network log ($i2p_dir.log):"
    tail -n 40 "$i2p_dir.log" || true
  fi
  if [ -n "${docker_dir:-}" ]; then
    echo "== Docker base images log ($docker_dir.log):"
    tail -n 40 "$docker_dir.log" || true
  fi
  exit 1
fi
if [ -n "$docker_skipped" ]; then
  echo "== Docker: the container tests were SKIPPED: $docker_skipped"
fi

echo "== doc tests"
cargo test --workspace --doc

echo "== fuzz smoke: every fuzz target for a few seconds (see fuzz/README.md)"
./scripts/fuzz.sh smoke
