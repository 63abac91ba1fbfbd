#!/usr/bin/env bash
# Creates .venv (if missing), installs credax, and runs the main job: every feedback rule on
# MNIST-1D over 8 seeds in one compiled program, printing accuracy and angles to backprop.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
exec .venv/bin/python benchmarks/mnist1d_feedback.py --quick "$@"
