#!/usr/bin/env bash
# Prepare a Debian 12 machine to run the tests and the demo: Debian packages for the
# private servers (Mosquitto, InfluxDB, VictoriaMetrics, PostgreSQL, Chromium), then
# .venv with the project installed. Safe to run again: it does only what is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PACKAGES=(mosquitto mosquitto-clients influxdb victoria-metrics postgresql chromium libzbar0 python3-venv)
VENV="$ROOT/.venv"
STAMP="$VENV/.smartschool-install-stamp"

say() { printf 'bootstrap: %s\n' "$*"; }

missing=()
for pkg in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
    [[ "$status" == "installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]})); then
    if [[ "$(id -u)" -ne 0 ]]; then
        say "missing Debian packages: ${missing[*]}"
        say "install them as root, then run this script again:"
        say "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
        exit 1
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Our servers run on private free ports; the packages' own services are not needed,
    # and in a container without systemd starting them would only fail the install.
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    say "Debian packages present"
fi

python=""
for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
        && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        python="$candidate"
        break
    fi
done

if [[ ! -x "$VENV/bin/python" ]] \
    || ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    if [[ -z "$python" ]]; then
        say "Python 3.11 or newer is needed (apt-get install python3 python3-venv)"
        exit 1
    fi
    say "creating .venv with $("$python" --version 2>&1)"
    rm -rf "$VENV"
    "$python" -m venv "$VENV"
    rm -f "$STAMP"
fi

# Reinstall only when the declared dependencies changed since the last good install.
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [[ "$want" != "$have" ]]; then
    say "installing the project into .venv (pip install -e '.[dev,camera]')"
    # grafana-client's urllib3-future must not replace urllib3 (influxdb-client relies on it).
    URLLIB3_NO_OVERRIDE=1 "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        --no-binary urllib3-future -e '.[dev,camera]'
    printf '%s\n' "$want" >"$STAMP"
else
    say ".venv up to date"
fi
say "ready"
