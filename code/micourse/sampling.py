"""Turning a model's logits into text: the reference decoding methods of chapter 1.

Every function works on any model whose forward pass maps tokens `(batch, pos)` to logits
`(batch, pos, d_vocab)`: a TransformerLens `HookedTransformer`, `micourse.transformer.GPT2`,
or anything else with that signature. The per-step functions take logits with any leading
axes (`"... d_vocab"`), so one call can draw thousands of samples at once; the checkers rely
on that to test random samplers statistically.

Randomness goes through an optional `torch.Generator`, so a `seed` makes a completion
reproducible without touching the global random state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

__all__ = [
    "next_token_probs",
    "greedy",
    "greedy_generate",
    "sample_basic",
    "apply_temperature",
    "apply_frequency_penalty",
    "top_k_filter",
    "top_p_filter",
    "sample_top_k",
    "sample_top_p",
    "banned_next_tokens",
    "beam_step",
    "beam_search",
    "beam_search_eos",
    "next_logprobs_fn",
    "generate",
    "SamplingError",
]


class SamplingError(ValueError):
    """A decoding setting that cannot work (a negative temperature, k = 0, p outside (0, 1], ...)."""


def _check_logits(logits: Tensor) -> None:
    if not isinstance(logits, Tensor):
        raise SamplingError(f"logits must be a torch.Tensor, not {type(logits).__name__}.")
    if logits.ndim < 1 or not logits.is_floating_point():
        raise SamplingError(
            f"logits must be a float tensor with a vocabulary axis last, got {logits.dtype} {tuple(logits.shape)}."
        )


# --- one step: logits -> next token ----------------------------------------------------------


def next_token_probs(logits: Float[Tensor, "batch pos d_vocab"]) -> Float[Tensor, "batch d_vocab"]:
    """The distribution of the next token: softmax of the logits at the last position."""
    return logits[:, -1, :].softmax(dim=-1)


def greedy(logits: Float[Tensor, "... d_vocab"]) -> Int[Tensor, ...]:
    """The most likely next token: deterministic, and prone to loops."""
    _check_logits(logits)
    return logits.argmax(dim=-1)


def greedy_generate(model, tokens: Int[Tensor, "batch pos"], max_new_tokens: int) -> Int[Tensor, "batch pos_out"]:
    """Append `max_new_tokens` most likely tokens to `tokens`, re-running the whole sequence each step.

    The plainest generation loop (no cache, no context truncation): what the first page asks a
    learner to write, and the baseline the KV cache is measured against.
    """
    for _ in range(max_new_tokens):
        next_token = model(tokens)[:, -1].argmax(dim=-1, keepdim=True)
        tokens = torch.cat([tokens, next_token], dim=1)
    return tokens


def _draw(probs: Float[Tensor, "... d_vocab"], generator: torch.Generator | None) -> Int[Tensor, ...]:
    flat = probs.reshape(-1, probs.shape[-1])
    out = torch.multinomial(flat, num_samples=1, generator=generator).squeeze(-1)
    return out.reshape(probs.shape[:-1])


def sample_basic(logits: Float[Tensor, "... d_vocab"], generator: torch.Generator | None = None) -> Int[Tensor, ...]:
    """A draw from softmax(logits): the model's own distribution, unchanged."""
    _check_logits(logits)
    return _draw(logits.float().softmax(dim=-1), generator)


def apply_temperature(logits: Float[Tensor, "... d_vocab"], temperature: float) -> Float[Tensor, "... d_vocab"]:
    """Divide by the temperature: below 1 sharpens the distribution, above 1 flattens it."""
    _check_logits(logits)
    if not temperature > 0:
        raise SamplingError(f"temperature must be positive, got {temperature}; use greedy decoding for temperature 0.")
    return logits / temperature


def apply_frequency_penalty(
    tokens: Int[Tensor, "... pos"], logits: Float[Tensor, "... d_vocab"], penalty: float
) -> Float[Tensor, "... d_vocab"]:
    """Subtract `penalty` once per earlier occurrence of each token, discouraging repetition."""
    _check_logits(logits)
    if tokens.shape[:-1] != logits.shape[:-1]:
        raise SamplingError(
            f"tokens {tuple(tokens.shape)} and logits {tuple(logits.shape)} must share their leading axes."
        )
    counts = torch.zeros_like(logits)
    counts.scatter_add_(-1, tokens.long(), torch.ones_like(tokens, dtype=logits.dtype))
    return logits - penalty * counts


def top_k_filter(logits: Float[Tensor, "... d_vocab"], k: int) -> Float[Tensor, "... d_vocab"]:
    """The logits with everything outside the k largest set to -inf."""
    _check_logits(logits)
    if not isinstance(k, int) or k < 1:
        raise SamplingError(f"k must be a positive integer, got {k!r}.")
    k = min(k, logits.shape[-1])
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(
    logits: Float[Tensor, "... d_vocab"], p: float, min_tokens_to_keep: int = 1
) -> Float[Tensor, "... d_vocab"]:
    """Keep the smallest set of most likely tokens whose probabilities add up to at least p.

    This is nucleus sampling (Holtzman et al., 2019): the number of tokens kept adapts to how
    confident the model is, unlike top-k.
    """
    _check_logits(logits)
    if not 0 < p <= 1:
        raise SamplingError(f"p must be in (0, 1], got {p}.")
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    cum = sorted_logits.float().softmax(dim=-1).cumsum(dim=-1)
    # A token stays if the mass strictly before it is still short of p.
    before = cum - sorted_logits.float().softmax(dim=-1)
    keep_sorted = before < p
    keep_sorted[..., :min_tokens_to_keep] = True
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    return logits.masked_fill(~keep, float("-inf"))


def sample_top_k(
    logits: Float[Tensor, "... d_vocab"], k: int, generator: torch.Generator | None = None
) -> Int[Tensor, ...]:
    """A draw from the k most likely tokens, renormalised."""
    return sample_basic(top_k_filter(logits, k), generator)


def sample_top_p(
    logits: Float[Tensor, "... d_vocab"], p: float, generator: torch.Generator | None = None
) -> Int[Tensor, ...]:
    """A draw from the nucleus of probability mass p, renormalised."""
    return sample_basic(top_p_filter(logits, p), generator)


# --- beam search -------------------------------------------------------------------------------


def banned_next_tokens(tokens: Sequence[int] | Tensor, n: int) -> set[int]:
    """Tokens that would complete an n-gram already present in `tokens` (no-repeat n-grams)."""
    if n < 1:
        raise SamplingError(f"the n-gram size must be at least 1, got {n}.")
    seq = tokens.tolist() if isinstance(tokens, Tensor) else list(tokens)
    if len(seq) < n - 1:
        return set()
    prefix = seq[len(seq) - (n - 1) :] if n > 1 else []
    return {seq[i + n - 1] for i in range(len(seq) - n + 1) if seq[i : i + n - 1] == prefix}


def beam_step(
    scores: Float[Tensor, " beam"], logprobs: Float[Tensor, "beam d_vocab"], num_beams: int
) -> tuple[Float[Tensor, " new_beam"], Int[Tensor, " new_beam"], Int[Tensor, " new_beam"]]:
    """Extend every beam by every token and keep the `num_beams` best totals.

    Returns the new scores (best first), which old beam each new beam extends, and the token
    it appends. Candidates compete across beams: a strong beam may supply all survivors.
    """
    if scores.ndim != 1 or logprobs.ndim != 2 or logprobs.shape[0] != scores.shape[0]:
        raise SamplingError(
            f"scores must be (beam,) and logprobs (beam, d_vocab); got {tuple(scores.shape)} and {tuple(logprobs.shape)}."
        )
    total = scores[:, None] + logprobs
    flat = total.flatten()
    k = min(num_beams, int(torch.isfinite(flat).sum()))
    if k == 0:
        raise SamplingError("every continuation is banned: lower no_repeat_ngram_size.")
    new_scores, idx = flat.topk(k)
    d_vocab = logprobs.shape[1]
    return new_scores, idx // d_vocab, idx % d_vocab


def _logits_fn(model) -> Callable[[Tensor], Tensor]:
    def run(tokens: Tensor) -> Tensor:
        n_ctx = getattr(getattr(model, "cfg", None), "n_ctx", None)
        if n_ctx is not None and tokens.shape[-1] > n_ctx:
            tokens = tokens[..., -n_ctx:]
        with torch.inference_mode():
            out = model(tokens)
        if not isinstance(out, Tensor) or out.ndim != 3:
            raise SamplingError("the model must map tokens (batch, pos) to logits (batch, pos, d_vocab).")
        return out[:, -1, :].float()

    return run


def _new_cache(model) -> Callable[[int], object] | None:
    """A function making an empty KV cache for `batch` rows, if `model` takes one (else None)."""
    try:
        from transformer_lens import HookedTransformer
    except ImportError:  # pragma: no cover - TransformerLens is a course dependency
        HookedTransformer = ()
    if isinstance(model, HookedTransformer):
        try:  # TransformerLens 3.x
            from transformer_lens.cache.key_value_cache import TransformerLensKeyValueCache as TLCache
        except ImportError:  # TransformerLens 2.x
            from transformer_lens.past_key_value_caching import HookedTransformerKeyValueCache as TLCache
        return lambda batch: TLCache.init_cache(model.cfg, model.cfg.device, batch)
    from micourse.transformer.model import GPT2

    if isinstance(model, GPT2):
        from micourse.transformer.cache import KVCache

        return lambda batch: KVCache.empty(model.cfg.n_layers)
    return None


def _reorder(cache, origin: Tensor) -> None:
    """Row i of every cached key and value becomes row origin[i] (beams that moved, split or died)."""
    if hasattr(cache, "entries"):  # TransformerLens
        for entry in cache.entries:
            entry.past_keys, entry.past_values = entry.past_keys[origin], entry.past_values[origin]
        cache.previous_attention_mask = cache.previous_attention_mask[origin]
    else:  # micourse.transformer.cache.KVCache
        cache.reorder_rows(origin)


def _cached_logits_fn(model) -> Callable[[Tensor], Tensor] | None:
    """A `_logits_fn` that feeds the model only the token each row gained since the last call.

    `generate` and beam search call the model on sequences that grow by one token per step;
    beam search also reorders them (new beam i extends old beam origin[i]). This finds each
    row's origin by comparing prefixes, reorders the KV cache to match and runs one position per
    row: at GPT-2 small's real size on a CPU, the difference between seconds and minutes per page
    (the KV-cache page builds the same idea by hand, beam search included). Any other call
    (a new prompt, a row that extends nothing) starts a fresh cache. Returns None for models
    that take no cache, which then rerun the whole sequence.
    """
    make = _new_cache(model)
    if make is None:
        return None
    state: dict = {"cache": None, "tokens": None}

    def run(tokens: Tensor) -> Tensor:
        if tokens.shape[-1] > model.cfg.n_ctx:  # past the context window: a fresh window each time
            state["cache"] = None
            return _logits_fn(model)(tokens)
        prev = state["tokens"]
        origin = None
        if prev is not None and tokens.shape[-1] == prev.shape[-1] + 1:
            match = (tokens[:, None, :-1] == prev[None, :, :]).all(-1)  # (new row, old row)
            if bool(match.any(-1).all()):
                origin = match.int().argmax(-1)
        with torch.inference_mode():
            if origin is None:
                state["cache"] = make(tokens.shape[0])
                out = model(tokens, past_kv_cache=state["cache"])
            else:
                _reorder(state["cache"], origin)
                out = model(tokens[:, -1:], past_kv_cache=state["cache"])
        state["tokens"] = tokens.clone()
        return out[:, -1, :].float()

    return run


def beam_search(
    model,
    tokens: Int[Tensor, " pos"],
    max_new_tokens: int,
    num_beams: int = 4,
    no_repeat_ngram_size: int | None = None,
    step: Callable = beam_step,
    use_cache: bool = True,
) -> list[tuple[float, Int[Tensor, " pos_out"]]]:
    """Keep the `num_beams` most likely continuations at every step; return them, best first.

    Scores are summed log-probabilities; every beam gets exactly `max_new_tokens` new tokens.
    `step` lets a page plug in the learner's own `beam_step`. With `use_cache` (and a model that
    takes a KV cache) each step runs one position per beam; without, every beam is rerun whole.
    """
    if tokens.ndim != 1:
        raise SamplingError(f"beam_search takes one prompt, tokens of shape (pos,), got {tuple(tokens.shape)}.")
    logits_of = (_cached_logits_fn(model) if use_cache else None) or _logits_fn(model)
    beams = tokens[None, :]
    scores = torch.zeros(1)
    for _ in range(max_new_tokens):
        logprobs = logits_of(beams).log_softmax(dim=-1)
        if no_repeat_ngram_size:
            for b in range(beams.shape[0]):
                banned = banned_next_tokens(beams[b], no_repeat_ngram_size)
                if banned:
                    logprobs[b, list(banned)] = float("-inf")
        scores, origin, new = step(scores, logprobs, num_beams)
        beams = torch.cat([beams[origin], new[:, None].to(beams.dtype)], dim=1)
    return [(float(s), beams[i]) for i, s in enumerate(scores)]


def next_logprobs_fn(model) -> Callable[[Tensor], Tensor]:
    """`model` as a function from beams (beam, pos) to next-token log-probabilities (beam, d_vocab).

    Calls whose beams extend the previous call's by one token run only that token (KV cache).
    """
    logits_of = _cached_logits_fn(model) or _logits_fn(model)
    return lambda beams: logits_of(beams).log_softmax(dim=-1)


def beam_search_eos(
    next_logprobs: Callable[[Tensor], Tensor],
    tokens: Int[Tensor, " pos"],
    max_new_tokens: int,
    num_beams: int,
    eos_id: int,
    length_penalty: float = 1.0,
) -> list[tuple[float, Int[Tensor, " pos_out"]]]:
    """Beam search that lets hypotheses end: the reference for the page's whole-loop exercise.

    A candidate that appends `eos_id` is finished and leaves the beam (it keeps its end-of-text
    token); the others stay live. The search stops once `num_beams` hypotheses are finished, no
    live beam is left, or after `max_new_tokens` steps; live beams then count as finished too.
    Hypotheses are ranked by total log-probability / (new tokens) ** length_penalty, since raw
    totals only fall with length and would always prefer ending early. Returns at most
    `num_beams` (normalised score, tokens), best first.
    """
    if tokens.ndim != 1 or num_beams < 1:
        raise SamplingError(
            f"need one prompt of shape (pos,) and num_beams >= 1, got {tuple(tokens.shape)}, {num_beams}."
        )
    live_scores, live = torch.zeros(1), tokens[None, :]
    finished: list[tuple[float, Tensor]] = []
    for _ in range(max_new_tokens):
        if len(live) == 0 or len(finished) >= num_beams:
            break
        new_scores, origin, new = beam_step(live_scores, next_logprobs(live), num_beams)
        extended = torch.cat([live[origin], new[:, None].to(live.dtype)], dim=1)
        ended = new == eos_id
        finished += [(float(s), seq) for s, seq in zip(new_scores[ended], extended[ended])]
        live_scores, live = new_scores[~ended], extended[~ended]
    finished += [(float(s), seq) for s, seq in zip(live_scores, live)]
    n0 = len(tokens)
    ranked = sorted(((s / max(1, len(seq) - n0) ** length_penalty, seq) for s, seq in finished), key=lambda x: -x[0])
    return ranked[:num_beams]


# --- the whole loop ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Settings:
    method: str
    temperature: float
    top_k: int | None
    top_p: float | None
    frequency_penalty: float


_METHODS = ("greedy", "sample", "top_k", "top_p", "beam")


def _tokenizer_for(model, tokenizer):
    if tokenizer is not None:
        return tokenizer
    if getattr(model, "tokenizer", None) is not None:
        return model.tokenizer
    from micourse.tokenizer import gpt2_tokenizer

    return gpt2_tokenizer()


def _next_token(logits: Tensor, history: Tensor, s: _Settings, generator: torch.Generator | None) -> Tensor:
    if s.frequency_penalty:
        logits = apply_frequency_penalty(history, logits, s.frequency_penalty)
    if s.method == "greedy":
        return greedy(logits)
    logits = apply_temperature(logits, s.temperature)
    if s.top_k is not None:
        logits = top_k_filter(logits, s.top_k)
    if s.top_p is not None:
        logits = top_p_filter(logits, s.top_p)
    return sample_basic(logits, generator)


def generate(
    model,
    prompt: str | Int[Tensor, " pos"],
    max_new_tokens: int = 30,
    *,
    method: str = "greedy",
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    frequency_penalty: float = 0.0,
    num_beams: int = 4,
    no_repeat_ngram_size: int | None = None,
    seed: int | None = None,
    tokenizer=None,
    prepend_bos: bool = True,
    stop_at_eos: bool = True,
) -> str:
    """Continue `prompt` with `model` and return the prompt plus its continuation as text.

    `method` is "greedy", "sample" (with optional temperature, top_k, top_p,
    frequency_penalty), "top_k" or "top_p" (shorthands for "sample" that require the
    matching setting), or "beam" (num_beams, no_repeat_ngram_size).
    """
    if method not in _METHODS:
        raise SamplingError(f"unknown method {method!r}; choose one of {', '.join(_METHODS)}.")
    if method == "top_k" and top_k is None:
        raise SamplingError("method='top_k' needs top_k=<k>.")
    if method == "top_p" and top_p is None:
        raise SamplingError("method='top_p' needs top_p=<p>.")
    if max_new_tokens < 0:
        raise SamplingError(f"max_new_tokens must be >= 0, got {max_new_tokens}.")
    tok = _tokenizer_for(model, tokenizer)
    bos = tok.bos_token_id if tok is not None else None
    if isinstance(prompt, str):
        ids = list(tok(prompt)["input_ids"])
        if ids and bos is not None and ids[0] == bos and not prompt.startswith(tok.decode([bos])):
            ids = ids[1:]  # some tokenizers (TransformerLens sets add_bos_token) add BOS themselves
        added_bos = prepend_bos and bos is not None
        if added_bos:
            ids = [bos] + ids
        tokens = torch.tensor(ids, dtype=torch.long)
    else:
        tokens = prompt.long().flatten()
    if tokens.numel() == 0:
        raise SamplingError("the prompt is empty: give at least one token (or keep prepend_bos=True).")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None

    if method == "beam":
        out = beam_search(model, tokens, max_new_tokens, num_beams, no_repeat_ngram_size)[0][1]
    else:
        settings = _Settings("sample" if method != "greedy" else "greedy", temperature, top_k, top_p, frequency_penalty)
        logits_of = _cached_logits_fn(model) or _logits_fn(model)
        out = tokens
        eos = getattr(tok, "eos_token_id", None)
        for _ in range(max_new_tokens):
            nxt = _next_token(logits_of(out[None, :])[0], out, settings, generator)
            if stop_at_eos and eos is not None and int(nxt) == eos:
                break  # the end-of-text token itself is not part of the continuation
            out = torch.cat([out, nxt.reshape(1).to(out.dtype)])
    if isinstance(prompt, str) and added_bos:
        out = out[1:]
    return tok.decode(out.tolist())
