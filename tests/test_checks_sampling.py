"""The sampling checkers accept the reference and reject the usual mistakes with a useful hint."""

import torch

from conftest import rejects
from micourse import sampling as ref
from micourse.checks import sampling as chk

# --- greedy ----------------------------------------------------------------------------------


def test_greedy_accepts_reference(capsys):
    chk.check_greedy(ref.greedy)
    assert "\u2714" in capsys.readouterr().out


def test_greedy_rejects_mistakes():
    rejects(chk.check_greedy, lambda l: l.argmin(-1), "argmin")
    rejects(chk.check_greedy, lambda l: l.max(-1).values, "index")
    rejects(chk.check_greedy, lambda l: l.argmax(0), "shape")
    rejects(chk.check_greedy, lambda l: None, "return")


# --- sample_basic ------------------------------------------------------------------------------


def test_sample_basic_accepts_reference_and_alternatives():
    chk.check_sample_basic(ref.sample_basic)
    chk.check_sample_basic(lambda l: torch.distributions.Categorical(logits=l).sample())
    # Gumbel-max: a different use of the random stream, the same distribution.
    chk.check_sample_basic(lambda l: (l - torch.empty_like(l).exponential_().log()).argmax(-1))


def test_sample_basic_rejects_mistakes():
    rejects(chk.check_sample_basic, ref.greedy, "expected")
    rejects(chk.check_sample_basic, lambda l: torch.randint(0, l.shape[-1], l.shape[:-1]), "uniform")
    rejects(chk.check_sample_basic, lambda l: torch.multinomial(l.softmax(-1), 1), "squeeze")
    rejects(chk.check_sample_basic, lambda l: torch.multinomial((l / 2).softmax(-1), 1).squeeze(-1), "softmax")
    rejects(
        chk.check_sample_basic,
        lambda l: (
            l.argsort(-1, descending=True).gather(-1, torch.multinomial(l.softmax(-1), 1)).squeeze(-1) * 0
            + torch.multinomial(l.sort(-1, descending=True).values.softmax(-1), 1).squeeze(-1)
        ),
        "sorted order",
    )


# --- temperature, frequency penalty --------------------------------------------------------------


def test_temperature():
    chk.check_temperature(ref.apply_temperature)
    rejects(chk.check_temperature, lambda l, t: l * t, "multiplied")
    rejects(chk.check_temperature, lambda l, t: (l / t).softmax(-1), "probabilities")
    rejects(chk.check_temperature, lambda l, t: l - t, "divide")


def test_frequency_penalty():
    chk.check_frequency_penalty(ref.apply_frequency_penalty)
    rejects(chk.check_frequency_penalty, lambda tok, l, p: l + p * torch.bincount(tok, minlength=l.shape[-1]), "sign")
    rejects(
        chk.check_frequency_penalty,
        lambda tok, l, p: l - p * (torch.bincount(tok, minlength=l.shape[-1]) > 0),
        "distinct",
    )
    rejects(
        chk.check_frequency_penalty,
        lambda tok, l, p: l - torch.bincount(tok, minlength=l.shape[-1]),
        "without multiplying",
    )
    rejects(chk.check_frequency_penalty, lambda tok, l, p: l - p * torch.bincount(tok), "minlength")


# --- top-k ---------------------------------------------------------------------------------------


def top_k_right(logits, k):
    vals, idx = logits.topk(k, dim=-1)
    choice = torch.multinomial(vals.softmax(-1), 1)
    return idx.gather(-1, choice).squeeze(-1)


def top_k_minus_one(logits, k):
    return top_k_right(logits, max(k - 1, 1)) if k > 1 else top_k_right(logits, 1)


def top_k_sorted_positions(logits, k):
    vals, _ = logits.topk(k, dim=-1)
    return torch.multinomial(vals.softmax(-1), 1).squeeze(-1)


def top_k_uniform(logits, k):
    _, idx = logits.topk(k, dim=-1)
    choice = torch.randint(0, k, (logits.shape[0], 1))
    return idx.gather(-1, choice).squeeze(-1)


def top_k_full(logits, k):
    return torch.multinomial(logits.softmax(-1), 1).squeeze(-1)


def test_top_k_accepts():
    chk.check_top_k(ref.sample_top_k)
    chk.check_top_k(top_k_right)


def test_top_k_rejects_mistakes():
    rejects(chk.check_top_k, top_k_minus_one, "k - 1")
    rejects(chk.check_top_k, top_k_sorted_positions, "positions")
    rejects(chk.check_top_k, top_k_uniform, "uniformly")
    rejects(chk.check_top_k, top_k_full, "must never be drawn")


# --- top-p ---------------------------------------------------------------------------------------


def top_p_right(logits, p):
    probs = logits.softmax(-1)
    sp, order = probs.sort(-1, descending=True)
    keep = (sp.cumsum(-1) - sp) < p
    sp = sp * keep
    choice = torch.multinomial(sp / sp.sum(-1, keepdim=True), 1)
    return order.gather(-1, choice).squeeze(-1)


def top_p_one_too_few(logits, p):
    probs = logits.softmax(-1)
    sp, order = probs.sort(-1, descending=True)
    keep = sp.cumsum(-1) < p
    keep[..., 0] = True
    choice = torch.multinomial(sp * keep, 1)
    return order.gather(-1, choice).squeeze(-1)


def top_p_not_renormalised(logits, p):
    """Inverse-CDF sampling on the kept mass without dividing by it: the leftover mass spills over."""
    probs = logits.softmax(-1)
    sp, order = probs.sort(-1, descending=True)
    keep = (sp.cumsum(-1) - sp) < p
    cdf = (sp * keep).cumsum(-1)
    u = torch.rand(logits.shape[0], 1)
    pos = (cdf < u).sum(-1, keepdim=True).clamp(max=logits.shape[-1] - 1)
    return order.gather(-1, pos).squeeze(-1)


def top_p_sorted_positions(logits, p):
    probs = logits.softmax(-1)
    sp, _ = probs.sort(-1, descending=True)
    keep = (sp.cumsum(-1) - sp) < p
    return torch.multinomial(sp * keep, 1).squeeze(-1)


def test_top_p_accepts():
    chk.check_top_p(ref.sample_top_p)
    chk.check_top_p(top_p_right)


def test_top_p_rejects_mistakes():
    rejects(chk.check_top_p, top_p_one_too_few, "one token too few")
    rejects(chk.check_top_p, top_p_not_renormalised, "must never be drawn")
    rejects(chk.check_top_p, top_p_sorted_positions, "positions")
    rejects(chk.check_top_p, lambda l, p: top_k_full(l, 0), "full distribution")


def test_sampler_checks_are_sound_across_seeds():
    """A correct sampler passes whatever the random stream (here: 5 different global seeds)."""
    for seed in range(5):
        torch.manual_seed(seed)
        chk.check_top_p(lambda l, p: ref.sample_top_p(l, p, generator=torch.Generator().manual_seed(seed)))


# --- beam search -------------------------------------------------------------------------------


def test_banned_next_tokens():
    chk.check_banned_next_tokens(ref.banned_next_tokens)

    def prefix_n(tokens, n):  # matches the last n tokens instead of n - 1
        return ref.banned_next_tokens(tokens, n + 1)

    def skip_last(tokens, n):
        prefix = tokens[len(tokens) - n + 1 :] if n > 1 else []
        return {tokens[i + n - 1] for i in range(len(tokens) - n) if tokens[i : i + n - 1] == prefix}

    rejects(chk.check_banned_next_tokens, prefix_n, "last n - 1")
    rejects(chk.check_banned_next_tokens, skip_last, "including the last one")
    rejects(chk.check_banned_next_tokens, lambda t, n: set(), "expected")
    rejects(chk.check_banned_next_tokens, lambda t, n: None, "return")


def test_beam_step():
    chk.check_beam_step(ref.beam_step)

    def no_running_score(scores, logprobs, k):
        vals, idx = logprobs.flatten().topk(k)
        return vals, idx // logprobs.shape[1], idx % logprobs.shape[1]

    def swapped(scores, logprobs, k):
        s, o, t = ref.beam_step(scores, logprobs, k)
        return s, t, o

    def split_evenly(scores, logprobs, k):  # each beam supplies the same number of survivors
        per = -(-k // len(scores))
        vals, toks = (scores[:, None] + logprobs).topk(per, dim=-1)
        origin = torch.arange(len(scores))[:, None].expand_as(toks)
        vals, origin, toks = vals.flatten()[:k], origin.flatten()[:k], toks.flatten()[:k]
        order = vals.argsort(descending=True)
        return vals[order], origin[order], toks[order]

    rejects(chk.check_beam_step, no_running_score, "running score")
    rejects(chk.check_beam_step, swapped, "swapped")
    rejects(chk.check_beam_step, split_evenly, "all beam x token candidates")


def test_beam_search_eos():
    chk.check_beam_search_eos(ref.beam_search_eos)
    variant = chk._beam_search_variant
    rejects(chk.check_beam_search_eos, lambda *a: variant(*a, normalise="none"), "raw total")
    rejects(chk.check_beam_search_eos, lambda *a: variant(*a, normalise="total"), "prompt included")
    rejects(chk.check_beam_search_eos, lambda *a: variant(*a, eos=False), "never end")
    rejects(chk.check_beam_search_eos, lambda *a: variant(*a, keep=False), "only the live beams")
    rejects(chk.check_beam_search_eos, lambda *a: ref.beam_search_eos(*a)[:1], "expected")  # only the best one
    rejects(chk.check_beam_search_eos, lambda *a: None, "list of (score, tokens)")
