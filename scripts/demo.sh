#!/usr/bin/env bash
# Bring up the demo school (installs what it needs first). Extra arguments go to `smartschool demo`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/bootstrap.sh
exec .venv/bin/smartschool demo "$@"
