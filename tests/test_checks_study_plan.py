"""The study plan's checkers accept the references and reject at least three plausible mistakes each."""

import pytest
import torch
from torch import nn

from micourse.checks import CheckFailure
from micourse.checks import study_plan as chk

M, S = chk.MNIST_MEAN, chk.MNIST_STD


def rejects(check, fn, *fragments):
    with pytest.raises(CheckFailure) as info:
        check(fn)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


# ---------------------------------------------------------------- week 1


def test_preprocess():
    chk.check_preprocess(chk.preprocess_reference)
    rejects(chk.check_preprocess, lambda ims: [(i.flatten().float() - M) / S for i in ims], "divide by 255")
    rejects(chk.check_preprocess, lambda ims: [i.flatten().float() / 255 for i in ims], "not standardised")
    rejects(chk.check_preprocess, lambda ims: [(i.T.flatten().float() / 255 - M) / S for i in ims], "column by column")
    rejects(chk.check_preprocess, lambda ims: [(i.float() / 255 - M) / S for i in ims], "not flattened")
    rejects(chk.check_preprocess, lambda ims: (ims.flatten(1).float() / 255 - M) / S, "one tensor")
    rejects(chk.check_preprocess, lambda ims: [(i.flatten().float() / 255 - M) * S for i in ims], "don't multiply")


def _batches_drop_last(xs, ys, bs):
    return [b for b in chk.make_batches_reference(xs, ys, bs) if len(b[1]) == bs]


def test_make_batches():
    chk.check_make_batches(chk.make_batches_reference)
    chk.check_make_batches(
        lambda xs, ys, bs: (b for b in chk.make_batches_reference(xs, ys, bs))
    )  # a generator is fine
    rejects(chk.check_make_batches, _batches_drop_last, "short batch")
    rejects(
        chk.check_make_batches,
        lambda xs, ys, bs: [
            (torch.stack(xs[i : i + bs]), torch.tensor(ys[i : i + bs], dtype=torch.float32))
            for i in range(0, len(xs), bs)
        ],
        "int64",
    )
    rejects(
        chk.check_make_batches,
        lambda xs, ys, bs: [(list(xs[i : i + bs]), torch.tensor(ys[i : i + bs])) for i in range(0, len(xs), bs)],
        "torch.stack",
    )
    rejects(
        chk.check_make_batches,
        lambda xs, ys, bs: [
            (torch.stack(xs[i : i + bs]), torch.tensor(ys[i + 1 : i + bs + 1] + ys[:1])[: len(xs[i : i + bs])])
            for i in range(0, len(xs), bs)
        ],
        "labels",
    )


class _NoStandardise(chk.MnistDatasetReference):
    def __init__(self, images, labels):
        super().__init__(images, labels)
        self.x = images.reshape(len(images), -1).float() / 255


class _Unflattened(chk.MnistDatasetReference):
    def __getitem__(self, i):
        return self.x[i].reshape(28, 28), self.y[i]


class _ShiftedLabels(chk.MnistDatasetReference):
    def __getitem__(self, i):
        return self.x[i], self.y[(i + 1) % len(self.y)]


class _NotADataset:
    def __init__(self, images, labels):
        pass


def test_dataset():
    chk.check_dataset(chk.MnistDatasetReference)
    rejects(chk.check_dataset, _NoStandardise, "standardise")
    rejects(chk.check_dataset, _Unflattened, "flatten")
    rejects(chk.check_dataset, _ShiftedLabels, "label")
    rejects(chk.check_dataset, _NotADataset, "subclass")


def test_build_mlp():
    chk.check_build_mlp(chk.build_mlp_reference)
    chk.check_build_mlp(lambda: nn.Sequential(nn.Linear(784, 256), nn.GELU(), nn.Linear(256, 10)))
    rejects(chk.check_build_mlp, lambda: nn.Sequential(nn.Linear(784, 256), nn.Linear(256, 10)), "nonlinearity")
    rejects(
        chk.check_build_mlp,
        lambda: nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10), nn.Softmax(-1)),
        "softmax",
    )
    rejects(chk.check_build_mlp, lambda: nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)), "256")
    rejects(chk.check_build_mlp, lambda: nn.Linear(784, 10), "nn.Sequential")


# ---------------------------------------------------------------- week 2


def test_attention_mask():
    chk.check_attention_mask(chk.attention_mask_reference)
    chk.check_attention_mask(lambda L, n: torch.arange(n)[None] < torch.tensor(L)[:, None])  # bool is fine
    rejects(
        chk.check_attention_mask, lambda L, n: (torch.arange(n)[None] <= torch.tensor(L)[:, None]).long(), "off by one"
    )
    rejects(
        chk.check_attention_mask,
        lambda L, n: (torch.arange(n)[None] >= n - torch.tensor(L)[:, None]).long(),
        "left-padding",
    )
    rejects(
        chk.check_attention_mask, lambda L, n: (torch.arange(n)[None] >= torch.tensor(L)[:, None]).long(), "inverted"
    )
    rejects(chk.check_attention_mask, lambda L, n: (torch.arange(n)[None] < torch.tensor(L)[:, None]).float(), "dtype")


def test_real_token_columns():
    import einops

    chk.check_real_token_columns(chk.real_token_columns_reference)
    rejects(chk.check_real_token_columns, lambda a, m: einops.rearrange(a, "b s h -> h (b s)"), "padding")
    rejects(
        chk.check_real_token_columns,
        lambda a, m: einops.rearrange(a, "b s h -> h (s b)")[:, einops.rearrange(m, "b s -> (s b)").bool()],
        "(s b)",
    )
    rejects(chk.check_real_token_columns, lambda a, m: chk.real_token_columns_reference(a, m).T, "shape")
    rejects(chk.check_real_token_columns, lambda a, m: a[m.bool()], "shape")


def _no_wraps(fn):
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        print(fn.__name__, [tuple(a.shape) for a in args if isinstance(a, torch.Tensor)], "->", tuple(out.shape))
        return out

    return wrapper


def _no_return(fn):
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        print(fn.__name__, [tuple(a.shape) for a in args], tuple(out.shape))

    return wrapper


def _output_only(fn):
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        print(fn.__name__, "->", tuple(out.shape))
        return out

    return wrapper


def _drops_kwargs(fn):
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*args)
        print(fn.__name__, [tuple(a.shape) for a in args], tuple(out.shape))
        return out

    return wrapper


def _calls_early(fn):
    return fn(torch.ones(1, 1), torch.ones(1))


def test_log_shapes(capsys):
    chk.check_log_shapes(chk.log_shapes_reference)
    rejects(chk.check_log_shapes, _no_wraps, "functools.wraps")
    rejects(chk.check_log_shapes, _no_return, "returned None")
    rejects(chk.check_log_shapes, _output_only, "input shape")
    rejects(chk.check_log_shapes, _drops_kwargs, "keyword")
    rejects(chk.check_log_shapes, _calls_early)


def test_induction_score():
    def stripe(p, period, offset, last=True, batch_mean=True):
        d = p.diagonal(offset=-offset, dim1=-2, dim2=-1)
        d = d[..., -period:] if last else d
        return d.mean(dim=(0, -1)) if batch_mean else d.mean(-1)

    chk.check_induction_score(chk.induction_score_reference)
    rejects(chk.check_induction_score, lambda p, n: stripe(p, n, n), "duplicate-token")
    rejects(chk.check_induction_score, lambda p, n: stripe(p, n, n + 1), "period + 1")
    rejects(chk.check_induction_score, lambda p, n: stripe(p, n, n - 1, last=False), "first half")
    rejects(chk.check_induction_score, lambda p, n: stripe(p, n, n - 1, batch_mean=False), "batch")


# ---------------------------------------------------------------- week 3


def _gen(**overrides):
    """A generator built from the reference, with one thing changed."""
    import random

    def fn(n, *, templates, names, places, objects, seed=0):
        out = chk.ioi_prompts_reference(n, templates=templates, names=names, places=places, objects=objects, seed=seed)
        rng = random.Random(seed)
        if overrides.get("one_order"):
            return [dict(item, order="ABBA") for item in out]  # ABAB prompts labelled ABBA
        if overrides.get("random_template"):
            return [dict(item, template=rng.randrange(len(templates))) for item in out]
        if overrides.get("with_answer"):
            return [dict(item, prompt=item["prompt"] + " " + item["io"] + ".") for item in out]
        if overrides.get("same_name"):
            return [dict(item, io=item["s"]) for item in out]
        if overrides.get("global_rng"):
            return chk.ioi_prompts_reference(
                n, templates=templates, names=names, places=places, objects=objects, seed=random.random()
            )
        return out

    return fn


def _no_value_error(n, **kw):
    n2 = n - n % (2 * len(kw["templates"])) or 2 * len(kw["templates"])
    return chk.ioi_prompts_reference(n2, **kw)


def test_ioi_generator():
    chk.check_ioi_generator(chk.ioi_prompts_reference)
    rejects(chk.check_ioi_generator, _gen(one_order=True), "wrong order")
    rejects(chk.check_ioi_generator, _gen(random_template=True))
    rejects(chk.check_ioi_generator, _gen(with_answer=True), "contains the answer")
    rejects(chk.check_ioi_generator, _gen(same_name=True), "DIFFERENT")
    rejects(chk.check_ioi_generator, _gen(global_rng=True), "same seed")
    rejects(chk.check_ioi_generator, _no_value_error, "ValueError")
    rejects(
        chk.check_ioi_generator,
        lambda n, **kw: chk.ioi_prompts_reference(n, **dict(kw, names=("John", "Mary", "Tom"))),
        "names",
    )


def test_logit_diff():
    chk.check_logit_diff(chk.logit_diff_reference)
    chk.check_logit_diff(
        lambda lg, io, s: (
            lg.log_softmax(-1)[:, -1].gather(-1, io[:, None]) - lg.log_softmax(-1)[:, -1].gather(-1, s[:, None])
        )[:, 0]
    )
    rejects(chk.check_logit_diff, lambda lg, io, s: -chk.logit_diff_reference(lg, io, s), "sign")
    rejects(chk.check_logit_diff, lambda lg, io, s: chk.logit_diff_reference(lg.softmax(-1), io, s), "probabilities")
    rejects(chk.check_logit_diff, lambda lg, io, s: chk.logit_diff_reference(lg[:, :1], io, s), "position 0")
    rejects(chk.check_logit_diff, lambda lg, io, s: lg[:, -1][:, io] - lg[:, -1][:, s], "torch.arange")
    rejects(chk.check_logit_diff, lambda lg, io, s: chk.logit_diff_reference(lg, io, s).mean(), "one number")


def _patch_in_place(act, hook, clean, pos):
    act[:, pos] = clean[:, pos]


def test_patch_position():
    chk.check_patch_position(chk.patch_position_reference)
    chk.check_patch_position(_patch_in_place)  # in place, returning None, is fine in a hook
    rejects(chk.check_patch_position, lambda a, h, c, p: c, "whole clean")
    rejects(
        chk.check_patch_position, lambda a, h, c, p: chk.patch_position_reference(a, h, c, min(p + 1, 4)), "off by one"
    )
    rejects(chk.check_patch_position, lambda a, h, c, p: a, "changed nothing")

    def first_only(a, h, c, p):
        a = a.clone()
        a[0, p] = c[0, p]
        return a

    rejects(chk.check_patch_position, first_only)


# ---------------------------------------------------------------- week 4


def test_ablate_position_signal():
    ref = chk.ablate_position_signal_reference
    chk.check_ablate_position_signal(ref)
    rejects(chk.check_ablate_position_signal, lambda x, h, W: x - W[: x.shape[1]], "zero-ablation")
    rejects(chk.check_ablate_position_signal, lambda x, h, W: x - (W - W.mean(0))[: x.shape[1]], "all n_ctx")
    rejects(
        chk.check_ablate_position_signal,
        lambda x, h, W: x - (W[: x.shape[1]] - W[: x.shape[1]].mean(-1, keepdim=True)),
        "d_model",
    )
    rejects(chk.check_ablate_position_signal, lambda x, h, W: 2 * x - ref(x, h, W), "swapped")
    rejects(chk.check_ablate_position_signal, lambda x, h, W: x - (W - W.mean(0)), "raised RuntimeError")
