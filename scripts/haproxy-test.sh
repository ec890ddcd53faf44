#!/usr/bin/env bash
# HAProxy for tests that run several Warden replicas behind a real load balancer: Debian's `haproxy`
# package, installed with apt-get when missing. Each test writes its own config and runs haproxy in
# the foreground as its child (test/helpers/haproxy.ts); this script only provides the binary.
#
#   scripts/haproxy-test.sh install   install haproxy if missing (make test runs this)
set -euo pipefail

log() { echo "haproxy-test: $*" >&2; }

install_haproxy() {
  if command -v haproxy >/dev/null 2>&1; then return 0; fi
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    log "haproxy not found and cannot apt-get install it here;"
    log "install HAProxy (Debian/Ubuntu: apt-get install haproxy) or put haproxy on PATH"
    exit 1
  fi
  log "installing Debian's haproxy package (once)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends haproxy >&2
  command -v haproxy >/dev/null 2>&1 || { log "haproxy installed but not found on PATH"; exit 1; }
  # Tests start their own instances: the package's service (where systemd runs) is not wanted.
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now haproxy >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  install) install_haproxy ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
