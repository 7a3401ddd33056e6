"""Checkers for the four-week study plan (chapters/04-study-plan), with their references.

Week 1: MNIST preprocessing with a list comprehension, batching with `zip`, a `Dataset`, the
`nn.Sequential` MLP. Week 2: the "b s h -> h (b s)" rearrangement, the last real token of each
row of a padded batch, a shape-logging decorator. Week 3: a balanced IOI prompt generator and
the logit difference. Week 4: removing the positional embedding's share of an MLP's input.
Each reference (`*_reference`) is what the page uses after its exercise, so that the page runs
before the learner has written anything.
"""

from __future__ import annotations

import functools
import io
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import redirect_stdout
from typing import Any

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from micourse.checks.core import CheckFailure, Diagnosis, check_close, passed

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # of the training pixels scaled to [0, 1]


def _call(fn: Callable, what: str, *args: Any, **kwargs: Any) -> Any:
    if not callable(fn):
        raise CheckFailure(f"Pass the function itself (e.g. `{what}`), not {type(fn).__name__}.")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise
    except CheckFailure:
        raise
    except Exception as err:
        raise CheckFailure(f"{what} raised {type(err).__name__}: {err}") from err


def _close(a: Any, b: Tensor, atol: float = 1e-5) -> bool:
    return isinstance(a, Tensor) and a.shape == b.shape and torch.allclose(a.double(), b.double(), atol=atol, rtol=1e-4)


def _fake_images(n: int = 5, seed: int = 0) -> Int[Tensor, "n 28 28"]:
    """Random uint8 'digits' whose rows and columns differ, so a transpose shows."""
    g = torch.Generator().manual_seed(seed)
    img = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.int64)
    img[:, :, :7] = 0  # an empty left margin: a transposed image has an empty top instead
    return img.to(torch.uint8)


# ============================================================================ week 1


def preprocess_reference(images: Int[Tensor, "n 28 28"]) -> list[Float[Tensor, " 784"]]:
    """Each image flattened row by row, scaled to [0, 1], then standardised."""
    return [((img.flatten().float() / 255.0) - MNIST_MEAN) / MNIST_STD for img in images]


def check_preprocess(fn: Callable[[Tensor], list]) -> None:
    """`fn(images)` returns a list with one standardised 784-vector per uint8 image."""
    images = _fake_images()
    out = _call(fn, "preprocess", images.clone())
    if isinstance(out, Tensor):
        raise CheckFailure(
            "preprocess returned one tensor; return a list with one tensor per image (a list comprehension)."
        )
    if not isinstance(out, list):
        raise CheckFailure(f"preprocess should return a list, got {type(out).__name__}.")
    if len(out) != len(images):
        raise CheckFailure(f"preprocess returned {len(out)} items for {len(images)} images: one per image.")
    expected = preprocess_reference(images)
    for i, (mine, ref) in enumerate(zip(out, expected)):
        if isinstance(mine, Tensor) and mine.dtype == torch.uint8:
            raise CheckFailure("the items are still uint8: convert with .float() before scaling.")
        if isinstance(mine, Tensor) and tuple(mine.shape) == (28, 28):
            raise CheckFailure("the images are not flattened: each item should have shape (784,).")
        img = images[i].float()
        diag = [
            Diagnosis(
                lambda a, img=img: _close(a, ((img.flatten() - MNIST_MEAN) / MNIST_STD)),
                "scale to [0, 1] (divide by 255) before subtracting the mean and dividing by the std.",
            ),
            Diagnosis(
                lambda a, img=img: _close(a, img.flatten() / 255.0),
                "the values are scaled to [0, 1] but not standardised: subtract MNIST_MEAN, divide by MNIST_STD.",
            ),
            Diagnosis(
                lambda a, img=img: _close(a, ((img.T.flatten() / 255.0) - MNIST_MEAN) / MNIST_STD),
                "the image is flattened column by column (transposed); flatten it as it is, row by row.",
            ),
            Diagnosis(
                lambda a, img=img: _close(a, (img.flatten() / 255.0 - MNIST_MEAN) * MNIST_STD),
                "divide by the standard deviation, don't multiply.",
            ),
        ]
        check_close(
            mine,
            ref,
            what=f"preprocess(images)[{i}]",
            diagnoses=diag,
            hint="(img.flatten().float() / 255 - MNIST_MEAN) / MNIST_STD for every img.",
        )
    passed("preprocess")


def make_batches_reference(
    xs: Sequence[Tensor], ys: Sequence[int], batch_size: int
) -> list[tuple[Float[Tensor, "b d"], Int[Tensor, " b"]]]:
    """Consecutive (inputs, labels) batches; the last one may be short."""
    pairs = list(zip(xs, ys))
    batches = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        x_part, y_part = zip(*chunk)
        batches.append((torch.stack(x_part), torch.tensor(y_part, dtype=torch.int64)))
    return batches


def check_make_batches(fn: Callable[[Sequence[Tensor], Sequence[int], int], list]) -> None:
    """`fn(xs, ys, batch_size)` -> a list of `(X [b, d], y [b] int64)` covering every example in order."""
    g = torch.Generator().manual_seed(1)
    for n, d, bs in [(10, 3, 4), (8, 2, 4), (5, 6, 8)]:
        xs = [torch.randn(d, generator=g) for _ in range(n)]
        ys = [int(v) for v in torch.randint(0, 10, (n,), generator=g)]
        out = _call(fn, "make_batches", list(xs), list(ys), bs)
        expected = make_batches_reference(xs, ys, bs)
        if not isinstance(out, (list, tuple)):
            out = list(out)  # a generator is fine
        if len(out) != len(expected):
            short = n % bs
            if short and len(out) == len(expected) - 1:
                raise CheckFailure(
                    f"{n} examples in batches of {bs} give {len(expected)} batches; you dropped the "
                    f"last, short batch of {short}. Keep it: every test example must be scored."
                )
            raise CheckFailure(f"{n} examples in batches of {bs}: expected {len(expected)} batches, got {len(out)}.")
        for i, (mine, (ex, ey)) in enumerate(zip(out, expected)):
            if not (isinstance(mine, (tuple, list)) and len(mine) == 2):
                raise CheckFailure(f"batch {i} should be a pair (inputs, labels), got {type(mine).__name__}.")
            bx, by = mine
            if isinstance(bx, (list, tuple)):
                raise CheckFailure(
                    f"batch {i}'s inputs are a {type(bx).__name__}: stack them into one tensor (torch.stack)."
                )
            check_close(
                bx,
                ex,
                what=f"batch {i}'s inputs (n={n}, batch_size={bs})",
                hint="consecutive examples, in order, stacked along a new first axis.",
            )
            if not isinstance(by, Tensor) or by.dtype != torch.int64:
                raise CheckFailure(
                    f"batch {i}'s labels should be an int64 tensor (CrossEntropyLoss wants class indices), "
                    f"got {getattr(by, 'dtype', type(by).__name__)}."
                )
            check_close(by, ey, what=f"batch {i}'s labels", hint="labels in the same order as the inputs.")
    passed("make_batches")


class MnistDatasetReference(torch.utils.data.Dataset):
    """MNIST as a map-style dataset: item i is (standardised 784-vector, label)."""

    def __init__(self, images: Int[Tensor, "n 28 28"], labels: Int[Tensor, " n"]):
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels.")
        self.x = ((images.reshape(len(images), -1).float() / 255.0) - MNIST_MEAN) / MNIST_STD
        self.y = labels.long()

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.x[i], self.y[i]


def check_dataset(cls: type) -> None:
    """`cls(images, labels)` is a `Dataset` whose item i is `(standardised x [784], label)`."""
    if not isinstance(cls, type):
        raise CheckFailure(f"Pass the class MnistDataset itself, got {type(cls).__name__}.")
    images = _fake_images(6, seed=2)
    labels = torch.tensor([3, 1, 4, 1, 5, 9])
    ds = _call(cls, "MnistDataset(images, labels)", images.clone(), labels.clone())
    if not isinstance(ds, torch.utils.data.Dataset):
        raise CheckFailure("MnistDataset should subclass torch.utils.data.Dataset.")
    n = _call(len, "len(dataset)", ds)
    if n != len(labels):
        raise CheckFailure(f"len(dataset) is {n}, expected {len(labels)}: one item per image.")
    ref = MnistDatasetReference(images, labels)
    for i in (0, 4, 5):
        item = _call(ds.__getitem__, f"dataset[{i}]", i)
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise CheckFailure(f"dataset[{i}] should be a pair (x, label), got {type(item).__name__}.")
        x, y = item
        img = images[i].float()
        diag = [
            Diagnosis(
                lambda a, img=img: _close(a, img.flatten() / 255.0),
                "standardise too: (pixel / 255 - MNIST_MEAN) / MNIST_STD, as in preprocess.",
            ),
            Diagnosis(
                lambda a, img=img: _close(a, (img.flatten() - MNIST_MEAN) / MNIST_STD),
                "divide by 255 before standardising.",
            ),
        ]
        if isinstance(x, Tensor) and tuple(x.shape) == (28, 28):
            raise CheckFailure(f"dataset[{i}]'s x has shape (28, 28): flatten it to (784,) for the MLP.")
        check_close(x, ref[i][0], what=f"dataset[{i}]'s x", diagnoses=diag)
        y_val = (
            int(y) if isinstance(y, (int, Tensor)) and not (isinstance(y, Tensor) and y.is_floating_point()) else None
        )
        if y_val is None:
            raise CheckFailure(f"dataset[{i}]'s label should be an integer (or an int64 tensor), got {y!r}.")
        if y_val != int(labels[i]):
            raise CheckFailure(
                f"dataset[{i}]'s label is {y_val}, expected {int(labels[i])}: item i pairs image i with label i."
            )
    passed("MnistDataset")


def build_mlp_reference() -> nn.Sequential:
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def check_build_mlp(fn: Callable[[], nn.Module]) -> None:
    """`fn()` returns an `nn.Sequential` MLP 784 -> 256 -> 10 that outputs logits."""
    model = _call(fn, "build_mlp")
    if not isinstance(model, nn.Sequential):
        raise CheckFailure(f"build_mlp should return an nn.Sequential, got {type(model).__name__}.")
    linears = [m for m in model if isinstance(m, nn.Linear)]
    shapes = [(m.in_features, m.out_features) for m in linears]
    if shapes != [(784, 256), (256, 10)]:
        raise CheckFailure(
            f"the Linear layers map {shapes}; expected [(784, 256), (256, 10)]: 784 pixels in, 256 hidden units, 10 digits out."
        )
    if isinstance(list(model)[-1], (nn.Softmax, nn.LogSoftmax)):
        raise CheckFailure(
            "the model ends with a softmax: nn.CrossEntropyLoss applies log-softmax itself, so return raw logits."
        )
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(4, 784, generator=g), torch.randn(4, 784, generator=g)
    with torch.no_grad():
        zero = model(torch.zeros(1, 784))
        affine_gap = (model(a + b) - model(a) - model(b) + zero).abs().max().item()
    if affine_gap < 1e-4:
        raise CheckFailure(
            "the model is a single affine map: put a nonlinearity (nn.ReLU()) between the two Linear layers."
        )
    passed("build_mlp")


# ============================================================================ week 2


def attention_mask_reference(lengths: Sequence[int], seq_len: int) -> Int[Tensor, "batch seq_len"]:
    """1 where row b has a real token (its first lengths[b] positions, right padding), 0 on padding."""
    positions = torch.arange(seq_len)
    return (positions[None, :] < torch.as_tensor(list(lengths))[:, None]).long()


def check_attention_mask(fn: Callable[[Sequence[int], int], Tensor]) -> None:
    """`fn(lengths, seq_len)` -> `[batch, seq_len]` mask, 1 on the real (left-aligned) tokens."""
    for lengths, seq_len in [([3, 5, 1], 5), ([2, 2], 4), ([6, 4, 6, 1], 7)]:
        out = _call(fn, "attention_mask_from_lengths", list(lengths), seq_len)
        expected = attention_mask_reference(lengths, seq_len)
        if isinstance(out, Tensor) and out.dtype == torch.bool:
            out = out.long()
        if isinstance(out, Tensor) and out.is_floating_point():
            raise CheckFailure(
                f"the mask has dtype {out.dtype}; use integers (or bool): TransformerLens compares it with 0 and 1."
            )
        L = torch.as_tensor(lengths)[:, None]
        pos = torch.arange(seq_len)[None, :]
        diag = [
            Diagnosis(
                lambda a, L=L, pos=pos: _close(a, (pos <= L).long()),
                "off by one: a row of length n has real tokens at positions 0 .. n-1 (use <, not <=).",
            ),
            Diagnosis(
                lambda a, L=L, pos=pos, n=seq_len: _close(a, (pos >= n - L).long()),
                "this is a left-padding mask; the batch is right-padded: real tokens come first.",
            ),
            Diagnosis(
                lambda a, L=L, pos=pos: _close(a, (pos >= L).long()),
                "the mask is inverted: 1 marks a real token, 0 a pad.",
            ),
        ]
        check_close(
            out,
            expected,
            what=f"attention_mask_from_lengths({lengths}, {seq_len})",
            diagnoses=diag,
            hint="compare torch.arange(seq_len) with each length, by broadcasting.",
        )
    passed("attention_mask_from_lengths")


def real_token_columns_reference(acts: Float[Tensor, "b s h"], mask: Int[Tensor, "b s"]) -> Float[Tensor, "h n_real"]:
    """Every real token's activation vector as a column, batch-major, padding dropped."""
    flat = einops.rearrange(acts, "b s h -> h (b s)")
    keep = einops.rearrange(mask, "b s -> (b s)").bool()
    return flat[:, keep]


def check_real_token_columns(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """`fn(acts, mask)` -> `[h, n_real]`: `rearrange(acts, "b s h -> h (b s)")` without the padding."""
    g = torch.Generator().manual_seed(4)
    for b, s, h, lengths in [(2, 4, 3, [4, 2]), (3, 5, 6, [1, 5, 3])]:
        acts = torch.randn(b, s, h, generator=g)
        mask = attention_mask_reference(lengths, s)
        out = _call(fn, "real_token_columns", acts.clone(), mask.clone())
        expected = real_token_columns_reference(acts, mask)
        sb = einops.rearrange(acts, "b s h -> h (s b)")[:, einops.rearrange(mask, "b s -> (s b)").bool()]
        diag = [
            Diagnosis(
                lambda a, sb=sb: _close(a, sb),
                "you grouped '(s b)': the columns should run batch-major, '(b s)' (row 0's tokens first).",
            ),
            Diagnosis(
                lambda a, e=expected: _close(a, e.T),
                "your result is transposed: one ROW per neuron (h), one column per token.",
            ),
            Diagnosis(
                lambda a, x=acts: _close(a, einops.rearrange(x, "b s h -> h (b s)")),
                "the padding columns are still there: drop the columns where the mask is 0.",
            ),
        ]
        if isinstance(out, Tensor) and tuple(out.shape) == (h, b * s) and sum(lengths) != b * s:
            raise CheckFailure(
                f"the output has shape {tuple(out.shape)}: all b*s columns, padding included. Keep only the {sum(lengths)} real tokens."
            )
        check_close(
            out,
            expected,
            what=f"real_token_columns for acts {tuple(acts.shape)}",
            diagnoses=diag,
            hint='einops.rearrange(acts, "b s h -> h (b s)"), then index the columns with the mask flattened the same way.',
        )
    passed("real_token_columns")


def log_shapes_reference(fn: Callable) -> Callable:
    """Wrap `fn` so that every call prints the shapes of its tensor inputs and outputs."""

    def describe(x: Any) -> str:
        if isinstance(x, Tensor):
            return str(tuple(x.shape))
        if isinstance(x, (tuple, list)):
            return "(" + ", ".join(describe(v) for v in x) + ")"
        return type(x).__name__

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        inputs = [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
        print(f"{fn.__name__}({', '.join(inputs)}) -> {describe(out)}")
        return out

    return wrapper


def _mentions_shape(text: str, shape: tuple[int, ...]) -> bool:
    import re

    if len(shape) == 1:  # "(3,)", "[3]" or "torch.Size([3])"
        return re.search(rf"[\(\[]{shape[0]},?[\)\]]", text) is not None
    pattern = r"\D" + r"\s*,\s*".join(str(n) for n in shape) + r"\D"
    return re.search(pattern, f" {text} ") is not None


def check_log_shapes(decorator: Callable[[Callable], Callable]) -> None:
    """`decorator(fn)` returns a function that behaves like `fn` and prints its tensors' shapes."""
    calls = []

    def scale_rows(x: Tensor, weights: Tensor, *, offset: float = 0.0, note: str = "") -> Tensor:
        """Multiply each row of x by its weight."""
        calls.append(note)
        return x * weights[:, None] + offset

    wrapped = _call(decorator, "log_shapes", scale_rows)
    if not callable(wrapped):
        raise CheckFailure(
            f"log_shapes(fn) should return a function (the wrapper), got {type(wrapped).__name__}: "
            "did you return the wrapper's result instead of the wrapper?"
        )
    if calls:
        raise CheckFailure("log_shapes called fn while decorating it: the call belongs inside the wrapper.")
    x, w = torch.randn(3, 7), torch.randn(3)
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        out = _call(wrapped, "the decorated function", x, w, offset=1.0, note="hi")
    printed = buffer.getvalue()
    if not calls:
        raise CheckFailure("the decorated function never called the original one.")
    if calls[-1] != "hi":
        raise CheckFailure("keyword arguments did not reach the original function: pass **kwargs through.")
    if out is None:
        raise CheckFailure("the decorated function returned None: return the original function's result.")
    check_close(out, x * w[:, None] + 1.0, what="the decorated function's result")
    if not printed.strip():
        raise CheckFailure("nothing was printed: print the shapes in the wrapper.")
    missing = [s for s in [(3, 7), (3,)] if not _mentions_shape(printed, s)]
    if missing:
        raise CheckFailure(
            f"the log {printed.strip()!r} does not show the input shape(s) {missing}: print every tensor argument's shape."
        )
    if printed.count("(3, 7)") + printed.count("[3, 7]") < 2:
        raise CheckFailure(
            f"the log {printed.strip()!r} shows the output shape (3, 7) at most once: log the inputs AND the output."
        )
    if "scale_rows" not in printed:
        raise CheckFailure(
            f"the log {printed.strip()!r} does not name the function: print fn.__name__, so a log of many calls can be read."
        )
    if getattr(wrapped, "__name__", None) != "scale_rows" or getattr(wrapped, "__doc__", None) != scale_rows.__doc__:
        raise CheckFailure(
            "the wrapper hides the original's name and docstring: decorate it with @functools.wraps(fn)."
        )
    passed("log_shapes")


def induction_score_reference(pattern: Float[Tensor, "batch head q k"], period: int) -> Float[Tensor, " head"]:
    """Mean attention from each second-half token to the token after its first occurrence.

    The sequence is [BOS, r_1 .. r_period, r_1 .. r_period]: the copy of r_i at position
    period + i should attend to position i + 1, which lies period - 1 positions back.
    """
    stripe = pattern.diagonal(offset=-(period - 1), dim1=-2, dim2=-1)  # [batch, head, n]
    return stripe[..., -period:].mean(dim=(0, -1))


def check_induction_score(fn: Callable[[Tensor, int], Tensor]) -> None:
    """`fn(pattern, period)` -> `[head]` induction scores on repeated random tokens with a BOS."""
    g = torch.Generator().manual_seed(5)
    for batch, heads, period in [(2, 3, 4), (1, 4, 6)]:
        n = 2 * period + 1
        scores = torch.randn(batch, heads, n, n, generator=g) * 2
        scores = scores.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool), 1), float("-inf"))
        pattern = scores.softmax(-1)
        out = _call(fn, "induction_score", pattern.clone(), period)
        expected = induction_score_reference(pattern, period)

        def stripe(offset: int, last: int | None, p: Tensor = pattern) -> Tensor:
            d = p.diagonal(offset=-offset, dim1=-2, dim2=-1)
            return (d[..., -last:] if last else d).mean(dim=(0, -1))

        diag = [
            Diagnosis(
                lambda a, n=period: _close(a, stripe(n, n)),
                "that is the duplicate-token stripe (offset period): an induction head attends to the token AFTER the earlier copy, offset period - 1.",
            ),
            Diagnosis(
                lambda a, n=period: _close(a, stripe(n + 1, n)),
                "offset period + 1 looks one token too far back: use period - 1.",
            ),
            Diagnosis(
                lambda a, n=period: _close(a, stripe(n - 1, None)),
                "you averaged the whole stripe, first half included: only queries in the repeated half (the last `period`) count.",
            ),
            Diagnosis(
                lambda a, p=pattern, n=period: _close(
                    a, p.diagonal(offset=-(n - 1), dim1=-2, dim2=-1)[..., -n:].mean(-1)
                ),
                "average over the batch too: return one score per head.",
            ),
        ]
        check_close(
            out,
            expected,
            what=f"induction_score (batch {batch}, {heads} heads, period {period})",
            diagnoses=diag,
            hint="pattern.diagonal(offset=-(period - 1), dim1=-2, dim2=-1) holds each query's attention period - 1 tokens back.",
        )
    passed("induction_score")


# ============================================================================ week 3

ORDERS = ("ABBA", "ABAB")  # ABBA: the indirect object is named first; ABAB: the subject is


def ioi_prompts_reference(
    n: int,
    *,
    templates: Sequence[str],
    names: Sequence[str],
    places: Sequence[str],
    objects: Sequence[str],
    seed: int = 0,
) -> list[dict[str, Any]]:
    """`n` IOI prompts, every (template, name order) pair equally often, two distinct names each.

    A template has fields {A}, {B} (the two names, in order of introduction), {S} (the subject,
    who acts), {IO} (the indirect object, the answer; the prompt ends just before it), and
    optionally {place} and {obj}. Item: prompt, io, s, order ("ABBA"/"ABAB"), template (index).
    """
    import random

    combos = [(t, order) for t in range(len(templates)) for order in ORDERS]
    if n <= 0 or n % len(combos):
        raise ValueError(
            f"n={n}: use a positive multiple of {len(combos)} (2 name orders x {len(templates)} templates) so that the set is balanced."
        )
    if len(set(names)) < 2:
        raise ValueError("need at least two distinct names.")
    rng = random.Random(seed)
    out = []
    for i in range(n):
        t, order = combos[i % len(combos)]
        io, s = rng.sample(list(names), 2)
        a, b = (io, s) if order == "ABBA" else (s, io)
        fields = {"A": a, "B": b, "S": s, "place": rng.choice(list(places)), "obj": rng.choice(list(objects))}
        prompt = templates[t].split("{IO}")[0].format(**fields).rstrip()
        out.append({"prompt": prompt, "io": io, "s": s, "order": order, "template": t})
    return out


def _prefix_matches(prompt: str, template: str, a: str, b: str, s: str, places, objects) -> bool:
    head = template.split("{IO}")[0]
    return any(head.format(A=a, B=b, S=s, place=p, obj=o).rstrip() == prompt for p in places for o in objects)


def check_ioi_generator(fn: Callable[..., list]) -> None:
    """`fn(n, templates=, names=, places=, objects=, seed=)`: a balanced, reproducible IOI prompt set."""
    templates = (
        "Once {A} met {B} at the {place}; {S} handed the {obj} to {IO}.",
        "{A} and {B} sat down. Soon {S} passed the {obj} to {IO}.",
    )
    names, places, objects = ("Ada", "Bea", "Cy"), ("lake", "farm"), ("cup", "map")
    kw = {"templates": templates, "names": names, "places": places, "objects": objects}
    n = 16
    out = _call(fn, "ioi_prompts", n, seed=1, **kw)
    if not isinstance(out, list) or len(out) != n:
        raise CheckFailure(
            f"ioi_prompts({n}, ...) should return a list of {n} prompts, got {type(out).__name__} of length {len(out) if hasattr(out, '__len__') else '?'}."
        )
    for i, item in enumerate(out):
        if not isinstance(item, dict) or not {"prompt", "io", "s", "order", "template"} <= set(item):
            raise CheckFailure(f"item {i} should be a dict with keys prompt, io, s, order, template; got {item!r}.")
        io, s, order, t = item["io"], item["s"], item["order"], item["template"]
        if io == s:
            raise CheckFailure(
                f"item {i} uses {io!r} as both subject and indirect object: draw two DIFFERENT names (random.sample, not two random.choice)."
            )
        if io not in names or s not in names:
            raise CheckFailure(
                f"item {i} uses names {io!r}, {s!r} that are not in the `names` argument: use the names you are given."
            )
        if order not in ORDERS:
            raise CheckFailure(
                f"item {i} has order {order!r}; use 'ABBA' (IO named first) or 'ABAB' (subject named first)."
            )
        if not isinstance(t, int) or not 0 <= t < len(templates):
            raise CheckFailure(f"item {i} has template {t!r}: the index of the template in `templates`.")
        a, b = (io, s) if order == "ABBA" else (s, io)
        if not _prefix_matches(item["prompt"], templates[t], a, b, s, places, objects):
            if item["prompt"].rstrip(". ").endswith(io):
                raise CheckFailure(
                    f"item {i}'s prompt {item['prompt']!r} contains the answer: cut the template just before {{IO}}."
                )
            if _prefix_matches(item["prompt"], templates[t], b, a, s, places, objects):
                raise CheckFailure(
                    f"item {i}'s prompt {item['prompt']!r} has its names in the wrong order for {order!r}: in ABBA the IO is {{A}}, in ABAB the subject is {{A}}."
                )
            raise CheckFailure(
                f"item {i}'s prompt {item['prompt']!r} is not template {t} filled with A={a!r}, B={b!r}, S={s!r} "
                "and a place and object from the arguments, cut before {IO}."
            )
    counts = Counter((item["template"], item["order"]) for item in out)
    expected = {(t, o): n // (2 * len(templates)) for t in range(len(templates)) for o in ORDERS}
    if dict(counts) != expected:
        raise CheckFailure(
            f"the set is unbalanced: (template, order) counts {dict(sorted(counts.items()))}, expected {n // (2 * len(templates))} each. "
            "Cycle through every (template, order) pair instead of drawing them at random."
        )
    again = _call(fn, "ioi_prompts", n, seed=1, **kw)
    if again != out:
        raise CheckFailure(
            "two calls with the same seed gave different prompts: draw from random.Random(seed), not the global generator."
        )
    try:
        fn(5, seed=1, **kw)
    except ValueError:
        pass
    except NotImplementedError:
        raise
    except Exception as err:
        raise CheckFailure(
            f"ioi_prompts(5, ...) raised {type(err).__name__}; raise ValueError with a message when n is not a multiple of 2 x len(templates)."
        ) from err
    else:
        raise CheckFailure(
            "ioi_prompts(5, ...) with 2 templates returned prompts, but 5 cannot be balanced: raise ValueError."
        )
    passed("ioi_prompts")


def logit_diff_reference(
    logits: Float[Tensor, "batch pos d_vocab"], io_tokens: Int[Tensor, " batch"], s_tokens: Int[Tensor, " batch"]
) -> Float[Tensor, " batch"]:
    """logit(IO) - logit(S) at the last position, one number per prompt."""
    final = logits[:, -1]
    rows = torch.arange(len(final))
    return final[rows, io_tokens] - final[rows, s_tokens]


def check_logit_diff(fn: Callable[[Tensor, Tensor, Tensor], Tensor]) -> None:
    """`fn(logits, io_tokens, s_tokens)` -> `[batch]` logit differences at the last position."""
    g = torch.Generator().manual_seed(6)
    logits = torch.randn(5, 4, 11, generator=g) * 3
    io, s = torch.tensor([1, 2, 3, 4, 5]), torch.tensor([6, 7, 8, 9, 0])
    out = _call(fn, "logit_diff", logits.clone(), io.clone(), s.clone())
    expected = logit_diff_reference(logits, io, s)
    rows = torch.arange(5)
    probs = logits[:, -1].softmax(-1)
    diag = [
        Diagnosis(
            lambda a: _close(a, -expected),
            "the sign is flipped: IO minus S, so that a positive number means the model prefers the right answer.",
        ),
        Diagnosis(
            lambda a: _close(a, probs[rows, io] - probs[rows, s]),
            "you compared probabilities; compare logits (or log-probabilities: the normaliser cancels).",
        ),
        Diagnosis(
            lambda a: _close(a, logits[:, 0][rows, io] - logits[:, 0][rows, s]),
            "you read position 0: the prediction of the next name is at the LAST position.",
        ),
        Diagnosis(
            lambda a: _close(a, logits[:, -1][:, io] - logits[:, -1][:, s]),
            "indexing logits[:, -1][:, io] makes a batch x batch matrix: pair row i with io_tokens[i] (index with torch.arange(batch), io_tokens).",
        ),
    ]
    if isinstance(out, Tensor) and out.ndim == 0:
        raise CheckFailure("logit_diff returned one number; return one per prompt (shape [batch]) and average later.")
    if isinstance(out, Tensor) and tuple(out.shape) == (5, 5):
        raise CheckFailure(
            "logit_diff has shape (batch, batch): logits[:, -1][:, io_tokens] pairs every row with every token. "
            "Pair row i with io_tokens[i]: index with (torch.arange(batch), io_tokens)."
        )
    check_close(
        out,
        expected,
        what="logit_diff",
        diagnoses=diag,
        hint="final = logits[:, -1]; final[rows, io] - final[rows, s].",
    )
    passed("logit_diff")


def patch_position_reference(
    activation: Float[Tensor, "batch pos d"], hook: Any, clean: Float[Tensor, "batch pos d"], pos: int
) -> Float[Tensor, "batch pos d"]:
    """Replace one position of the (corrupted) activation by the clean run's, in every prompt."""
    patched = activation.clone()
    patched[:, pos] = clean[:, pos]
    return patched


def check_patch_position(fn: Callable[..., Any]) -> None:
    """`fn(activation, hook, clean, pos)` returns the activation with position `pos` from `clean`."""
    g = torch.Generator().manual_seed(7)
    for pos in (0, 2, 4):
        act, clean = torch.randn(3, 5, 4, generator=g), torch.randn(3, 5, 4, generator=g)
        work = act.clone()
        out = _call(fn, "patch_position", work, None, clean.clone(), pos)
        if out is None:
            out = work  # changing the activation in place (and returning None) also works in a hook
        expected = patch_position_reference(act, None, clean, pos)
        diag = [
            Diagnosis(
                lambda a, c=clean: _close(a, c), "you returned the whole clean activation: patch only position `pos`."
            ),
            Diagnosis(
                lambda a, c=clean, x=act, p=pos: p + 1 < 5 and _close(a, patch_position_reference(x, None, c, p + 1)),
                "off by one: patch position `pos` itself.",
            ),
            Diagnosis(
                lambda a, c=clean, x=act, p=pos: p < 3 and _close(a, torch.cat([x[:p], c[p : p + 1], x[p + 1 :]])),
                "you patched along the batch axis: activation[:, pos] is position pos of every prompt.",
            ),
        ]
        if isinstance(out, Tensor) and torch.equal(out, act) and not torch.equal(act[:, pos], clean[:, pos]):
            raise CheckFailure(
                f"patch_position(..., pos={pos}) changed nothing: write clean[:, pos] into the activation and return it."
            )
        check_close(
            out,
            expected,
            what=f"patch_position(pos={pos})",
            diagnoses=diag,
            hint="activation[:, pos] = clean[:, pos]; return activation.",
        )
        if pos == 2:
            first = out[0].clone() if isinstance(out, Tensor) else None
            if first is not None and not torch.equal(out[1:], expected[1:]):
                raise CheckFailure("only the first prompt was patched: use activation[:, pos], not activation[0, pos].")
    passed("patch_position")


# ============================================================================ week 4


def ablate_position_signal_reference(
    mlp_in: Float[Tensor, "batch pos d_model"], hook: Any, W_pos: Float[Tensor, "n_ctx d_model"]
) -> Float[Tensor, "batch pos d_model"]:
    """Remove the position-specific part of the positional embedding from an MLP's input.

    Subtracting W_pos[p] minus its mean over the positions in use keeps the average positional
    vector (so the input stays on-distribution on average) and removes only what tells the
    positions apart: a mean-ablation of the direct path from W_pos to this MLP.
    """
    used = W_pos[: mlp_in.shape[1]]
    return mlp_in - (used - used.mean(dim=0))


def check_ablate_position_signal(fn: Callable[..., Any]) -> None:
    """`fn(mlp_in, hook, W_pos)` returns mlp_in minus the centred positional embeddings of its positions."""
    g = torch.Generator().manual_seed(8)
    W_pos = torch.randn(12, 6, generator=g)
    for pos in (5, 8):
        mlp_in = torch.randn(2, pos, 6, generator=g)
        out = _call(fn, "ablate_position_signal", mlp_in.clone(), None, W_pos.clone())
        expected = ablate_position_signal_reference(mlp_in, None, W_pos)
        used = W_pos[:pos]
        diag = [
            Diagnosis(
                lambda a, x=mlp_in, u=used: _close(a, x - u),
                "you removed all of W_pos (zero-ablation); subtract only its deviation from the mean over positions.",
            ),
            Diagnosis(
                lambda a, x=mlp_in, u=W_pos, p=pos: _close(a, x - (u - u.mean(0))[:p]),
                "you centred over all n_ctx positions; centre over the positions in use (W_pos[:pos]).",
            ),
            Diagnosis(
                lambda a, x=mlp_in, u=used: _close(a, x - (u - u.mean(-1, keepdim=True))),
                "you took the mean over d_model; take it over positions (dim 0).",
            ),
            Diagnosis(
                lambda a, x=mlp_in, u=used: _close(a, x + (u - u.mean(0))),
                "add and subtract swapped: remove the positional part, don't add it again.",
            ),
            Diagnosis(
                lambda a, x=mlp_in, u=W_pos, p=pos: _close(a, x - (u[-p:] - u[-p:].mean(0))),
                "positions 0 .. pos-1 use W_pos[:pos], not the last rows.",
            ),
        ]
        if isinstance(out, Tensor) and tuple(out.shape) != tuple(expected.shape):
            raise CheckFailure(
                f"ablate_position_signal returned shape {tuple(out.shape)}, expected {tuple(expected.shape)}: "
                "slice W_pos to the sequence length, W_pos[:mlp_in.shape[1]]."
            )
        check_close(
            out,
            expected,
            what=f"ablate_position_signal (pos={pos})",
            diagnoses=diag,
            hint="used = W_pos[:pos]; return mlp_in - (used - used.mean(0)).",
        )
    passed("ablate_position_signal")


__all__ = [
    name for name in dir() if name.startswith(("check_", "MNIST_")) or name.endswith(("_reference", "Reference"))
]
