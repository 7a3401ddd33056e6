"""Chapter 5, bracket pages: each checker accepts the reference and rejects plausible mistakes."""

import pytest
import torch

from micourse.checks import CheckFailure
from micourse.checks import brackets as chk
from micourse.toys.brackets import analysis, data
from micourse.toys.brackets.model import load


def rejects(check, fn, *fragments, args=()):
    with pytest.raises(CheckFailure) as info:
        check(fn, *args)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


@pytest.fixture(scope="module")
def model():
    torch.set_grad_enabled(False)
    try:
        yield load()
    finally:
        torch.set_grad_enabled(True)


def test_elevation_profile():
    chk.check_elevation_profile(data.elevations)
    rejects(chk.check_elevation_profile, lambda s: [0] + data.elevations(s), "before the first bracket")
    rejects(chk.check_elevation_profile, lambda s: [-h for h in data.elevations(s)], "signs swapped")
    rejects(chk.check_elevation_profile, lambda s: [1 if c == "(" else -1 for c in s], "running total")


def test_is_balanced():
    chk.check_is_balanced(data.is_balanced)
    rejects(chk.check_is_balanced, lambda s: s.count("(") == s.count(")"), "dips below zero")
    rejects(chk.check_is_balanced, lambda s: min(data.elevations(s) or [0]) >= 0, "exactly 0")
    rejects(chk.check_is_balanced, lambda s: data.kind_of(s) in ("balanced", "total"), "exactly 0")
    rejects(chk.check_is_balanced, lambda s: "balanced", "True or False")


def test_failure_kind():
    chk.check_failure_kind(data.kind_of)

    def first_failure(s):
        h = 0
        for c in s:
            h += 1 if c == "(" else -1
            if h < 0:
                return "negative"
        return "total" if h else "balanced"

    swap = {"total": "negative", "negative": "total"}
    rejects(chk.check_failure_kind, first_failure, "both conditions")
    rejects(chk.check_failure_kind, lambda s: swap.get(data.kind_of(s), data.kind_of(s)), "swapped")
    rejects(chk.check_failure_kind, lambda s: "unbalanced" if not data.is_balanced(s) else "balanced", "one of")


def test_is_balanced_tokens():
    chk.check_is_balanced_tokens(analysis.is_balanced_tokens)

    def total_only(toks):
        step = (toks == data.OPEN).long() - (toks == data.CLOSE).long()
        return step.sum(-1) == 0

    def pads_close(toks):
        step = torch.where(toks == data.OPEN, 1, -1)
        elev = step.cumsum(-1)
        return (elev[:, -1] == 0) & (elev.min(-1).values >= 0)

    def per_position(toks):
        step = (toks == data.OPEN).long() - (toks == data.CLOSE).long()
        return step.cumsum(-1) >= 0

    rejects(chk.check_is_balanced_tokens, total_only, "lowest elevation")
    rejects(chk.check_is_balanced_tokens, pads_close, "[pad]")
    rejects(chk.check_is_balanced_tokens, per_position, "shape")


def test_model_says_balanced(model):
    def ref(m, toks):
        lg = m(toks)[:, 0]
        return lg[:, 1] > lg[:, 0]

    chk.check_model_says_balanced(ref, model)
    rejects(chk.check_model_says_balanced, lambda m, t: m(t)[:, 0, 0] > m(t)[:, 0, 1], "reversed", args=(model,))
    rejects(chk.check_model_says_balanced, lambda m, t: m(t)[:, -1, 1] > m(t)[:, -1, 0], "last position", args=(model,))
    rejects(chk.check_model_says_balanced, lambda m, t: m(t)[..., 1] > m(t)[..., 0], "shape", args=(model,))


def test_accuracy_per_kind():
    def ref(pred, truth, kinds):
        d = data.BracketData(["x"] * len(kinds), kinds, torch.zeros(len(kinds), 1), truth)
        return analysis.accuracy_by_kind(pred, d)

    chk.check_accuracy_per_kind(ref)

    def share(pred, truth, kinds):
        return {k: float(pred[torch.tensor([x == k for x in kinds])].float().mean()) for k in set(kinds)}

    def overall(pred, truth, kinds):
        return {k: float((pred == truth).float().mean()) for k in set(kinds)}

    def count(pred, truth, kinds):
        return {k: float((pred == truth)[torch.tensor([x == k for x in kinds])].sum()) for k in set(kinds)}

    rejects(chk.check_accuracy_per_kind, share, "predicted balanced")
    rejects(chk.check_accuracy_per_kind, overall, "overall")
    rejects(chk.check_accuracy_per_kind, count, "count")


def test_post_ln_unbalanced_dir(model):
    chk.check_post_ln_unbalanced_dir(analysis.unbalanced_direction, model)
    rejects(chk.check_post_ln_unbalanced_dir, lambda m: m.W_U[:, 1] - m.W_U[:, 0], "reversed", args=(model,))
    rejects(chk.check_post_ln_unbalanced_dir, lambda m: m.W_U[:, 0], "single column", args=(model,))
    rejects(chk.check_post_ln_unbalanced_dir, lambda m: m.W_U, "all of W_U", args=(model,))


def test_fit_layernorm():
    chk.check_fit_layernorm(analysis.fit_final_ln)

    def no_bias(x, y):
        return torch.linalg.lstsq(x, y).solution, torch.zeros(x.shape[1])

    def transposed(x, y):
        L, b = analysis.fit_final_ln(x, y)
        return L.T, b

    def backwards(x, y):
        return analysis.fit_final_ln(y, x)

    rejects(chk.check_fit_layernorm, no_bias, "without a bias")
    rejects(chk.check_fit_layernorm, transposed, "transposed")
    rejects(chk.check_fit_layernorm, backwards, "wrong way round")


def test_pre_ln_dir():
    chk.check_pre_ln_dir(analysis.pre_ln_direction)
    rejects(chk.check_pre_ln_dir, lambda L, p: L.T @ p, "L.T")
    rejects(chk.check_pre_ln_dir, lambda L, p: torch.linalg.pinv(L) @ p, "inverse")
    rejects(chk.check_pre_ln_dir, lambda L, p: p, "unchanged")


def test_head_contributions():
    def ref(z, W_O, v):
        return torch.einsum("bhd,hdm->hbm", z, W_O) @ v

    chk.check_head_contributions(ref)
    rejects(chk.check_head_contributions, lambda z, W, v: ref(z, W, v).T, "(batch, head)")
    rejects(chk.check_head_contributions, lambda z, W, v: ref(z, W, v).sum(0), "summed over heads")
    rejects(chk.check_head_contributions, lambda z, W, v: z.sum(-1).T, "Multiply z by W_O")


def test_start_ablation(model):
    def ref(head, reference):
        def hook(z, hook):
            z = z.clone()
            z[:, 0, head] = reference
            return z

        return hook

    def every_position(head, reference):
        def hook(z, hook):
            z = z.clone()
            z[:, :, head] = reference
            return z

        return hook

    def in_place(head, reference):
        def hook(z, hook):
            z[:, 0, head] = reference

        return hook

    def every_head(head, reference):
        def hook(z, hook):
            z = z.clone()
            z[:, 0] = reference
            return z

        return hook

    chk.check_start_ablation(ref, model)
    rejects(chk.check_start_ablation, every_position, "every position", args=(model,))
    rejects(chk.check_start_ablation, in_place, "in place", args=(model,))
    rejects(chk.check_start_ablation, every_head, "every head", args=(model,))


def test_name_components():
    table = {
        "0.0": {"balanced": 0.5, "total": 0.2, "negative": 0.3, "both": 0.6},
        "1.0": {"balanced": 1.0, "total": 0.1, "negative": 0.97, "both": 0.99},
        "1.1": {"balanced": 1.0, "total": 0.6, "negative": 0.5, "both": 0.99},
        "2.1": {"balanced": 0.99, "total": 0.99, "negative": 0.05, "both": 0.98},
        "mlp2": {"balanced": 1.0, "total": 0.97, "negative": 0.6, "both": 0.98},
    }
    chk.check_name_components(lambda t: ("1.0", "2.1"), table)
    rejects(chk.check_name_components, lambda t: ("2.1", "1.0"), "swapped", args=(table,))
    rejects(chk.check_name_components, lambda t: ("0.0", "2.1"), "balanced strings too", args=(table,))
    rejects(chk.check_name_components, lambda t: ("1.1", "2.1"), "also loses", args=(table,))
    rejects(chk.check_name_components, lambda t: ("1.0", "mlp2"), "far more", args=(table,))
    rejects(chk.check_name_components, lambda t: ("L1H0", "2.1"), "not a component", args=(table,))


def test_uniformity():
    chk.check_uniformity(analysis.uniformity_score)

    def all_queries(p, toks):
        real = toks != data.PAD
        u = real.float() / real.sum(-1, keepdim=True)
        return 1 - (0.5 * (p - u[:, None, None, :]).abs().sum(-1)).mean((0, 2))

    def over_all_keys(p, toks):
        real = toks != data.PAD
        u = torch.full_like(p, 1 / p.shape[-1])
        tv = 0.5 * (p - u).abs().sum(-1)
        q = real[:, None, :].float()
        return 1 - (tv * q).sum((0, 2)) / q.sum((0, 2))

    def distance(p, toks):
        return 1 - analysis.uniformity_score(p, toks)

    rejects(chk.check_uniformity, all_queries, "non-[pad] queries")
    rejects(chk.check_uniformity, over_all_keys, "pads included")
    rejects(chk.check_uniformity, distance, "1 minus")


def test_open_proportion():
    chk.check_open_proportion(analysis.open_proportion)
    rejects(chk.check_open_proportion, lambda t: (t == data.OPEN).sum(-1) / t.shape[1], "padded width")
    rejects(
        chk.check_open_proportion, lambda t: (t == data.OPEN).sum(-1) / (t != data.PAD).sum(-1), "[start] and [end]"
    )
    rejects(
        chk.check_open_proportion, lambda t: (t == data.CLOSE).sum(-1) / ((t == 3) | (t == 4)).sum(-1), "share of ')'"
    )


def test_top_neurons():
    chk.check_top_neurons(analysis.neurons_by_difference)

    def signed(acts, flag, k):
        return (acts[flag].mean(0) - acts[~flag].mean(0)).argsort(descending=True)[:k].tolist()

    def largest(acts, flag, k):
        return acts.mean(0).argsort(descending=True)[:k].tolist()

    def ascending(acts, flag, k):
        return analysis.neurons_by_difference(acts, flag, k)[::-1]

    rejects(chk.check_top_neurons, signed, "absolute")
    rejects(chk.check_top_neurons, largest, "difference")
    rejects(chk.check_top_neurons, ascending, "order")


def test_near_total():
    chk.check_near_total(analysis.total_string)
    rejects(chk.check_near_total, lambda n, h, rng: "(" * h + data.random_dyck(n - h, rng), "front")
    rejects(chk.check_near_total, lambda n, h, rng: "(" * h + "()" * ((n - h) // 2), "same string")
    rejects(
        chk.check_near_total,
        lambda n, h, rng: ")(" + "(" * h + data.random_dyck(n - h - 2, rng) if n >= h + 2 else "(" * n,
        "dips",
    )
    rejects(
        chk.check_near_total,
        lambda n, h, rng: "(" * (h + 2) + data.random_dyck(n - h - 2, rng) if n >= h + 2 else "(" * n,
        "ends at",
    )


def test_dip_after():
    chk.check_dip_after(analysis.dip_string)
    rejects(
        chk.check_dip_after,
        lambda n, k: analysis.dip_string(n, k + 2) if k + 2 < n else ")(" + "()" * (n // 2 - 1),
        "dips after",
    )
    rejects(
        chk.check_dip_after,
        lambda n, k: "()" * ((k - 1) // 2) + "))((" + "()" * ((n - k - 3) // 2) if n > 3 else ")(",
        "below zero after",
    )
    rejects(chk.check_dip_after, lambda n, k: "()" * (n // 2), "below zero after brackets []")
    rejects(chk.check_dip_after, lambda n, k: ")(" * (n // 2), "below zero after")
