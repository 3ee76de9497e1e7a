#!/usr/bin/env bash
# Creates the Python venv that runs the Keras reference benchmarks (bench only, never a runtime
# dependency). Idempotent: a marker records the installed TensorFlow version.
# Env: PIXELFLOW_CACHE_DIR (default ~/.cache/pixelflow), PIXELFLOW_TF_WHEEL_VERSION (default 2.21.0)
set -euo pipefail

tf_version="${PIXELFLOW_TF_WHEEL_VERSION:-2.21.0}"
venv="${PIXELFLOW_CACHE_DIR:-$HOME/.cache/pixelflow}/keras-venv"
marker="$venv/.pixelflow-tensorflow"

if [[ -f "$marker" && "$(cat "$marker")" == "$tf_version" ]]; then
  echo "$venv/bin/python"
  exit 0
fi

python3 -m venv "$venv" >&2
# PIP_RETRIES=0: offline, a missing package should fail now rather than after minutes of retries.
PIP_RETRIES="${PIP_RETRIES:-0}" "$venv/bin/pip" install --quiet "tensorflow-cpu==$tf_version" >&2
"$venv/bin/python" -c 'import tensorflow as tf; print("keras venv ready: tensorflow", tf.__version__)' >&2
echo "$tf_version" >"$marker"
echo "$venv/bin/python"
