#!/usr/bin/env bash
# Make sure what Versioner needs on this machine answers, starting or installing it when not:
#   rabbitmq  - at VERSIONER_AMQP_URL (default 127.0.0.1:5672): an installed rabbitmq-server,
#               else Debian's package (as root with apt-get), else `docker compose up rabbitmq`
#               where a Docker engine runs; else one line saying what to do.
#   postgres  - 127.0.0.1:5432 for the PostgreSQL half of the tests (same order, no Docker).
#   tools     - what the test suite runs besides Python (Debian's docker-compose, to validate
#               docker-compose.yml without an engine; Debian's chromium for the browser tests;
#               Debian's prometheus, scraping the services in a test, and its promtool).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "ensure-services: $*" >&2; }

answers() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_for() { # host port seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do answers "$1" "$2" && return 0; sleep 0.1; done
  return 1
}

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

apt_install() {
  say "installing $* with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
}

docker_runs() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

amqp_host_port() {
  local url="${VERSIONER_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}"
  local rest="${url#*://}"
  rest="${rest#*@}"
  rest="${rest%%/*}"
  local host="${rest%%:*}" port="5672"
  [[ "$rest" == *:* ]] && port="${rest##*:}"
  echo "$host $port"
}

ensure_rabbitmq() {
  read -r host port < <(amqp_host_port)
  answers "$host" "$port" && return 0
  if [[ "$host" != "127.0.0.1" && "$host" != "localhost" ]]; then
    say "RabbitMQ does not answer at $host:$port (VERSIONER_AMQP_URL); start it there, or unset VERSIONER_AMQP_URL"
    return 1
  fi
  if ! command -v rabbitmq-server >/dev/null 2>&1 && can_apt; then
    apt_install rabbitmq-server || true
  fi
  if command -v rabbitmq-server >/dev/null 2>&1; then
    say "starting rabbitmq-server"
    # Debian's package does not start the broker without systemd.
    rabbitmq-server -detached >/dev/null 2>&1 || true
    rabbitmqctl await_startup >/dev/null 2>&1 || true
    wait_for "$host" "$port" 60 && return 0
  fi
  if docker_runs; then
    say "starting RabbitMQ with docker compose"
    docker compose -f docker-compose.yml -f deploy/compose.local.yml up -d rabbitmq
    wait_for "$host" "$port" 90 && return 0
  fi
  say "RabbitMQ does not answer on $host:$port: install it (apt-get install rabbitmq-server, then rabbitmq-server -detached) or set VERSIONER_AMQP_URL"
  return 1
}

ensure_postgres() {
  answers 127.0.0.1 5432 && return 0
  if ! command -v pg_ctlcluster >/dev/null 2>&1 && can_apt; then
    apt_install postgresql || true
  fi
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    say "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
    if wait_for 127.0.0.1 5432 30; then
      trust_loopback "$version"
      return 0
    fi
  fi
  say "PostgreSQL does not answer on 127.0.0.1:5432: the PostgreSQL half of the tests will be skipped (a failure with CI=true)"
  return 0
}

trust_loopback() { # version: the tests connect as postgres over TCP without a password
  psql -h 127.0.0.1 -U postgres -c 'select 1' >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || return 0
  local hba="/etc/postgresql/$1/main/pg_hba.conf"
  [ -f "$hba" ] || return 0
  say "letting the postgres user in over loopback without a password (test machine)"
  sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$1" main reload >/dev/null 2>&1 || true
}

ensure_tools() {
  if ! command -v docker-compose >/dev/null 2>&1 && can_apt; then
    apt_install docker-compose || say "could not install docker-compose"
  fi
  # The dashboard's browser tests drive Debian's Chromium through Playwright (browsers cannot be
  # downloaded here). Without it they fail, never skip: say so and stop.
  if ! command -v chromium >/dev/null 2>&1; then
    if can_apt; then
      apt_install chromium || true
    fi
    if ! command -v chromium >/dev/null 2>&1; then
      say "Chromium is missing and could not be installed: apt-get install chromium (as root)"
      return 1
    fi
  fi
  # Debian's Prometheus: a real one scrapes the services in tests/e2e/test_operating.py, and
  # its promtool checks deploy/prometheus/. Without it those tests fail: say so and stop.
  if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
    if can_apt; then
      apt_install prometheus || true
    fi
    if ! command -v promtool >/dev/null 2>&1; then
      say "Prometheus is missing and could not be installed: apt-get install prometheus (as root)"
      return 1
    fi
  fi
  return 0
}

for what in "$@"; do
  case "$what" in
    rabbitmq) ensure_rabbitmq ;;
    postgres) ensure_postgres ;;
    tools) ensure_tools ;;
    *) say "unknown service $what"; exit 2 ;;
  esac
done
