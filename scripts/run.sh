#!/usr/bin/env bash
# Creates .venv (if missing), installs credax, and runs the main job: `credax run`, which compares
# every registered rule on MNIST-1D over 8 seeds (each rule one compiled program) and writes a
# table, summary.json and plots to runs/latest. Extra arguments go to `credax run`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
exec .venv/bin/credax run "$@"
