#!/usr/bin/env bash
# Run the whole test suite against private servers. Extra arguments go to pytest.
# The per-test timeout comes from [tool.pytest.ini_options] timeout in pyproject.toml.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/bootstrap.sh

set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
code=$?
set -e

if [[ $code -eq 5 ]]; then
    echo "test.sh: pytest collected no tests; that is a failure (check the paths and -k/-m filters)" >&2
    exit 1
fi
exit $code
