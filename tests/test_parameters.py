"""Every parameter of every experiment notebook is checked before any work: a wrong type, an out-of-range value or an
unknown name stops the run within seconds with a message naming the parameter, the value and what is allowed, and
nothing is written under `out_dir`. The values are checked in-process through each notebook's one `*_setup` call (the
notebook's parameters are that function's arguments, by name); unknown names go through papermill itself, which on
its own only warns and runs on with the defaults."""
import inspect, time
import pytest
from unlearn_study.core import StudyError
from unlearn_study.findings import resurgence_setup, dimra_setup, rgd_setup
from test_notebooks import papermill

SETUPS = {  # notebook: (its setup, parameters that make a valid smoke run)
    "02_resurgence": (resurgence_setup, dict(concept="star", scale="smoke")),
    "03_dimra": (dimra_setup, dict(forget_class="heart", scale="smoke")),
    "04_rgd": (rgd_setup, dict(forget_class="heart", concept="dots", scale="smoke")),
}
# parameter: [(bad value, what the message must say besides the parameter's name)]
BAD = {
    "concept": [(3, "must be a string"), ("dragon", "known concepts"), ("", "known concepts")],
    "forget_class": [(3, "nor a CIFAR-10 class"), ("dragon", "neither a toy object")],
    "backbone": [(1, "choose one of"), ("sd15", "choose one of")],
    "checkpoint": [(3, "must be a path"), ("/nonexistent/x", "/nonexistent/x")],
    "concept_checkpoint": [(3, "must be a path"), ("/nonexistent/y", "/nonexistent/y")],
    "cifar10_source": [(3, "must be a path"), (None, "must be a path")],
    "judge_path": [(3, "must be a path")],
    "prompts": [(3, "must be a path"), ("/no/such.csv", "prompts='/no/such.csv' is for sd14")],
    "reference": [(3, "must be a path"), ("/no/such/coco", "reference='/no/such/coco' is for sd14")],
    "methods": [(3, "must be a comma-separated string"), ("bogus", "unknown method 'bogus'"), ("", "selects no"),
                ([], "select"), ("rgd,rgd", "twice")],
    "finetune_data": [(1, "choose one of"), ("weird", "choose one of")],
    "finetune_mode": [(None, "choose one of"), ("half", "choose one of")],
    "scope": [(0, "choose one of"), ("most", "choose one of")],
    "aux": [(1, "choose one of"), ("web", "choose one of")],
    "scale": [(1, "'smoke', 'default', 'paper'"), ("huge", "'smoke', 'default', 'paper'")],
    "seeds": [("a", "must be an integer"), ([-1], "out of range"), ([], "at least one seed"),
              (1.5, "must be a list"), ([0, 0], "repeats a seed")],
    "device": [(0, "choose 'auto', 'cpu'"), ("tpu", "choose 'auto', 'cpu'")],
    "out_dir": [(3, "must be a path"), (None, "must be a path"), ("/proc/nope", "cannot create the run folder")],
    "threads": [("two", "must be an integer"), (0, "out of range"), (1.5, "must be an integer")],
    "overwrite": [("yes", "must be True or False"), (2, "must be True or False")],
    "eval_every": [(0, "out of range"), ("ten", "must be an integer"), (2.5, "must be an integer")],
    "n_eval": [(0, "out of range"), (-3, "out of range"), ("many", "must be an integer")],
    "guidance": [(-1, "out of range"), ("two", "must be a number"), (float("inf"), "must be finite"),
                 (True, "must be a number")],
}
CASES = [(nb, p, v, said) for nb, (fn, _) in SETUPS.items() for p, bad in BAD.items()
         if p in inspect.signature(fn).parameters for v, said in bad]


def test_every_parameter_is_in_the_table():
    "A parameter added to a notebook without a row here fails this test."
    for nb, (fn, _) in SETUPS.items():
        missing = set(inspect.signature(fn).parameters) - set(BAD)
        assert not missing, f"{nb}: add bad values for {sorted(missing)}"


@pytest.mark.parametrize("nb,param,value,said", CASES, ids=[f"{c[0]}-{c[1]}={c[2]!r}" for c in CASES])
def test_bad_value_stops_before_any_work(tmp_path, nb, param, value, said):
    fn, ok = SETUPS[nb]
    out = tmp_path/"runs"
    kw = {**ok, "out_dir": out, param: value}
    t0 = time.time()
    with pytest.raises(StudyError) as e:
        fn(**kw)
    msg = str(e.value)
    assert said in msg, msg
    name = "seed" if param == "seeds" else param.replace("concept_checkpoint", "checkpoint")
    assert name in msg or param in ("concept", "forget_class", "checkpoint", "concept_checkpoint"), msg
    if param not in ("concept", "forget_class", "seeds", "methods") and value not in ("", None, []):
        assert repr(value) in msg or str(value) in msg, msg   # the value given
    assert time.time() - t0 < 30
    assert not out.exists() or not any(out.rglob("*")), "nothing may be written under out_dir"


@pytest.mark.parametrize("nb,params", [
    ("02_resurgence.ipynb", [("concpet", "heart")]),
    ("03_dimra.ipynb", [("forgt_class", "heart")]),
    ("04_rgd.ipynb", [("method", "class: rgd")]),
])
def test_unknown_parameter_name_stops_the_notebook(tmp_path, nb, params):
    "papermill only warns about `-p <unknown> ...`; the notebook refuses it, naming it and its real parameters."
    out = tmp_path/"runs"
    p, secs = papermill(nb, tmp_path/"out.ipynb", ("out_dir", out), *params)
    text = p.stderr + p.stdout
    assert p.returncode != 0
    assert f"has no parameter '{params[0][0]}'" in text and "its parameters: " in text, text[-2000:]
    assert secs < 120, secs
    assert not out.exists()
