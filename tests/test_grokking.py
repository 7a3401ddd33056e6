"""The grokking toy: the task's split, a 2-step smoke run of the recipe, and the committed model."""

import pytest
import torch

from micourse.toys.grokking import data, fourier
from micourse.toys.grokking.model import CHECKPOINTS_PATH, WEIGHTS_PATH, build, cfg_for, load, load_checkpoints
from micourse.toys.grokking.train import last_logits, main


def test_pairs_and_labels():
    tokens = data.all_pairs(5)
    assert tokens.shape == (25, 3)
    assert tokens[7].tolist() == [1, 2, 5]  # row a * p + b, "=" is token p
    assert data.labels(tokens, 5)[7] == 3
    assert (data.labels(tokens, 5) == (tokens[:, 0] + tokens[:, 1]) % 5).all()


def test_split_is_seeded_disjoint_and_sized():
    tr, te = data.split()
    n = data.P**2
    assert len(tr) == round(data.TRAIN_FRACTION * n) and len(tr) + len(te) == n
    assert len(set(tr.tolist()) | set(te.tolist())) == n
    assert len(data.split(113, 0.3)[0]) == round(0.3 * 113**2)  # Nanda et al.'s split, for comparison
    tr2, _ = data.split()
    assert torch.equal(tr, tr2)
    assert not torch.equal(tr, data.split(seed=1)[0])


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        data.split(fraction=1.5)
    with pytest.raises(ValueError):
        fourier.fourier_basis(8)
    with pytest.raises(ValueError):
        fourier.sum_directions(7, [5])


def test_fourier_basis_is_orthonormal():
    B = fourier.fourier_basis(13)
    assert torch.allclose(B @ B.T, torch.eye(13), atol=1e-5)


def test_last_logits_is_the_model_forward():
    torch.manual_seed(0)
    model = build(cfg_for(11))
    tokens = data.all_pairs(11)
    assert torch.allclose(last_logits(model, tokens), model(tokens)[:, -1], atol=1e-5)


def test_two_step_smoke_run(tmp_path):
    w, c = tmp_path / "w.safetensors", tmp_path / "c.safetensors"
    main(["--p", "11", "--steps", "2", "--out", str(w), "--checkpoints-out", str(c)])
    model = load(w)
    meta = model.micourse_meta
    assert meta["steps"] == 2 and meta["threads"] == 1 and "scorecard" in meta
    assert meta["command"].startswith("python -m micourse.toys.grokking.train")
    ck = load_checkpoints(c)
    assert list(ck["snapshots"]) == [0, 2] and len(ck["curves"]["train_loss"]) == 2


@pytest.mark.skipif(not WEIGHTS_PATH.exists(), reason="the grokking weights are not committed yet")
def test_committed_model_generalises():
    model = load()
    tokens, labels = data.all_pairs(), data.labels(data.all_pairs())
    _, test_idx = data.split()
    with torch.no_grad():
        pred = model(tokens[test_idx])[:, -1].argmax(-1)
    assert (pred == labels[test_idx]).double().mean() >= 0.99
    curves = model.micourse_meta
    assert curves["scorecard"]["test_accuracy"] >= 0.99
    assert CHECKPOINTS_PATH.stat().st_size <= 8e6
