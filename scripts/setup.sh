#!/usr/bin/env bash
# Everything a fresh machine needs before `ornaments` or the tests run. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Chromium and its driver come from Debian; Selenium must never download a driver.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Local Postgres and Redis, when this machine has them but they are down.
if command -v pg_ctlcluster >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "setup: starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
fi
if command -v redis-server >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "setup: starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
fi
# RabbitMQ: the Celery executor's broker (ornament_pipeline_tests/pipeline/test_celery.py).
if command -v rabbitmq-server >/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
  echo "setup: starting RabbitMQ"
  as_root rabbitmq-server -detached
  for _ in $(seq 60); do as_root rabbitmqctl -q await_startup >/dev/null 2>&1 && break; sleep 1; done
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# Exactly the locked versions, each checked against its hash (requirements.lock; README says how to update it),
# then the project itself, built with the setuptools the lock pinned.
pip_install() {  # quiet, without this machine's local-index warnings, but a failure stops the set-up
  local log status=0
  log=$(mktemp)
  .venv/bin/python -m pip install -q --disable-pip-version-check "$@" >"$log" 2>&1 || status=$?
  grep -v "^WARNING: Location" "$log" || true
  rm -f "$log"
  if [ "$status" -ne 0 ]; then echo "setup: pip install $* failed" >&2; return "$status"; fi
}
# --no-deps: the lock lists every package already, and pip's hash mode refuses a dependency asked for with
# extras (gql[requests]) as "not pinned" (pypa/pip#9644); `pip check` below still checks the whole set.
pip_install --no-deps -r requirements.lock
pip_install --no-deps --no-build-isolation -e .
# A lock that lags pyproject.toml (a dependency added, a bound moved) or misses a package fails here, naming it.
.venv/bin/python -m pip check --disable-pip-version-check
.venv/bin/python -c "import ornament_pipeline, dagster, selenium" # fail here, not later, if the install broke

# Selenium Grid (`ornaments grid`): Java 17+ and the selenium-server jar from the npm package
# @nightwatch/selenium-server, unpacked once into .ornaments/grid/ (git-ignored; never committed).
grid_version=4.20.0
grid_jar=.ornaments/grid/selenium-server-$grid_version.jar
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1 || true)
if [ -z "$java_major" ] || [ "$java_major" -lt 17 ]; then
  echo "setup: installing openjdk-17-jre-headless"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
if [ ! -s "$grid_jar" ]; then
  echo "setup: fetching selenium-server $grid_version (npm @nightwatch/selenium-server)"
  grid_tmp=$(mktemp -d)
  (cd "$grid_tmp" && npm pack --silent "@nightwatch/selenium-server@$grid_version" >/dev/null)
  tar -xzf "$grid_tmp"/nightwatch-selenium-server-$grid_version.tgz -C "$grid_tmp" \
    "package/lib/selenium-server-$grid_version.jar"
  mkdir -p .ornaments/grid
  mv "$grid_tmp/package/lib/selenium-server-$grid_version.jar" "$grid_jar"
  rm -rf "$grid_tmp"
fi
