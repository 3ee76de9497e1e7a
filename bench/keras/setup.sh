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
echo "installing tensorflow-cpu==$tf_version into $venv (once)" >&2
# PIP_RETRIES=0: offline, a missing package should fail now rather than after minutes of retries.
# pip's output (pages of index warnings here) goes to a log, shown only when the install fails.
if ! PIP_RETRIES="${PIP_RETRIES:-0}" "$venv/bin/pip" install "tensorflow-cpu==$tf_version" >"$venv/pip-install.log" 2>&1; then
  tail -n 20 "$venv/pip-install.log" >&2
  echo "pip install failed; full log: $venv/pip-install.log" >&2
  exit 1
fi
TF_CPP_MIN_LOG_LEVEL=1 "$venv/bin/python" -c 'import tensorflow as tf; print("keras venv ready: tensorflow", tf.__version__)' >&2
echo "$tf_version" >"$marker"
echo "$venv/bin/python"
