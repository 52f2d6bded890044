#!/usr/bin/env bash
# Create/refresh the environment, then run the study: the four finding notebooks, executed by papermill
# at `-p scale default`, each saved to reports/ as an executed .ipynb plus an HTML rendering.
#
#   bash scripts/study.sh                           # the four finding notebooks
#   bash scripts/study.sh -y "seeds: [0, 1, 2]"    # extra arguments go to every papermill call (-p k v, -y yaml)
#   SCALE=smoke bash scripts/study.sh               # a quick pass;  REPORTS=out bash scripts/study.sh
#
# Runs the four finding notebooks (nbs/02_resurgence, 03_dimra, 04_rgd, 05_robustness) from nbs/, as Jupyter would; a
# missing one stops the script before anything runs. A failing notebook does not stop the others; the exit status is 1 if any
# failed (its executed copy, with the traceback, is still written).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ "${UNLEARN_SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh   # UNLEARN_SKIP_SETUP=1: use UNLEARN_VENV as it is

VENV=${UNLEARN_VENV:-.venv}
export PATH="$(cd "$VENV/bin" && pwd):$PATH"
export JUPYTER_PREFER_ENV_PATH=1 MPLBACKEND=Agg TOKENIZERS_PARALLELISM=false
export UNLEARN_PROGRESS=${UNLEARN_PROGRESS:-lines}  # the reports get a progress line with the ETA every minute, not a bar
REPORTS=${REPORTS:-reports}
SCALE=${SCALE:-default}

# Launch order (two at a time, below): the two largest first — 05 builds 02's erased toy-t2i models while 03 builds the
# class models both use — then 02 (its models are in the cache by then) and 04 (everything it needs is).
FINDINGS=(nbs/05_robustness.ipynb nbs/03_dimra.ipynb nbs/02_resurgence.ipynb nbs/04_rgd.ipynb)
todo=("${FINDINGS[@]}")
for nb in "${todo[@]}"; do
  [ -f "$nb" ] || { echo "study.sh: $nb is missing from $(pwd)" >&2; exit 2; }
done

mkdir -p "$REPORTS"
# This host's speed (a few toy-class training steps, 1 thread, before anything else runs), so that the run's timing
# can be read against other machines: the 2-core hosts this project ran on took 0.21-0.43 s per step.
time_host() {  # time_host FILE: the quick benchmark into FILE, printing its summary line (skipped by --prepare-only)
  case " $PAPERMILL_ARGS " in *" --prepare-only "*) return 0;; esac
  python benchmarks/bench_steps.py --quick --threads 1 --out "$1" 2>/dev/null | tail -1 || echo "(host speed not measured)" >&2
}
PAPERMILL_ARGS="$*"
time_host "$REPORTS/host_speed.json"
# Independent 1-thread jobs side by side (on a shared 2-core machine two threads per job ran 50-80x slower than one):
# JOBS notebooks at a time, each with UNLEARN_THREADS threads (default 1). JOBS defaults to the number of CPU cores:
# more processes than cores cost CPU time for the same work (2026-12-02, the toy attacks' training and sampling: four
# 1-thread processes on two cores used 10-29 % more CPU-seconds than two, benchmarks/results/study_profile.md). They
# share the model cache: a model two notebooks need (03's, 04's and 05's class models, 02's, 04's and 05's erased
# toy-t2i models) is built by whichever gets there first while the other waits on the cache entry's lock, then loaded,
# so no work is done twice.
export UNLEARN_THREADS=${UNLEARN_THREADS_PER_JOB:-1}
JOBS=${JOBS:-$(( $(nproc) / UNLEARN_THREADS > 0 ? $(nproc) / UNLEARN_THREADS : 1 ))}
failed=()
t0=$SECONDS
run_one() {
  local nb=$1 name out t
  shift   # the rest are the caller's papermill arguments
  name=$(basename "$nb" .ipynb); out="$REPORTS/$name.ipynb"; t=$SECONDS
  # When more notebooks run than there are cores (JOBS above the core count, or a busy host), priorities in the order
  # of their work, so that they finish together rather than one alone on one core while the other idles (clean run
  # of 2026-12-02, all four at once: 05 69 CPU-minutes, 03 54, 02 44, 04 35; at nice 0 / 3 / 3 / 3 03 ran alone for its
  # last 7 minutes). Kernels lower their own priority (UNLEARN_NICE, see core.set_threads).
  local prio
  case $name in 05_robustness) prio=0;; 03_dimra) prio=2;; 04_rgd) prio=5;; *) prio=3;; esac
  echo "== $nb -> $out (scale=$SCALE, $(date +%H:%M:%S))"
  if UNLEARN_NICE=$prio papermill "$nb" "$out" -k python3 --cwd nbs --log-level WARNING -p scale "$SCALE" -p out_dir ../runs "$@" > "$REPORTS/$name.log" 2>&1; then
    echo "== $name finished in $((SECONDS-t)) s"; rc=0
  else
    echo "== $name FAILED after $((SECONDS-t)) s (traceback in $out and $REPORTS/$name.log)" >&2; rc=1
  fi
  # The HTML report: summary first, plumbing code folded, offline MathJax in $REPORTS/mathjax; the run folder's
  # JSON and PNG files copied to $REPORTS/run-folders/<finding>/<id> (scripts/render_report.py).
  [ -f "$out" ] && python scripts/render_report.py "$out" --output-dir "$REPORTS" --cwd nbs --copy-runs "$REPORTS/run-folders"
  return $rc
}
declare -A pids=()
for nb in "${todo[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  run_one "$nb" "$@" & pids[$nb]=$!
done
for nb in "${!pids[@]}"; do wait "${pids[$nb]}" || failed+=("$(basename "$nb" .ipynb)"); done

wall=$((SECONDS-t0))
# The host's speed again, now that the notebooks are done: on a shared machine it can move by more than a time target's
# margin during a run (2026-12-02: ratio 3.95 at the start, 9.5 and 5.6 minutes after the end), so both are reported.
time_host "$REPORTS/host_speed_end.json" >/dev/null
echo; echo "== study done in $wall s; reports in $REPORTS/:"
python - "$wall" "$REPORTS/host_speed.json" "$REPORTS/host_speed_end.json" <<'PY' || true
import json, sys
from pathlib import Path
wall = int(sys.argv[1])
for when, f in (("start", Path(sys.argv[2])), ("end", Path(sys.argv[3]))):
    if not f.exists():
        continue
    h = json.loads(f.read_text())
    line = f"   at the {when}: {h['toy-class']['sec_per_step']:.2f} s per toy-class training step (1 thread, batch 64)"
    if "sizing_reference" in h:
        ratio = h["sizing_reference"]["slower_than_notes_host"]
        line += f", sizing model {ratio:.1f}x slower than the sizing host: {wall / 60 / ratio:.1f} normalised minutes"
    print(line)
PY
ls -1 "$REPORTS"
if [ ${#failed[@]} -gt 0 ]; then echo "study.sh: failed: ${failed[*]}" >&2; exit 1; fi
