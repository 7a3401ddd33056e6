"""Checkers for the sampling page (chapter 1, "Sampling").

Deterministic steps (greedy, temperature, frequency penalty, beam search) are compared with
`micourse.sampling` exactly. Random samplers cannot be compared draw by draw, so they are
tested statistically: the checker asks for many draws in one batched call and

1. rejects at once any token the method must never return (outside the top k, outside the
   nucleus): a correct sampler never does that, whatever the seed;
2. compares each token's frequency with its intended probability, allowing Z_BOUND standard
   deviations of a binomial count. With Z_BOUND = 6 a correct sampler fails with probability
   below 1e-7 per check, while the usual mistakes shift some frequency by tens of deviations.

When the observed frequencies fit a known wrong method instead (k - 1 tokens, one token too
few in the nucleus, positions in sorted order, ...), the message names that mistake.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from micourse import sampling as ref
from micourse.checks.core import CheckFailure, assert_close, call, like, passed

Z_BOUND = 6.0
DRAWS_PER_CASE = 20_000


# --- statistical machinery ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Case:
    logits: Tensor  # (d_vocab,)
    probs: Tensor  # (d_vocab,) the intended distribution
    label: str  # e.g. "k = 3"
    wrong: tuple[tuple[Tensor, str], ...] = ()  # (distribution of a known mistake, its hint)


def _within_bounds(counts: Tensor, probs: Tensor, n: int) -> tuple[bool, int | None]:
    """Whether `counts` is a plausible draw from `probs`; if not, the worst token."""
    if bool(((probs == 0) & (counts > 0)).any()):
        return False, int(torch.nonzero((probs == 0) & (counts > 0))[0])
    expected = n * probs
    sd = torch.sqrt(n * probs * (1 - probs))
    excess = (counts - expected).abs() - (Z_BOUND * sd + 1.0)
    if bool((excess > 0).any()):
        return False, int(excess.argmax())
    return True, None


def _draws(fn: Callable[[Tensor], Any], logits: Tensor, what: str) -> Tensor:
    out = call(fn, logits, what=what)
    batch, d_vocab = logits.shape
    if out is None:
        raise CheckFailure(f"{what} returned None: did you forget to `return` the tokens?")
    if not isinstance(out, Tensor):
        raise CheckFailure(f"{what} should return a tensor of token ids, got {type(out).__name__}.")
    if tuple(out.shape) != (batch,):
        extra = ""
        if tuple(out.shape) == (batch, 1):
            extra = " torch.multinomial(probs, 1) keeps a trailing axis of size 1: squeeze it (`.squeeze(-1)`)."
        elif out.ndim == 0:
            extra = " It must handle a batch: logits of shape (batch, d_vocab) give one token per row."
        raise CheckFailure(
            f"{what} returned shape {tuple(out.shape)} for logits of shape {(batch, d_vocab)}; expected {(batch,)}.{extra}"
        )
    if out.is_floating_point() or out.dtype == torch.bool:
        raise CheckFailure(
            f"{what} returned {out.dtype} values: it should return token ids (integers), e.g. from argmax or torch.multinomial."
        )
    if bool((out < 0).any()) or bool((out >= d_vocab).any()):
        raise CheckFailure(
            f"{what} returned token ids outside [0, {d_vocab}): got {int(out.min())} to {int(out.max())}."
        )
    return out.long()


def _fmt_probs(p: Tensor) -> str:
    return "[" + ", ".join(f"{x:.3f}" for x in p.tolist()) + "]"


def check_sampler(
    fn: Callable[[Tensor], Any], cases: Sequence[_Case], *, what: str, n: int = DRAWS_PER_CASE, hint: str | None = None
) -> None:
    """Draw `n` tokens per case in one batched call and test them as described in the module doc."""
    logits = torch.cat([c.logits.expand(n, -1) for c in cases]).clone()
    with torch.random.fork_rng():
        torch.manual_seed(1234)
        out = _draws(fn, logits, what)
    for i, case in enumerate(cases):
        tokens = out[i * n : (i + 1) * n]
        counts = torch.bincount(tokens, minlength=case.logits.shape[-1]).double()
        ok, tok = _within_bounds(counts, case.probs.double(), n)
        if ok:
            continue
        freq = counts / n
        rank = int((case.probs > case.probs[tok]).sum())
        if case.probs[tok] == 0:
            msg = (
                f"{what} ({case.label}) returned token {tok}, which must never be drawn here: its intended "
                f"probability is 0 (it is the token ranked {rank + 1} by logit)."
            )
        else:
            msg = (
                f"{what} ({case.label}): over {n} draws token {tok} came up {freq[tok]:.2%} of the time; "
                f"expected {float(case.probs[tok]):.2%} (a correct sampler stays within "
                f"{Z_BOUND:.0f} standard deviations, about {Z_BOUND * math.sqrt(float(case.probs[tok]) * (1 - float(case.probs[tok])) / n):.2%})."
            )
        msg += f"\nLogits: {_fmt_probs(case.logits)}\nIntended probabilities: {_fmt_probs(case.probs)}\nYour frequencies:       {_fmt_probs(freq)}"
        for wrong_probs, wrong_hint in case.wrong:
            if _within_bounds(counts, wrong_probs.double(), n)[0]:
                msg += f"\nLikely mistake: {wrong_hint}"
                break
        else:
            if hint:
                msg += f"\nHint: {hint}"
        raise CheckFailure(msg)


def _softmax(x: Tensor) -> Tensor:
    return x.double().softmax(-1)


def _sorted_positions(probs: Tensor, logits: Tensor) -> Tensor:
    """The distribution of a sampler that returns positions in sorted order, not token ids."""
    return probs[logits.argsort(descending=True)]


def _test_logits(seed: int, d_vocab: int = 10, scale: float = 1.5) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(d_vocab, generator=g, dtype=torch.float64) * scale).float()


# Hand-made logits whose sorted probabilities are about [.35, .25, .15, .10, .06, .04, .03, .02],
# shuffled, so that every nucleus boundary below is far from a cumulative sum.
_NUCLEUS_PROBS = torch.tensor([0.06, 0.25, 0.02, 0.35, 0.04, 0.10, 0.15, 0.03])
_NUCLEUS_LOGITS = (_NUCLEUS_PROBS.log() + 1.7).float()


# --- greedy and plain sampling -----------------------------------------------------------------


def check_greedy(fn: Callable[[Tensor], Any]) -> None:
    """`fn(logits)` with logits `(..., d_vocab)` returns the argmax token id of each row."""
    what = "greedy"
    for shape in [(12,), (5, 12), (2, 3, 50)]:
        logits = torch.randn(*shape, generator=torch.Generator().manual_seed(len(shape)))
        out = call(fn, logits.clone(), what=f"{what} on logits of shape {shape}")
        if isinstance(out, Tensor) and out.is_floating_point():
            if torch.allclose(out.float(), logits.max(-1).values):
                raise CheckFailure(
                    f"{what} returned the largest logit itself; return its index (argmax), the token id."
                )
            raise CheckFailure(f"{what} returned floats ({out.dtype}); it should return token ids (integers).")
        diag = [
            like(logits.argmin(-1), "you took the least likely token (argmin); take argmax."),
        ]
        assert_close(
            out,
            logits.argmax(-1),
            what=f"{what}'s output for logits of shape {shape}",
            diagnoses=diag,
            hint="take the argmax over the last axis (the vocabulary), dim=-1.",
        )
    passed(what)


def check_sample_basic(fn: Callable[[Tensor], Any]) -> None:
    """`fn(logits)` with logits `(batch, d_vocab)` draws one token per row from softmax(logits)."""
    cases = []
    for seed in (0, 1):
        logits = _test_logits(seed)
        probs = _softmax(logits)
        cases.append(
            _Case(
                logits,
                probs,
                f"logits set {seed + 1}",
                wrong=(
                    (
                        _sorted_positions(probs, logits),
                        "you return positions in sorted order; map them back to token ids.",
                    ),
                    (
                        torch.full_like(probs, 1 / len(probs)),
                        "your draws are uniform: sample from softmax(logits), not from uniform.",
                    ),
                ),
            )
        )
    check_sampler(
        fn,
        cases,
        what="sample_basic",
        hint="turn logits into probabilities with softmax over the last axis, then draw with torch.multinomial (or torch.distributions.Categorical(logits=...)).",
    )
    passed("sample_basic")


# --- logit transforms --------------------------------------------------------------------------


def check_temperature(fn: Callable[[Tensor, float], Any]) -> None:
    """`fn(logits, temperature)` returns logits divided by the temperature."""
    logits = torch.randn(3, 20, generator=torch.Generator().manual_seed(0)) * 2
    for t in (0.5, 2.0, 1.0, 0.05):
        out = call(fn, logits.clone(), t, what=f"apply_temperature for temperature {t}")
        diag = [
            like(
                logits * t,
                "you multiplied by the temperature; divide instead (low temperature must sharpen the distribution).",
            ),
            like(
                (logits / t).softmax(-1),
                "you returned probabilities; return the scaled logits (the sampler applies softmax).",
            ),
            like((logits / t).log_softmax(-1), "you returned log-probabilities; just return logits / temperature."),
        ]
        assert_close(
            out,
            logits / t,
            what=f"apply_temperature(logits, {t})",
            diagnoses=diag,
            hint="divide the logits by the temperature.",
        )
    passed("apply_temperature")


def _bincount_advice(err: Exception) -> str | None:
    if "size of tensor" in str(err):
        return "the counts must have one entry per vocabulary token (shape (d_vocab,)): torch.bincount(tokens, minlength=logits.shape[-1])."
    return None


def check_frequency_penalty(fn: Callable[[Tensor, Tensor, float], Any]) -> None:
    """`fn(tokens, logits, penalty)`: tokens `(pos,)`, logits `(d_vocab,)`; subtract penalty x count."""
    g = torch.Generator().manual_seed(0)
    d_vocab = 15
    cases = [
        (torch.tensor([3, 7, 3, 3, 1, 7]), 0.8),
        (torch.randint(0, d_vocab, (30,), generator=g), 0.25),
        (torch.tensor([14, 0, 0]), 2.0),
    ]
    for tokens, penalty in cases:
        logits = torch.randn(d_vocab, generator=g)
        out = call(fn, tokens.clone(), logits.clone(), penalty, what="apply_frequency_penalty", advice=_bincount_advice)
        counts = torch.bincount(tokens, minlength=d_vocab).float()
        present = (counts > 0).float()
        diag = [
            like(
                logits + penalty * counts,
                "wrong sign: the penalty must lower the logits of repeated tokens (subtract it).",
            ),
            like(
                logits - penalty * present,
                "you subtracted the penalty once per distinct token; a frequency penalty counts every occurrence (torch.bincount).",
            ),
            like(logits - counts, "you subtracted the counts without multiplying by the penalty."),
        ]
        assert_close(
            out,
            logits - penalty * counts,
            what=f"apply_frequency_penalty(tokens={tokens.tolist()}, logits, {penalty})",
            diagnoses=diag,
            hint="count each token's occurrences with torch.bincount(tokens, minlength=d_vocab), then subtract penalty * counts.",
        )
    passed("apply_frequency_penalty")


# --- top-k and top-p ---------------------------------------------------------------------------


def _top_k_probs(logits: Tensor, k: int) -> Tensor:
    k = max(0, min(k, logits.shape[-1]))
    if k == 0:
        return torch.zeros_like(logits, dtype=torch.float64)
    return _softmax(ref.top_k_filter(logits, k))


def _per_case(fn: Callable[[Tensor, Any], Any], params: Sequence[Any], n: int) -> Callable[[Tensor], Tensor]:
    """Call `fn` once per case with that case's parameter, and stitch the draws together."""

    def run(logits: Tensor) -> Tensor:
        outs = []
        for i, param in enumerate(params):
            out = fn(logits[i * n : (i + 1) * n], param)
            if not isinstance(out, Tensor):
                return out  # let _draws explain
            outs.append(out)
        return torch.cat(outs)

    return run


def check_top_k(fn: Callable[[Tensor, int], Any]) -> None:
    """`fn(logits, k)` with logits `(batch, d_vocab)` draws from the k most likely tokens, renormalised."""
    cases, ks = [], []
    for seed, k in [(2, 3), (3, 1), (4, 5)]:
        logits = _test_logits(seed, scale=1.0)
        probs = _top_k_probs(logits, k)
        wrong = [
            (
                _top_k_probs(logits, k - 1),
                f"you kept k - 1 = {k - 1} tokens: with k = {k} the {k} most likely tokens must all be possible.",
            ),
            (_top_k_probs(logits, k + 1), f"you kept k + 1 = {k + 1} tokens."),
            (
                _sorted_positions(probs, logits),
                "you return positions within the sorted top k; map them back to token ids (the indices from topk).",
            ),
            (_softmax(logits), "you sampled from the full distribution: the top-k filter had no effect."),
            (
                (probs > 0).double() / k,
                "you drew uniformly among the top k; draw in proportion to their probabilities.",
            ),
        ]
        cases.append(_Case(logits, probs, f"k = {k}", wrong=tuple(wrong)))
        ks.append(k)
    hint = "take logits.topk(k), sample among those k with softmax + torch.multinomial, and return the matching entries of topk's indices."
    check_sampler(_per_case(fn, ks, DRAWS_PER_CASE), cases, what="sample_top_k", hint=hint)
    passed("sample_top_k")


def _nucleus_probs(logits: Tensor, p: float, shift: int = 0) -> Tensor:
    """The top-p distribution, or (shift = -1 / +1) the one keeping one token too few / many."""
    probs = _softmax(logits)
    order = probs.argsort(descending=True)
    cum = probs[order].cumsum(0)
    n_keep = int((cum < p).sum()) + 1 + shift
    n_keep = max(0, min(n_keep, len(probs)))
    keep = torch.zeros_like(probs, dtype=torch.bool)
    keep[order[:n_keep]] = True
    out = torch.where(keep, probs, torch.zeros_like(probs))
    return out / out.sum() if out.sum() > 0 else out


def check_top_p(fn: Callable[[Tensor, float], Any]) -> None:
    """`fn(logits, p)` with logits `(batch, d_vocab)` draws from the smallest set of most likely
    tokens whose probabilities sum to at least p, renormalised (nucleus sampling)."""
    cases, ps = [], []
    for p in (0.7, 0.9, 0.3):
        logits = _NUCLEUS_LOGITS
        probs = _nucleus_probs(logits, p)
        n_keep = int((probs > 0).sum())
        wrong = [
            (
                _nucleus_probs(logits, p, -1),
                f"you kept one token too few ({n_keep - 1} instead of {n_keep}): keep the token whose probability takes the running sum past p, too.",
            ),
            (
                _nucleus_probs(logits, p, +1),
                f"you kept one token too many ({n_keep + 1} instead of {n_keep}): stop at the first token at which the running sum reaches p.",
            ),
            (
                _sorted_positions(probs, logits),
                "you return positions in sorted order; map them back to token ids (the indices from sort).",
            ),
            (_softmax(logits), "you sampled from the full distribution: the nucleus filter had no effect."),
        ]
        cases.append(_Case(logits, probs, f"p = {p}", wrong=tuple(wrong)))
        ps.append(p)
    hint = "sort the probabilities in descending order, keep tokens while the cumulative sum *before* them is below p, renormalise the kept probabilities, sample, and map back to token ids."
    check_sampler(_per_case(fn, ps, DRAWS_PER_CASE), cases, what="sample_top_p", hint=hint)
    passed("sample_top_p")


# --- beam search -------------------------------------------------------------------------------


def _as_int_set(x: Any) -> set[int]:
    if isinstance(x, Tensor):
        return {int(v) for v in x.flatten().tolist()}
    return {int(v) for v in x}


def check_banned_next_tokens(fn: Callable[[Sequence[int], int], Iterable[int]]) -> None:
    """`fn(tokens, n)` returns the tokens that would repeat an n-gram already in `tokens`."""
    cases = [
        ([5, 6, 7, 5, 6], 3, "the 3-gram (5, 6, 7) is in the sequence and it ends in 5, 6"),
        ([5, 6, 7, 5, 6, 9, 5, 6], 3, "the prefix (5, 6) occurs twice earlier, followed by 7 and by 9"),
        ([1, 2, 3, 4], 2, "each token is followed by another; the last token 4 was never followed"),
        ([1, 2, 1, 2, 1], 2, "1 was followed by 2"),
        ([4, 4, 4], 2, "4 was followed by 4"),
        ([3, 4, 4], 2, "the last bigram (4, 4) counts too: 4 was just followed by 4"),
        ([8, 9, 8], 1, "with n = 1 every token already present is banned"),
        ([3], 3, "the sequence is shorter than an n-gram"),
        ([2, 3, 2, 3], 4, "the 4-gram would need (3, 2, 3) to occur earlier; it does not"),
        ([7, 1, 2, 7, 1], 3, "(7, 1) was followed by 2"),
    ]
    for tokens, n, why in cases:
        expected = ref.banned_next_tokens(tokens, n)
        out = call(fn, list(tokens), n, what=f"banned_next_tokens({tokens}, n={n})")
        if out is None:
            raise CheckFailure("banned_next_tokens returned None: did you forget to `return` the set?")
        got = _as_int_set(out)
        if got != expected:
            msg = f"banned_next_tokens({tokens}, n={n}) gave {sorted(got)}, expected {sorted(expected)} ({why})."
            prefix = tokens[len(tokens) - n + 1 :] if n > 1 else []
            skip_last = {tokens[i + n - 1] for i in range(len(tokens) - n) if tokens[i : i + n - 1] == prefix}
            if got == skip_last:
                msg += "\nLikely mistake: your loop stops one start position early; scan every i with i + n - 1 < len(tokens), including the last one."
            elif n > 1 and got == ref.banned_next_tokens(tokens, n + 1):
                msg += "\nLikely mistake: you matched the last n tokens; match the last n - 1 (the n-gram's prefix) instead."
            elif n > 2 and got == ref.banned_next_tokens(tokens, n - 1):
                msg += "\nLikely mistake: you matched only the last n - 2 tokens; the prefix is the last n - 1 tokens."
            elif got < expected:
                msg += "\nHint: scan every start position i with i + n - 1 < len(tokens), including the last one."
            raise CheckFailure(msg)
    passed("banned_next_tokens")


def check_beam_step(fn: Callable[[Tensor, Tensor, int], Any]) -> None:
    """`fn(scores, logprobs, num_beams)` -> (new_scores, origin, tokens), best first."""
    g = torch.Generator().manual_seed(0)
    cases = [
        (torch.zeros(1), torch.randn(1, 9, generator=g).log_softmax(-1), 3),
        (torch.tensor([-1.0, -1.3, -4.0]), torch.randn(3, 9, generator=g).mul(2).log_softmax(-1), 3),
        (torch.tensor([-0.2, -3.0]), torch.randn(2, 11, generator=g).mul(3).log_softmax(-1), 4),
        (torch.tensor([-2.0, -2.1, -2.2, -9.0]), torch.randn(4, 6, generator=g).log_softmax(-1), 4),
    ]
    for scores, logprobs, k in cases:
        exp_s, exp_o, exp_t = ref.beam_step(scores, logprobs, k)
        out = call(fn, scores.clone(), logprobs.clone(), k, what="beam_step")
        if not (isinstance(out, (tuple, list)) and len(out) == 3 and all(isinstance(x, Tensor) for x in out)):
            raise CheckFailure("beam_step should return a tuple of three tensors: (new_scores, origin, tokens).")
        s, o, t = (x.detach().flatten() for x in out)
        where = f"beam_step with {len(scores)} beam(s), d_vocab {logprobs.shape[1]}, num_beams {k}"
        if not (len(s) == len(o) == len(t) == len(exp_s)):
            raise CheckFailure(
                f"{where}: returned {len(s)} scores, {len(o)} origins, {len(t)} tokens; expected {len(exp_s)} of each."
            )
        order = s.argsort(descending=True, stable=True)
        s, o, t = s[order], o[order].long(), t[order].long()
        if torch.equal(o, exp_t) and torch.equal(t, exp_o) and not torch.equal(o, exp_o):
            raise CheckFailure(
                f"{where}: origins and tokens are swapped. In the flattened (beam, d_vocab) array, index // d_vocab is the beam and index % d_vocab the token."
            )
        if torch.allclose(s.float(), logprobs.flatten().topk(len(exp_s)).values, atol=1e-5) and not torch.allclose(
            s.float(), exp_s, atol=1e-5
        ):
            raise CheckFailure(
                f"{where}: your scores are the new log-probabilities alone; add each beam's running score first (scores[:, None] + logprobs)."
            )
        assert_close(
            s.float(),
            exp_s.float(),
            what=f"{where}: new scores (sorted)",
            hint="rank all beam x token candidates together: flatten scores[:, None] + logprobs and take topk(num_beams). Keeping the best tokens of each beam separately misses candidates.",
        )
        if not (torch.equal(o, exp_o) and torch.equal(t, exp_t)):
            raise CheckFailure(
                f"{where}: the scores are right but the (origin, token) pairs are not: you gave {list(zip(o.tolist(), t.tolist()))}, expected {list(zip(exp_o.tolist(), exp_t.tolist()))}."
            )
    passed("beam_step")


# --- the whole beam search ---------------------------------------------------------------------


def _beam_search_variant(
    next_logprobs,
    tokens,
    max_new_tokens,
    num_beams,
    eos_id,
    length_penalty=1.0,
    *,
    normalise="new",
    eos=True,
    keep=True,
):
    """The reference loop with one known mistake switched on (used to name the learner's mistake)."""
    live_scores, live = torch.zeros(1), tokens[None, :]
    finished: list = []
    for _ in range(max_new_tokens):
        if len(live) == 0 or len(finished) >= num_beams:
            break
        new_scores, origin, new = ref.beam_step(live_scores, next_logprobs(live), num_beams)
        extended = torch.cat([live[origin], new[:, None].to(live.dtype)], dim=1)
        ended = new == eos_id if eos else torch.zeros_like(new, dtype=torch.bool)
        finished += [(float(s), q) for s, q in zip(new_scores[ended], extended[ended])]
        live_scores, live = new_scores[~ended], extended[~ended]
    finished = (finished if keep else []) + [(float(s), q) for s, q in zip(live_scores, live)]
    n0 = len(tokens)
    length = {"new": lambda q: max(1, len(q) - n0), "total": len, "none": lambda q: 1}[normalise]
    ranked = sorted(((s / length(q) ** length_penalty, q) for s, q in finished), key=lambda x: -x[0])
    return ranked[:num_beams]


def _toy_model(seed: int, d_vocab: int = 7, eos_id: int = 0) -> Callable[[Tensor], Tensor]:
    """A bigram 'model': the next token's log-probabilities depend on the last token only."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(d_vocab, d_vocab, generator=g) * 2
    logits[:, eos_id] += 0.5  # end-of-text is a real option
    table = logits.log_softmax(-1)

    def next_logprobs(beams: Tensor) -> Tensor:
        if beams.ndim != 2:
            raise ValueError(f"next_logprobs takes beams of shape (beam, pos), got {tuple(beams.shape)}")
        return table[beams[:, -1]]

    return next_logprobs


def _same_hypotheses(a: Any, b: list) -> bool:
    try:
        return len(a) == len(b) and all(
            math.isclose(float(sa), sb, rel_tol=1e-4, abs_tol=1e-5)
            and torch.equal(torch.as_tensor(qa).long(), qb.long())
            for (sa, qa), (sb, qb) in zip(a, b)
        )
    except Exception:
        return False


def _fmt_hyps(hyps: Any) -> str:
    try:
        return "; ".join(f"{float(s):.3f} {torch.as_tensor(q).tolist()}" for s, q in hyps)
    except Exception:
        return repr(hyps)[:200]


def check_beam_search_eos(fn: Callable) -> None:
    """`fn(next_logprobs, tokens, max_new_tokens, num_beams, eos_id, length_penalty)` -> [(score, tokens)], best first."""
    cases = [(2, 1.0, 3, 6), (4, 0.5, 3, 7), (5, 1.0, 2, 8), (6, 1.0, 4, 9), (0, 1.0, 3, 6)]  # seed, lp, beams, steps
    for seed, lp, k, n in cases:
        model = _toy_model(seed)
        prompt = torch.tensor([3, 1])
        args = (model, prompt.clone(), n, k, 0, lp)
        where = (
            f"beam search on a toy bigram model (seed {seed}, num_beams {k}, max_new_tokens {n}, length_penalty {lp})"
        )
        out = call(fn, *args, what="beam_search_eos")
        expected = ref.beam_search_eos(*args)
        if not isinstance(out, (list, tuple)) or not all(isinstance(h, (list, tuple)) and len(h) == 2 for h in out):
            raise CheckFailure(
                f"{where}: return a list of (score, tokens) pairs, best first; got {type(out).__name__}."
            )
        if _same_hypotheses(out, expected):
            continue
        mistakes = [
            (
                dict(normalise="none"),
                "you ranked by the raw total log-probability: divide each total by "
                "(number of new tokens) ** length_penalty, or short hypotheses always win.",
            ),
            (dict(normalise="total"), "you divided by the whole length, prompt included: count only the new tokens."),
            (
                dict(eos=False),
                "hypotheses never end: a candidate whose new token is eos_id is finished; move it out of the live beams.",
            ),
            (
                dict(keep=False),
                "you returned only the live beams: the finished hypotheses (ended by eos_id) compete too.",
            ),
        ]
        for flags, hint in mistakes:
            if _same_hypotheses(out, _beam_search_variant(*args, **flags)):
                raise CheckFailure(f"{where}: {hint}")
        raise CheckFailure(
            f"{where}: you returned\n  {_fmt_hyps(out)}\nexpected\n  {_fmt_hyps(expected)}\n"
            "Hint: finished hypotheses keep their eos token and leave the beam; stop when num_beams are finished, "
            "no live beam is left, or after max_new_tokens; rank all by total / (new tokens) ** length_penalty."
        )
    passed("beam_search_eos")
