"""micourse.interp.composition: the shortcuts agree with the plain computations."""

import pytest
import torch
from transformer_lens import FactoredMatrix

from micourse.interp import circuits
from micourse.interp import composition as comp


def _fm(*shape, g):
    *lead, n, k, m = shape
    return FactoredMatrix(torch.randn(*lead, n, k, generator=g), torch.randn(*lead, k, m, generator=g))


def test_top1_through_matches_top1_on_rows():
    g = torch.Generator().manual_seed(0)
    W_E, W_U, OV = torch.randn(40, 8, generator=g), torch.randn(8, 40, generator=g), _fm(8, 3, 8, g=g)
    rows = torch.randperm(40, generator=g)[:15]
    full = comp.top1_on_rows(circuits.full_ov_circuit(W_E, OV, W_U), rows, batch_size=4)
    assert comp.top1_through(W_E, OV, W_U, rows, batch_size=4) == full
    known = torch.arange(5, 35)
    sub = torch.randperm(30, generator=g)[:10]
    expected = comp.top1_on_rows(comp.restrict(circuits.full_ov_circuit(W_E, OV, W_U), known), sub)
    assert comp.top1_through(W_E, OV, W_U, sub, known) == expected
    with pytest.raises(ValueError):
        comp.top1_through(W_E, OV, W_U, torch.tensor([40]))


def test_frobenius_and_batched_scores():
    g = torch.Generator().manual_seed(1)
    A, B = _fm(3, 10, 2, 10, g=g), _fm(4, 10, 2, 10, g=g)
    assert torch.allclose(comp.frobenius(A), A.AB.norm(dim=(-2, -1)), rtol=1e-4)
    table = comp.batched_composition_scores(A, B)
    loop = torch.tensor([[circuits.composition_score(A.AB[i], B.AB[j]) for j in range(4)] for i in range(3)])
    assert torch.allclose(table, loop, atol=1e-5)


def test_sum_of_circuits_and_eigenvalues():
    g = torch.Generator().manual_seed(2)
    a, b = _fm(9, 2, 9, g=g), _fm(9, 3, 9, g=g)
    assert torch.allclose(comp.sum_of_circuits([a, b]).AB, a.AB + b.AB, atol=1e-5)
    eig = comp.nonzero_eigenvalues(a.A, a.B)
    assert eig.shape == (2,)
    with pytest.raises(ValueError):
        comp.sum_of_circuits([])


def test_heads_like_best():
    scores = torch.tensor([[0.1, 0.0], [0.9, 0.5]])
    assert comp.heads_like_best(scores) == [(1, 0), (1, 1)]
    with pytest.raises(ValueError):
        comp.heads_like_best(torch.zeros(2, 2))
