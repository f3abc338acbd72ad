#!/usr/bin/env bash
# Creates the venv $SPIKEBURN_VENV (default ~/.cache/spikeburn/venv, outside the clone so CI reuses it) with the pinned snnTorch reference stack
# (requirements.txt beside this script). Idempotent: does nothing if the venv
# already exists and can import snntorch, torch and numpy.
#
# Usage: bash benches/reference/setup_venv.sh
# Override the interpreter with PYTHON=/path/to/python3.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV_DIR="${SPIKEBURN_VENV:-$HOME/.cache/spikeburn/venv}"
REQS="$SCRIPT_DIR/requirements.txt"
PYTHON="${PYTHON:-python3}"

if [[ -x "$VENV_DIR/bin/python" ]] \
    && "$VENV_DIR/bin/python" -c "import snntorch, torch, numpy" >/dev/null 2>&1; then
    echo "venv already set up (snntorch importable): $VENV_DIR"
    exit 0
fi

echo "creating venv at $VENV_DIR with $("$PYTHON" --version 2>&1)"
"$PYTHON" -m venv "$VENV_DIR"
"$VENV_DIR/bin/python" -m pip install --upgrade pip
# The torch wheel from PyPI pulls the CUDA runtime libraries (several GB).
"$VENV_DIR/bin/python" -m pip install -r "$REQS"

"$VENV_DIR/bin/python" -c "import torch, snntorch, numpy; print('torch', torch.__version__, '| snntorch', snntorch.__version__, '| numpy', numpy.__version__)"
echo "venv ready: $VENV_DIR"
echo "python:     $VENV_DIR/bin/python"
