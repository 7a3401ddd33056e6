"""Checkers for chapter 5's bracket-classifier pages (the task, moving backwards, elevation).

Each checker runs the learner's function on strings or tensors where the usual mistakes give a
different answer, recognises those mistakes and names them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from micourse.checks._interp_common import call, one_thread
from micourse.checks.core import CheckFailure, passed
from micourse.toys.brackets import analysis, data

# strings on which the common mistakes differ from the truth
PROBE_STRINGS = ["", "()", "(()", ")(", "())", "())(", "(())()", "((", "))((", "()())(()", "(()))(", "((()))", ")"]


def _probe_set(seed: int = 0, n: int = 200) -> list[str]:
    return PROBE_STRINGS + data.generate(n, seed).strings


@one_thread
def check_elevation_profile(fn: Callable) -> None:
    """`fn(s)` -> list of elevations after each bracket."""
    for s in _probe_set():
        out = call(fn, "elevation_profile", s)
        expected = data.elevations(s)
        if isinstance(out, torch.Tensor):
            out = out.tolist()
        if not isinstance(out, (list, tuple)):
            raise CheckFailure(f"elevation_profile({s!r}) returned {type(out).__name__}; return a list of ints.")
        out = [int(x) for x in out]
        if out == expected:
            continue
        if len(out) == len(s) + 1 and out[1:] == expected:
            raise CheckFailure(
                f"elevation_profile({s!r}) = {out} starts with the elevation before the first bracket (0); "
                "return one entry per bracket."
            )
        if out == [-x for x in expected]:
            raise CheckFailure(f"elevation_profile({s!r}) = {out} has the signs swapped: '(' goes up (+1).")
        if out == [1 if c == "(" else -1 for c in s]:
            raise CheckFailure(
                f"elevation_profile({s!r}) = {out} lists the steps, not their running total: keep a counter."
            )
        raise CheckFailure(f"elevation_profile({s!r}) = {out}, expected {expected}.")
    passed("elevation_profile")


def _check_bool_classifier(fn: Callable, name: str) -> None:
    for s in _probe_set(1):
        out = call(fn, name, s)
        if not isinstance(out, (bool, np.bool_)) and not (isinstance(out, torch.Tensor) and out.numel() == 1):
            raise CheckFailure(f"{name}({s!r}) returned {type(out).__name__}; return True or False.")
        out, expected, kind = bool(out), data.is_balanced(s), data.kind_of(s)
        if out == expected:
            continue
        if kind == "negative":
            raise CheckFailure(
                f"{name}({s!r}) is {out}, but {s!r} ends at elevation 0 and dips below zero on the way "
                f"(elevations {data.elevations(s)}): check the running elevation, not only the total."
            )
        if kind == "total":
            raise CheckFailure(
                f"{name}({s!r}) is {out}, but {s!r} ends at elevation {data.elevations(s)[-1]}: the total must be exactly 0."
            )
        if kind == "both" and data.elevations(s)[-1] < 0:
            raise CheckFailure(f"{name}({s!r}) is {out}: {s!r} goes below zero (elevations {data.elevations(s)}).")
        raise CheckFailure(f"{name}({s!r}) is {out}, expected {expected} (it is {kind!r}).")


@one_thread
def check_is_balanced(fn: Callable) -> None:
    """`fn(s)` -> bool."""
    _check_bool_classifier(fn, "is_balanced")
    passed("is_balanced")


@one_thread
def check_failure_kind(fn: Callable) -> None:
    """`fn(s)` -> one of data.KINDS."""
    for s in _probe_set(2):
        out = call(fn, "failure_kind", s)
        expected = data.kind_of(s)
        if out == expected:
            continue
        if out not in data.KINDS:
            raise CheckFailure(f"failure_kind({s!r}) returned {out!r}; return one of {data.KINDS}.")
        elev = data.elevations(s)
        if expected == "both":
            raise CheckFailure(
                f"failure_kind({s!r}) is {out!r}, but {s!r} breaks both conditions (ends at {elev[-1]}, lowest "
                f"{min(elev)}): do not stop at the first failure you find."
            )
        if {out, expected} == {"total", "negative"}:
            raise CheckFailure(
                f"failure_kind({s!r}) is {out!r}, expected {expected!r}: 'total' means the final elevation is "
                "not 0, 'negative' means it dips below 0 (with a final elevation of 0). Are the two swapped?"
            )
        raise CheckFailure(f"failure_kind({s!r}) is {out!r}, expected {expected!r} (elevations {elev}).")
    passed("failure_kind")


@one_thread
def check_is_balanced_tokens(fn: Callable) -> None:
    """`fn(toks)` -> (batch,) bool."""
    strings = _probe_set(3, 300)
    toks = data.tokenize(strings)
    out = call(fn, "is_balanced_tokens", toks.clone())
    if not isinstance(out, torch.Tensor):
        raise CheckFailure(f"is_balanced_tokens returned {type(out).__name__}; return a boolean tensor.")
    if out.shape != (len(strings),):
        raise CheckFailure(
            f"is_balanced_tokens returned shape {tuple(out.shape)}, expected ({len(strings)},): one per row."
        )
    expected = torch.tensor([data.is_balanced(s) for s in strings])
    wrong = (out.bool() != expected).nonzero().flatten().tolist()
    if not wrong:
        passed("is_balanced_tokens")
        return
    s = strings[wrong[0]]
    kinds = {data.kind_of(strings[i]) for i in wrong}
    if (
        kinds == {"negative"}
        or kinds <= {"negative", "both"}
        and all(data.kind_of(strings[i]) == "negative" for i in wrong[:1])
    ):
        raise CheckFailure(
            f"row {wrong[0]} ({s!r}) dips below zero but you call it balanced: also require the lowest elevation (min over positions) to be >= 0."
        )
    if all(not expected[i] for i in wrong) and "total" in kinds:
        raise CheckFailure(
            f"row {wrong[0]} ({s!r}) ends at elevation {data.elevations(s)[-1]}: require the last elevation to be 0."
        )
    if all(expected[i] for i in wrong):
        raise CheckFailure(
            f"row {wrong[0]} ({s!r}) is balanced but you reject it. Do [start], [end] or [pad] tokens count as brackets? "
            "Only data.OPEN and data.CLOSE tokens change the elevation."
        )
    raise CheckFailure(f"is_balanced_tokens is wrong on row {wrong[0]} ({s!r}, {data.kind_of(s)}).")


@one_thread
def check_model_says_balanced(fn: Callable, model) -> None:
    """`fn(model, toks)` -> (batch,) bool, read at position 0."""
    d = data.generate(200, seed=5)
    out = call(fn, "model_says_balanced", model, d.toks.clone())
    if not isinstance(out, torch.Tensor):
        raise CheckFailure(f"model_says_balanced returned {type(out).__name__}; return a boolean tensor.")
    if out.shape != (len(d),):
        raise CheckFailure(
            f"model_says_balanced returned shape {tuple(out.shape)}, expected ({len(d)},): one verdict per string, "
            "read at position 0 only."
        )
    logits = model(d.toks)
    expected = logits[:, 0, 1] > logits[:, 0, 0]
    out = out.bool()
    if torch.equal(out, expected):
        passed("model_says_balanced")
        return
    if torch.equal(out, ~expected):
        raise CheckFailure("Your verdicts are exactly reversed: BALANCED is index 1 and UNBALANCED index 0.")
    if torch.equal(out, logits[:, -1, 1] > logits[:, -1, 0]):
        raise CheckFailure("You read the last position (usually a [pad]); the answer is read at position 0, [start].")
    end = (d.toks == data.END).long().argmax(-1)
    at_end = logits[torch.arange(len(d)), end]
    if torch.equal(out, at_end[:, 1] > at_end[:, 0]):
        raise CheckFailure("You read the [end] position; the classifier's answer is at position 0, [start].")
    raise CheckFailure(
        f"model_says_balanced disagrees with the model's position-0 logits on {(out != expected).sum()} strings."
    )


@one_thread
def check_accuracy_per_kind(fn: Callable) -> None:
    """`fn(pred, truth, kinds)` -> {kind: accuracy}."""
    g = torch.Generator().manual_seed(0)
    d = data.generate(400, seed=6)
    pred = d.balanced.clone()
    flip = torch.rand(len(d), generator=g) < torch.tensor(
        [{"balanced": 0.1, "total": 0.3, "negative": 0.5, "both": 0.2}[k] for k in d.kinds]
    )
    pred[flip] = ~pred[flip]
    out = call(fn, "accuracy_per_kind", pred.clone(), d.balanced.clone(), list(d.kinds))
    expected = analysis.accuracy_by_kind(pred, d)
    if not isinstance(out, dict):
        raise CheckFailure(f"accuracy_per_kind returned {type(out).__name__}; return a dict {{kind: accuracy}}.")
    if set(out) != set(expected):
        raise CheckFailure(f"accuracy_per_kind has keys {sorted(out)}, expected the kinds present: {sorted(expected)}.")
    for k, v in expected.items():
        got = float(out[k])
        if abs(got - v) < 1e-6:
            continue
        mask = torch.tensor([x == k for x in d.kinds])
        if abs(got - float(pred[mask].float().mean())) < 1e-6:
            raise CheckFailure(
                f"for {k!r} you returned the share predicted balanced ({got:.3f}); accuracy is the share where pred == truth."
            )
        if abs(got - float((pred == d.balanced).float().mean())) < 1e-6:
            raise CheckFailure(
                f"for {k!r} you returned the overall accuracy ({got:.3f}); average over that kind's rows only."
            )
        if abs(got - float((pred == d.balanced)[mask].sum())) < 1e-6:
            raise CheckFailure(f"for {k!r} you returned a count ({got:.0f}); divide by the number of {k!r} strings.")
        raise CheckFailure(f"accuracy_per_kind[{k!r}] = {got:.4f}, expected {v:.4f}.")
    passed("accuracy_per_kind")


# ---- page 2: moving backwards ------------------------------------------------------------------


def _tensor_out(out, what: str, shape: tuple) -> torch.Tensor:
    if out is None:
        raise CheckFailure(f"{what} returned None: did you forget to `return` the result?")
    if not isinstance(out, torch.Tensor):
        raise CheckFailure(f"{what} returned {type(out).__name__}; return a tensor.")
    if tuple(out.shape) != tuple(shape):
        raise CheckFailure(f"{what} returned shape {tuple(out.shape)}, expected {tuple(shape)}.")
    return out


def _close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-4) -> bool:
    return tuple(a.shape) == tuple(b.shape) and bool(torch.allclose(a.double(), b.double(), atol=tol, rtol=tol))


@one_thread
def check_post_ln_unbalanced_dir(fn: Callable, model) -> None:
    """`fn(model)` -> (d_model,)."""
    out = call(fn, "post_ln_unbalanced_dir", model)
    W_U = model.W_U
    if isinstance(out, torch.Tensor) and tuple(out.shape) == tuple(W_U.shape):
        raise CheckFailure("You returned all of W_U; subtract its balanced column from its unbalanced column.")
    out = _tensor_out(out, "post_ln_unbalanced_dir", (model.cfg.d_model,))
    expected = W_U[:, 0] - W_U[:, 1]
    if _close(out, expected):
        passed("post_ln_unbalanced_dir")
        return
    if _close(out, -expected):
        raise CheckFailure(
            "The sign is reversed: this is the *balanced* direction. Take W_U[:, UNBALANCED] - W_U[:, BALANCED]."
        )
    if _close(out, W_U[:, 0]) or _close(out, W_U[:, 1]):
        raise CheckFailure("You returned a single column of W_U; the logit *difference* needs both columns.")
    raise CheckFailure("post_ln_unbalanced_dir differs from W_U[:, UNBALANCED] - W_U[:, BALANCED].")


def _ln_data(seed: int = 0, n: int = 300, d: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g) * 0.3 + torch.randn(d, generator=g) * 2
    y = torch.nn.functional.layer_norm(x, (d,)) * (1 + torch.rand(d, generator=g)) + torch.randn(d, generator=g)
    return x, y


@one_thread
def check_fit_layernorm(fn: Callable) -> None:
    """`fn(resid, normalized)` -> (L, b) with normalized ≈ resid @ L + b."""
    x, y = _ln_data()
    out = call(fn, "fit_layernorm", x.clone(), y.clone())
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise CheckFailure("fit_layernorm should return two tensors, (L, b).")
    L, b = out
    d = x.shape[1]
    L = _tensor_out(L, "fit_layernorm's L", (d, d))
    b = _tensor_out(b, "fit_layernorm's b", (d,))
    ones = torch.ones(x.shape[0], 1)
    ref = torch.linalg.lstsq(torch.cat([x, ones], 1), y).solution
    if _close(L, ref[:-1], 1e-3) and _close(b, ref[-1], 1e-3):
        passed("fit_layernorm")
        return
    no_bias = torch.linalg.lstsq(x, y).solution
    if _close(L, no_bias, 1e-3):
        raise CheckFailure("Your L is the fit without a bias; append a column of ones to resid so the fit can shift.")
    if _close(L, ref[:-1].T, 1e-3):
        raise CheckFailure("Your L is transposed: with rows as samples, the fit is normalized ≈ resid @ L + b.")
    back = torch.linalg.lstsq(torch.cat([y, ones], 1), x).solution
    if _close(L, back[:-1], 1e-3):
        raise CheckFailure(
            "You fitted resid from normalized (the wrong way round): solve for L in resid @ L + b ≈ normalized."
        )
    err = float(((x @ L + b - y) ** 2).mean())
    best = float(((x @ ref[:-1] + ref[-1] - y) ** 2).mean())
    raise CheckFailure(f"Your fit's mean squared error is {err:.4g}; least squares reaches {best:.4g}.")


@one_thread
def check_pre_ln_dir(fn: Callable) -> None:
    """`fn(L, post_dir)` -> L @ post_dir."""
    g = torch.Generator().manual_seed(1)
    L, p = torch.randn(8, 8, generator=g), torch.randn(8, generator=g)
    out = _tensor_out(call(fn, "pre_ln_dir", L.clone(), p.clone()), "pre_ln_dir", (8,))
    if _close(out, L @ p):
        passed("pre_ln_dir")
        return
    if _close(out, L.T @ p):
        raise CheckFailure("You computed L.T @ post_dir; since (x @ L) @ p = x @ (L @ p), it is L @ post_dir.")
    if _close(out, torch.linalg.pinv(L) @ p) or _close(out, torch.linalg.pinv(L).T @ p):
        raise CheckFailure("No inverse is needed: the direction is carried back by L itself, L @ post_dir.")
    if _close(out, p):
        raise CheckFailure(
            "You returned post_dir unchanged; carry it through the LayerNorm's linear map: L @ post_dir."
        )
    raise CheckFailure("pre_ln_dir differs from L @ post_dir.")


@one_thread
def check_head_contributions(fn: Callable) -> None:
    """`fn(z, W_O, direction)` -> (head, batch)."""
    g = torch.Generator().manual_seed(2)
    z, W_O, v = torch.randn(5, 3, 4, generator=g), torch.randn(3, 4, 6, generator=g), torch.randn(6, generator=g)
    out = call(fn, "head_contributions", z.clone(), W_O.clone(), v.clone())
    expected = torch.einsum("bhd,hdm->hbm", z, W_O) @ v
    if isinstance(out, torch.Tensor) and _close(out, expected.T):
        raise CheckFailure("Your result is (batch, head); return (head, batch): one row per head.")
    if isinstance(out, torch.Tensor) and _close(out, expected.sum(0)):
        raise CheckFailure(
            "You summed over heads (that is the layer's attn_out); keep each head's contribution separate."
        )
    out = _tensor_out(out, "head_contributions", (3, 5))
    if _close(out, expected):
        passed("head_contributions")
        return
    if _close(out, z.sum(-1).T):
        raise CheckFailure("Multiply z by W_O (each head's own slice) before projecting on the direction.")
    raise CheckFailure("head_contributions differs from (z[:, h] @ W_O[h]) @ direction for each head h.")


@one_thread
def check_start_ablation(fn: Callable, model) -> None:
    """`fn(head, reference)` -> a hook on hook_z replacing head's z at position 0."""
    g = torch.Generator().manual_seed(3)
    z = torch.randn(4, 6, model.cfg.n_heads, model.cfg.d_head, generator=g)
    ref = torch.randn(model.cfg.d_head, generator=g)
    hook = call(fn, "start_ablation", 1, ref)
    if not callable(hook):
        raise CheckFailure("start_ablation should return the hook function (def hook(z, hook): ...; return hook).")
    original = z.clone()
    out = call(hook, "your hook", z, None)
    if out is None:
        if not torch.equal(z, original):
            raise CheckFailure("Your hook changes z in place and returns None; clone it, change the clone, return it.")
        raise CheckFailure("Your hook returned None; return the new activation.")
    expected = original.clone()
    expected[:, 0, 1] = ref
    if not torch.equal(z, original):
        raise CheckFailure("Your hook modified its input in place; work on z.clone().")
    if torch.equal(out, expected):
        passed("start_ablation")
        return
    wrong_all = original.clone()
    wrong_all[:, :, 1] = ref
    if torch.equal(out, wrong_all):
        raise CheckFailure("You replaced the head at every position; only position 0 ([start]) is to be ablated.")
    wrong_heads = original.clone()
    wrong_heads[:, 0] = ref
    if torch.equal(out, wrong_heads):
        raise CheckFailure("You replaced every head at position 0; only the one head `head` is to be ablated.")
    wrong_axis = original.clone()
    wrong_axis[:, 1, 0] = ref
    if torch.equal(out, wrong_axis):
        raise CheckFailure(
            "Position and head are swapped: hook_z is (batch, pos, head, d_head), so index [:, 0, head]."
        )
    raise CheckFailure("Your hook's output differs from z with z[:, 0, head] set to reference.")


@one_thread
def check_name_components(fn: Callable, table: dict) -> None:
    """`fn(table)` -> (total component, negative component), as the table's names."""
    out = call(fn, "name_components", table)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise CheckFailure("name_components should return two names, (total, negative).")
    total, negative = (str(x) for x in out)
    exp_total, exp_negative = analysis.component_for(table, "total"), analysis.component_for(table, "negative")
    for got in (total, negative):
        if got not in table:
            raise CheckFailure(f"{got!r} is not a component in the table; names look like {list(table)[:3]}.")
    if (total, negative) == (exp_total, exp_negative):
        passed("name_components")
        return
    if (total, negative) == (exp_negative, exp_total):
        raise CheckFailure(
            "The two are swapped: the 'total' component is the one whose ablation ruins the total strings."
        )
    for got, kind, exp in ((total, "total", exp_total), (negative, "negative", exp_negative)):
        if got != exp:
            acc = table[got]
            other = "negative" if kind == "total" else "total"
            if acc["balanced"] < 0.9:
                raise CheckFailure(
                    f"Ablating {got} ruins balanced strings too ({acc['balanced']:.2f}): it is not specific to {kind!r} failures."
                )
            if acc[other] < 0.9:
                raise CheckFailure(
                    f"Ablating {got} also loses {other!r} strings ({acc[other]:.2f}); look for a component that hits {kind!r} only."
                )
            raise CheckFailure(
                f"Ablating {got} leaves {kind!r} accuracy at {acc[kind]:.2f}; another component's ablation removes far more of it."
            )


# ---- page 3: the total-elevation circuit -------------------------------------------------------


def _pattern_and_toks(seed: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    toks = data.tokenize(["(()", "()()()", ")(", "((()))(("])[:, :12]
    pad = toks == data.PAD
    scores = torch.randn(4, 3, 12, 12, generator=g) * 2
    scores = scores.masked_fill(pad[:, None, None, :], -1e9)
    return scores.softmax(-1), toks


@one_thread
def check_uniformity(fn: Callable) -> None:
    """`fn(pattern, toks)` -> (head,)."""
    pattern, toks = _pattern_and_toks()
    out = _tensor_out(call(fn, "uniformity", pattern.clone(), toks.clone()), "uniformity", (3,))
    expected = analysis.uniformity_score(pattern, toks)
    if _close(out, expected):
        passed("uniformity")
        return
    real = toks != data.PAD
    uniform = real.float() / real.sum(-1, keepdim=True)
    tv = 0.5 * (pattern - uniform[:, None, None, :]).abs().sum(-1)
    if _close(out, 1 - tv.mean((0, 2))):
        raise CheckFailure("You averaged over every query, pads included; average over non-[pad] queries only.")
    if _close(out, tv.mul(real[:, None, :]).sum((0, 2)) / real[:, None, :].float().sum((0, 2))):
        raise CheckFailure("You returned the distance itself; the score is 1 minus the mean distance.")
    u42 = torch.full_like(pattern, 1 / pattern.shape[-1])
    tv42 = 0.5 * (pattern - u42).abs().sum(-1)
    q = real[:, None, :].float()
    if _close(out, 1 - (tv42 * q).sum((0, 2)) / q.sum((0, 2))):
        raise CheckFailure(
            "Your uniform distribution spreads over every position, pads included; give each non-[pad] key 1 / n_real."
        )
    tv_nohalf = (pattern - uniform[:, None, None, :]).abs().sum(-1)
    if _close(out, 1 - (tv_nohalf * q).sum((0, 2)) / q.sum((0, 2))):
        raise CheckFailure("The total-variation distance has a factor 0.5: 0.5 * sum |p - u|.")
    raise CheckFailure(f"uniformity gave {out.tolist()}, expected {expected.tolist()}.")


@one_thread
def check_open_proportion(fn: Callable) -> None:
    """`fn(toks)` -> (batch,) share of "(" among brackets."""
    strings = ["(()", "()()()", ")(", "((()))((", "((((", "()"]
    toks = data.tokenize(strings)
    out = _tensor_out(call(fn, "open_proportion", toks.clone()), "open_proportion", (len(strings),))
    expected = torch.tensor([s.count("(") / len(s) for s in strings])
    if _close(out.float(), expected):
        passed("open_proportion")
        return
    opens = torch.tensor([float(s.count("(")) for s in strings])
    if _close(out.float(), opens / toks.shape[1]):
        raise CheckFailure("You divided by the padded width (42); divide by the number of brackets in each string.")
    if _close(out.float(), opens / torch.tensor([len(s) + 2.0 for s in strings])):
        raise CheckFailure("You divided by the non-pad tokens, which include [start] and [end]; count brackets only.")
    if _close(out.float(), opens):
        raise CheckFailure("You returned the count of '('; divide it by the number of brackets.")
    if _close(out.float(), 1 - expected):
        raise CheckFailure("That is the share of ')'; the exercise asks for '('.")
    raise CheckFailure(f"open_proportion gave {out.tolist()}, expected {expected.tolist()}.")


@one_thread
def check_top_neurons(fn: Callable) -> None:
    """`fn(acts, total_bad, k)` -> list of k ints."""
    g = torch.Generator().manual_seed(5)
    acts = torch.rand(200, 16, generator=g)
    flag = torch.rand(200, generator=g) < 0.3
    acts[flag, 3] += 2.0  # fires on the flag
    acts[flag, 7] -= 0.9  # falls silent on the flag
    acts[:, 11] += 5.0  # large but indifferent
    acts[flag, 5] += 0.5
    out = call(fn, "top_neurons", acts.clone(), flag.clone(), 3)
    if isinstance(out, torch.Tensor):
        out = out.tolist()
    if not isinstance(out, (list, tuple)) or len(out) != 3:
        raise CheckFailure("top_neurons should return a list of k neuron indices.")
    out = [int(x) for x in out]
    expected = analysis.neurons_by_difference(acts, flag, 3)
    if out == expected:
        passed("top_neurons")
        return
    if set(out) == set(expected):
        raise CheckFailure(f"Right neurons, wrong order: {out}; put the largest gap first.")
    if 11 in out:
        raise CheckFailure(
            "Neuron 11 is large on every string; rank by the *difference* of means between the two groups."
        )
    if 7 not in out:
        raise CheckFailure(
            "You missed a neuron that falls silent on the flagged strings: rank by the absolute difference."
        )
    raise CheckFailure(f"top_neurons gave {out}, expected {expected}.")


@one_thread
def check_near_total(fn: Callable) -> None:
    """`fn(n, h, rng)` -> a never-negative string of length n ending at h, varied."""
    rng = np.random.default_rng(0)
    for n, h in [(5, 1), (12, 2), (39, 1), (40, 4), (2, 2)]:
        outs = [call(fn, "near_total", n, h, rng) for _ in range(8)]
        for s in outs:
            if not isinstance(s, str):
                raise CheckFailure(f"near_total returned {type(s).__name__}; return a string of brackets.")
            if len(s) != n:
                raise CheckFailure(f"near_total({n}, {h}) has length {len(s)}; it must be {n}.")
            elev = data.elevations(s)
            if min(elev) < 0:
                raise CheckFailure(f"near_total({n}, {h}) = {s!r} dips below zero: add '(' only, never ')'.")
            if elev[-1] != h:
                raise CheckFailure(f"near_total({n}, {h}) = {s!r} ends at elevation {elev[-1]}, not {h}.")
        if n > 6 and len(set(outs)) == 1:
            raise CheckFailure(f"near_total({n}, {h}) gave the same string 8 times; use rng so the strings vary.")
        if n > 10 and all(s.startswith("(" * h) and data.is_balanced(s[h:]) for s in outs):
            raise CheckFailure("Every string puts the h extra '(' at the front; place them at random positions.")
    passed("near_total")


@one_thread
def check_dip_after(fn: Callable) -> None:
    """`fn(n, k)` -> even length n, total 0, dips once to -1 right after bracket k."""
    for n, k in [(2, 1), (6, 3), (10, 1), (10, 9), (40, 21)]:
        s = call(fn, "dip_after", n, k)
        if not isinstance(s, str):
            raise CheckFailure(f"dip_after returned {type(s).__name__}; return a string of brackets.")
        if len(s) != n:
            raise CheckFailure(f"dip_after({n}, {k}) has length {len(s)}; it must be {n}.")
        elev = data.elevations(s)
        if elev[-1] != 0:
            raise CheckFailure(f"dip_after({n}, {k}) = {s!r} ends at {elev[-1]}; the total must be 0.")
        below = [i + 1 for i, e in enumerate(elev) if e < 0]
        if below != [k]:
            if len(below) == 1 and below[0] > k:
                raise CheckFailure(
                    f"dip_after({n}, {k}) = {s!r} dips after bracket {below[0]}: too late (brackets count from 1)."
                )
            if len(below) == 1 and below[0] < k:
                raise CheckFailure(
                    f"dip_after({n}, {k}) = {s!r} dips after bracket {below[0]}: too early (brackets count from 1)."
                )
            raise CheckFailure(
                f"dip_after({n}, {k}) = {s!r} is below zero after brackets {below}; it must be exactly [{k}]."
            )
        if min(elev) != -1:
            raise CheckFailure(f"dip_after({n}, {k}) = {s!r} dips to {min(elev)}; one step, to -1.")
    passed("dip_after")
