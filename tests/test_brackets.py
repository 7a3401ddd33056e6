"""The bracket classifier: its generator, its tokens, the committed weights' scorecard, the recipe."""

from collections import Counter

import numpy as np
import pytest
import torch

from micourse.toys.brackets import data
from micourse.toys.brackets.model import CFG, WEIGHTS_PATH, load
from micourse.toys.brackets.scorecard import coin_flip_strings, scorecard


def test_kind_of_examples():
    assert data.kind_of("(())()") == "balanced"
    assert data.kind_of("(()") == "total"
    assert data.kind_of("((") == "total"
    assert data.kind_of("())(") == "negative"
    assert data.kind_of(")(") == "negative"
    assert data.kind_of("())") == "both"
    assert data.kind_of(")))(") == "both"
    with pytest.raises(ValueError, match="only"):
        data.kind_of("(a)")


def test_generator_proportions_and_labels():
    d = data.generate(4000, seed=3)
    counts = Counter(d.kinds)
    assert {k: counts[k] / len(d) for k in data.KINDS} == data.PROPORTIONS
    for s, k, b in zip(d.strings, d.kinds, d.balanced.tolist()):
        assert data.kind_of(s) == k and b == (k == "balanced")
        assert data.MIN_LEN <= len(s) <= data.MAX_LEN


def test_generator_has_no_easy_shortcut():
    d = data.generate(4000, seed=4)
    lengths = {k: np.array([len(s) for s in d.of_kind(k).strings]) for k in data.KINDS}
    # parity does not decide "total": about half of those strings have even length
    assert 0.35 < (lengths["total"] % 2 == 0).mean() < 0.65
    # the first bracket does not decide "negative": about half start with "("
    assert 0.3 < np.mean([s[0] == "(" for s in d.of_kind("negative").strings]) < 0.7
    # every length from 2 to 40 occurs
    assert set(np.concatenate(list(lengths.values()))) == set(range(2, 41))
    # near misses are there: negative strings whose lowest elevation is exactly -1
    assert np.mean([min(data.elevations(s)) == -1 for s in d.of_kind("negative").strings]) > 0.5


def test_generator_is_seeded_and_checks_input():
    assert data.generate(50, seed=1).strings == data.generate(50, seed=1).strings
    with pytest.raises(ValueError, match="sum to 1"):
        data.generate(10, seed=0, proportions={"balanced": 0.5})
    with pytest.raises(ValueError, match="length"):
        data.random_string("negative", np.random.default_rng(0), n=5)
    with pytest.raises(ValueError, match="kind"):
        data.random_string("odd", np.random.default_rng(0))


def test_tokenize():
    toks = data.tokenize(["()", ""])
    assert toks.shape == (2, data.N_CTX)
    assert toks[0, :5].tolist() == [data.START, data.OPEN, data.CLOSE, data.END, data.PAD]
    assert toks[1, :3].tolist() == [data.START, data.END, data.PAD]
    assert data.VOCAB == {"[start]": 0, "[pad]": 1, "[end]": 2, "(": 3, ")": 4}
    assert data.detokenize(toks[0]) == "()"
    with pytest.raises(ValueError, match="fit"):
        data.tokenize(["(" * 41])
    with pytest.raises(ValueError, match="only"):
        data.tokenize(["(]"])


def test_cfg_is_arenas_architecture():
    assert {k: CFG[k] for k in ("n_layers", "d_model", "n_heads", "d_head", "d_mlp", "n_ctx", "d_vocab")} == {
        "n_layers": 3,
        "d_model": 56,
        "n_heads": 2,
        "d_head": 28,
        "d_mlp": 56,
        "n_ctx": 42,
        "d_vocab": 5,
    }
    assert CFG["attention_dir"] == "bidirectional" and CFG["d_vocab_out"] == 2 and CFG["act_fn"] == "relu"


def test_coin_flip_strings_cover_every_kind():
    d = coin_flip_strings(20, seed=0)
    assert Counter(d.kinds) == {k: 20 for k in data.KINDS}


@pytest.mark.slow
def test_committed_weights_scorecard():
    assert WEIGHTS_PATH.stat().st_size <= 1_000_000
    torch.set_num_threads(1)
    model = load()
    card = scorecard(model, n=4000, seed=20_000)  # a seed neither training nor the stored scorecard used
    for test, acc in card.items():
        for kind, value in acc.items():
            assert value >= 0.99, (test, kind, value)
    assert model.micourse_meta["command"] == "python -m micourse.toys.brackets.train"


def test_pad_mask_hides_pads():
    model = load()
    d = data.from_strings(["(())", "())("])
    full = model(d.toks)[:, 0]
    cut = model(d.toks[:, :8])[:, 0]  # no pads at all
    torch.testing.assert_close(full, cut, atol=1e-4, rtol=1e-4)


TINY = [
    {"steps": 2, "batch": 8, "lr": 1e-3, "data_seed": 0, "proportions": dict(data.PROPORTIONS)},
    {"steps": 2, "batch": 8, "lr": 1e-3, "data_seed": 1, "proportions": dict(data.PROPORTIONS)},
]


def _tensors(path):
    from safetensors.torch import load_file

    return load_file(str(path))


def test_training_smoke_is_deterministic_and_resumes(tmp_path):
    """Two 2-step phases: the same bytes twice, and the same tensors when phase 2 resumes from a saved phase 1."""
    from micourse.toys.brackets import train

    a, b, p1, resumed = (tmp_path / f"{n}.safetensors" for n in ("a", "b", "p1", "resumed"))
    _, meta = train.train(TINY, n_train=200, out=a, quiet=True, score_n=80)
    train.train(TINY, n_train=200, out=b, quiet=True, score_n=80)
    assert meta["steps"] == 4 and set(meta["scorecard"]) == {"generator", "coin_flips"}
    ta, tb = _tensors(a), _tensors(b)
    assert all(torch.equal(ta[k], tb[k]) for k in ta)
    train.train(TINY[:1], n_train=200, out=p1, quiet=True, score_n=80)
    train.train(TINY, n_train=200, out=resumed, quiet=True, score_n=80, first_phase=p1)
    tr = _tensors(resumed)
    assert all(torch.equal(ta[k], tr[k]) for k in ta)
    assert load(a).cfg.d_model == 56
    with pytest.raises(ValueError, match="first phase"):
        train.train(TINY, n_train=300, out=None, quiet=True, first_phase=p1)
