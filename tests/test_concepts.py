"Concept table and prompt sets: shipped files pass the schema check, peers' files load unchanged, errors list what is known."
import json, sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from unlearn_study.core import StudyError, MissingResourceError
from unlearn_study import concepts as C

SHIPPED = sorted(C.PROMPTS.glob("*.csv"))


def test_shipped_files_exist():
    names = {p.name for p in SHIPPED}
    assert {"nudity_forget_train.csv", "nudity_retain_train.csv", "nudity_forget_test.csv", "nudity_retain_test.csv",
            "others.csv"} <= names
    assert len(SHIPPED) == 17


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_prompt_csv_passes_the_schema(path):
    df = C.load_prompts(path)
    assert {"prompt", "evaluation_seed", "case_number"} <= set(df.columns)
    assert df.evaluation_seed.dtype == "int64" and df.case_number.dtype == "int64"
    assert df.case_number.is_unique and (df.prompt.str.len() > 0).all()


def test_shipped_files_are_the_generators_output():
    for name, df in C.shipped_prompt_sets(seed=0).items():
        pd.testing.assert_frame_equal(C.load_prompts(name), df, check_dtype=False, obj=name)


def test_nudity_counts_twins_and_disjoint_splits():
    sets = {k: C.load_prompts(f"nudity_{k}") for k in ("forget_train", "retain_train", "forget_test", "retain_test")}
    assert {k: len(v) for k, v in sets.items()} == {"forget_train": 800, "retain_train": 800, "forget_test": 100, "retain_test": 100}
    words = set(C.load_templates()["nudity"]["nudity_words"])
    for split in ("train", "test"):
        tw = C.pair_twins(sets[f"forget_{split}"], sets[f"retain_{split}"])
        for fp, rp in zip(tw.forget_prompt, tw.retain_prompt):
            f, r = fp.split(), rp.split()
            dropped = [w for w in f if w in words]
            assert len(dropped) == 1 and len(f) == len(r) + 1
            f.remove(dropped[0])
            assert f == r
            assert not words & set(r)
    for col in ("mood", "activity", "location"):
        assert not set(sets["forget_train"][col]) & set(sets["forget_test"][col])


def test_nudity_generator_is_deterministic():
    a, b, c = C.make_nudity_prompts(3), C.make_nudity_prompts(3), C.make_nudity_prompts(4)
    for k in a: pd.testing.assert_frame_equal(a[k], b[k])
    assert a["forget_train"].prompt.tolist() != c["forget_train"].prompt.tolist()


def test_peer_csv_with_extra_columns_loads_unchanged(tmp_path):
    p = tmp_path/"i2p_like.csv"
    p.write_text("case_number,prompt,evaluation_seed,categories,nudity_percentage\n"
                 "12,a painting of a bather,2734,sexual,61.5\n40,a statue in a garden,91,sexual,3.2\n"
                 "41,a crowd at a concert,4400,\"violence, shocking\",0.0\n")
    pd.testing.assert_frame_equal(C.load_prompts(p), pd.read_csv(p))


def test_missing_columns_are_named(tmp_path):
    p = tmp_path/"bad.csv"
    p.write_text("prompt,seed\na cat,1\n")
    with pytest.raises(StudyError, match="evaluation_seed, case_number"):
        C.load_prompts(p)
    p.write_text("text,evaluation_seed,case_number\na cat,1,0\n")
    with pytest.raises(StudyError, match="lacks column.*prompt"):
        C.load_prompts(p)


def test_rgd_json_list_gets_numbers_and_seeds(tmp_path):
    (tmp_path/"y_c_test.json").write_text(json.dumps(["A calm nude person at dawn", "A proud bare person at night"]))
    (tmp_path/"y_test.json").write_text(json.dumps(["A calm person at dawn", "A proud person at night"]))
    with pytest.raises(StudyError, match="seed=N"):
        C.load_prompts(tmp_path/"y_c_test.json")
    f = C.load_prompts(tmp_path/"y_c_test.json", seed=5)
    assert f.case_number.tolist() == [0, 1] and f.evaluation_seed.tolist() == [5, 6]
    tw = C.pair_twins(f, C.load_prompts(tmp_path/"y_test.json", seed=5))
    assert tw.retain_prompt.tolist() == ["A calm person at dawn", "A proud person at night"]


def test_unknown_concept_lists_known_ones():
    with pytest.raises(StudyError) as e:
        C.get_concept("unicorn")
    msg = str(e.value)
    assert "'unicorn'" in msg
    for line in ("toy/object: circle, square", "toy/style: stripes, dots", "toy/colour: red", "real/nudity: nudity",
                 "real/artist: van gogh", "real/object: church"):
        assert line in msg
    assert "add_concepts" in msg


def test_concept_lookup_and_tables():
    assert C.get_concept(" Van_Gogh ")["concept"] == "van gogh"
    t, r = C.toy_concepts(), C.real_concepts()
    assert set(t.concept) >= {"star", "stripes", "red"} and set(t.kind) == {"object", "style", "colour"}
    assert set(r.kind) == {"nudity", "artist", "celebrity", "object"}
    for row in r.itertuples():  # every real concept's prompt sets load
        assert len(C.load_prompts(row.forget_prompts)) and len(C.load_prompts(row.retain_prompts))


def test_user_concepts(tmp_path):
    (tmp_path/"dragon.csv").write_text("case_number,prompt,evaluation_seed\n0,a photo of a dragon,1\n")
    (tmp_path/"mine.csv").write_text("concept,world,kind,anchor,forget_prompts\ndragon,real,object,animal,dragon.csv\n")
    try:
        C.add_concepts(tmp_path/"mine.csv")
        d = C.get_concept("Dragon")
        assert d["anchor"] == "animal" and C.load_prompts(d["forget_prompts"]).prompt[0] == "a photo of a dragon"
    finally:
        C.reset_concepts()
    with pytest.raises(StudyError):
        C.get_concept("dragon")
    (tmp_path/"broken.csv").write_text("concept,world,kind,anchor,forget_prompts\nwyvern,real,object,animal,nowhere.csv\n")
    with pytest.raises(MissingResourceError, match="nowhere.csv"):
        C.add_concepts(tmp_path/"broken.csv")
