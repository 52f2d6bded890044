"""A long run that dies is not lost: 02 stores each measurement in the cache as it completes, and a rerun reads back
what is done (SIGKILL, so no cleanup code runs) and measures only the rest; a rerun of a finished run measures nothing."""
import json, os, signal, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAPERMILL = str(Path(sys.executable).with_name("papermill"))


def _run(tmp_path, name, env, *extra):
    cmd = [PAPERMILL, str(ROOT / "nbs" / "02_resurgence.ipynb"), str(tmp_path / f"{name}.ipynb"), "--cwd",
           str(ROOT / "nbs"), "-k", "python3", "-p", "scale", "smoke", "-p", "methods", "mace", "-p", "scope", "none",
           "-p", "out_dir", str(tmp_path / "runs"), *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group: the kernel dies with it


def _done(cache):  # finished measurements: {entry: (its numbers, when they were written)}
    return {d.name: ((d / "result.json").read_text(), (d / "result.json").stat().st_mtime_ns)
            for d in (cache / "measurements").glob("*") if (d / "DONE").exists()}


def test_killed_run_resumes_from_its_measurements(tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "UNLEARN_CACHE": str(cache), "UNLEARN_PROGRESS": "lines"}
    p = _run(tmp_path, "killed", env)
    t0 = time.time()
    while (not (cache / "measurements").exists() or len(_done(cache)) < 3) and p.poll() is None:
        assert time.time() - t0 < 900, "no measurements after 15 minutes"
        time.sleep(0.2)
    assert p.poll() is None, "the run ended before it could be killed: " + p.stderr.read()[-2000:]
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    before = _done(cache)

    p = _run(tmp_path, "rerun", env)
    _, err = p.communicate(timeout=1500)
    assert p.returncode == 0, err[-3000:]
    after = _done(cache)
    assert set(before) < set(after), "the rerun should add the measurements the killed run had not made"
    assert all(after[k] == before[k] for k in before), "a finished measurement was made again"
    metrics = json.loads(next((tmp_path / "runs" / "resurgence").glob("[!.]*/metrics.json")).read_text())
    assert len(metrics["finetuning"]) == 2 * 3  # the base and MACE, measured at steps 0, 3 and 6

    p = _run(tmp_path, "again", env, "-p", "overwrite", "True")
    _, err = p.communicate(timeout=1500)
    assert p.returncode == 0, err[-3000:]
    assert _done(cache) == after, "a rerun of a finished run measured something again"
    again = json.loads(next((tmp_path / "runs" / "resurgence").glob("[!.]*/metrics.json")).read_text())
    assert again["finetuning"] == metrics["finetuning"] and again["erasure"] == metrics["erasure"]


def test_rgd_concept_rerun_measures_nothing(tmp_path):
    "04's concept setting stores each model's measurement (numbers and the grid's images): a rerun reads them back."
    cache = tmp_path / "cache"
    env = {**os.environ, "UNLEARN_CACHE": str(cache), "UNLEARN_PROGRESS": "lines"}

    def run(name, *extra):
        cmd = [PAPERMILL, str(ROOT / "nbs" / "04_rgd.ipynb"), str(tmp_path / f"{name}.ipynb"), "--cwd", str(ROOT / "nbs"),
               "-k", "python3", "-p", "scale", "smoke", "-p", "methods", "class: ; concept: esd", "-p", "out_dir",
               str(tmp_path / "runs"), *extra]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
        assert p.returncode == 0, p.stderr[-3000:]
        return json.loads(next((tmp_path / "runs" / "rgd").glob("[!.]*/metrics.json")).read_text())

    first = run("first")
    grid = lambda: next((tmp_path / "runs" / "rgd").glob("[!.]*/**/concept_samples.png")).read_bytes()
    first_grid, done = grid(), _done(cache)
    assert len(done) == len(first["concept_setting"]) >= 2  # one per model (the base and ESD) and seed
    again = run("again", "-p", "overwrite", "True")
    assert _done(cache) == done, "a rerun measured something again"
    assert again["concept_setting"] == first["concept_setting"]
    assert grid() == first_grid  # the grid's images were read back too
