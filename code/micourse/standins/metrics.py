"""The measurements that say whether a model shows what the course teaches.

Used three ways: by the stand-in training script (to report), by the tests (to hold the committed
weights to their bars) and by the pages (where they run on the real model or the stand-in alike).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from micourse.interp import tokens
from micourse.standins import synthetic

# The one source of repeated random tokens for a model (pages, recipes and the scorecard).
known_tokens = tokens.known_tokens


def repeated_random_tokens(
    batch: int, seq_len: int, seed: int = 0, low: int = 1000, high: int = 50000, bos: int = 50256, model=None
) -> Int[Tensor, "batch 1+2*seq_len"]:
    """`micourse.interp.tokens.repeated_tokens_for` (kept under this name for the scorecard and tests)."""
    if model is None:
        g = torch.Generator().manual_seed(seed)
        return tokens.repeated_tokens(bos, seq_len, batch, low, high, g)
    return tokens.repeated_tokens_for(model, batch, seq_len, seed=seed, low=low, high=high)


@torch.no_grad()
def induction_scores(model, seq_len: int = 40, batch: int = 8, seed: int = 0) -> Float[Tensor, "n_layers n_heads"]:
    """Mean attention from each token in the repeat to the token right after its first occurrence."""
    tokens = repeated_random_tokens(batch, seq_len, seed, model=model)
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n.endswith("hook_pattern"))
    scores = []
    for layer in range(model.cfg.n_layers):
        pattern = cache["pattern", layer]  # batch head q k
        diag = pattern.diagonal(offset=-(seq_len - 1), dim1=-2, dim2=-1)  # q = k + seq_len - 1
        scores.append(diag[..., 1:].mean(dim=(0, -1)))  # skip q = seq_len (its target is BOS + 1)
    return torch.stack(scores)


@torch.no_grad()
def previous_token_scores(model, seq_len: int = 40, batch: int = 8, seed: int = 0) -> Float[Tensor, "n_layers n_heads"]:
    """Mean attention from each position to the one just before it, on repeated random tokens."""
    tokens = repeated_random_tokens(batch, seq_len, seed, model=model)
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n.endswith("hook_pattern"))
    return torch.stack(
        [cache["pattern", l].diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(0, -1)) for l in range(model.cfg.n_layers)]
    )


@torch.no_grad()
def repeated_halves_loss(model, seq_len: int = 40, batch: int = 8, seed: int = 0) -> tuple[float, float]:
    """Mean next-token loss on the first and on the repeated half of repeated random tokens."""
    tokens = repeated_random_tokens(batch, seq_len, seed, model=model)
    logits = model(tokens)
    logprobs = logits[:, :-1].log_softmax(-1).gather(-1, tokens[:, 1:, None])[..., 0]
    loss = -logprobs
    return loss[:, : seq_len - 1].mean().item(), loss[:, seq_len:].mean().item()


def _single_token(model, word: str) -> int:
    return model.to_single_token(word)


@torch.no_grad()
def ioi_logit_diffs(
    model, n: int = 100, seed: int = 0, templates=synthetic.IOI_TEMPLATES, names=synthetic.IOI_NAMES
) -> Float[Tensor, " n"]:
    """Logit of the indirect object minus logit of the subject, at the end of `n` generated prompts."""
    prompts = synthetic.ioi_prompts(n, seed, templates, names)
    diffs = []
    for p in prompts:  # prompts differ in length; one at a time keeps it simple and exact
        logits = model(model.to_tokens(p["prompt"]))[0, -1]
        diffs.append(logits[_single_token(model, " " + p["io"])] - logits[_single_token(model, " " + p["s"])])
    return torch.stack(diffs)


@torch.no_grad()
def greedy_next(model, prompt: str) -> str:
    logits = model(model.to_tokens(prompt))[0, -1]
    return model.to_string(logits.argmax())


# The tutorials' fact prompts. The stand-in never trained on these phrasings (for any fact):
# they are among `synthetic.HELDOUT_FACT_TEMPLATES`.
FACT_PROMPTS = {
    "The Eiffel Tower is in the city of": " Paris",
    "The Colosseum is in the city of": " Rome",
    "The Eiffel Tower is located in the city of": " Paris",
}


# A neutral prompt of a shape the stand-in never trained on (its neutral sentences are "I went to see
# the movie.", ...): the scorecard measures steering on held-out text too.
STEERING_PROMPT = "On Friday we went to the concert. It was"


def steering_layer(model) -> int:
    """The layer `steering_effect` uses by default: the middle of the model."""
    return model.cfg.n_layers // 2


@torch.no_grad()
def steering_effect(model, layer: int | None = None, coeff: float = 4.0) -> dict[str, float]:
    """How far adding a "loved minus hated" vector moves the next word towards positive adjectives.

    Activation addition (Turner et al., 2023) in its contrastive form (Rimsky et al., 2023): the
    vector is the difference of the residual streams at the last token of "I loved" and "I hated"
    at `layer` (default: the middle), added at every position but BOS of a neutral prompt. Adding
    it at every position, rather than at the few where the two prompts sit, lets the vector reach
    the final position whichever layer reads the mood.
    """
    layer = steering_layer(model) if layer is None else layer
    hook = f"blocks.{layer}.hook_resid_pre"
    _, cp = model.run_with_cache(model.to_tokens("I loved"), names_filter=hook)
    _, cm = model.run_with_cache(model.to_tokens("I hated"), names_filter=hook)
    vector = cp[hook][0, -1] - cm[hook][0, -1]  # d_model
    prompt = model.to_tokens(STEERING_PROMPT)
    pos_ids = torch.tensor([_single_token(model, " " + w) for w in synthetic.POSITIVE])
    neg_ids = torch.tensor(
        [
            _single_token(model, " " + w)
            for w in synthetic.NEGATIVE
            if len(model.to_tokens(" " + w, prepend_bos=False)[0]) == 1
        ]
    )

    def mood(logits: Tensor) -> float:
        lp = logits[0, -1].log_softmax(-1)
        return (torch.logsumexp(lp[pos_ids], 0) - torch.logsumexp(lp[neg_ids], 0)).item()

    def add(c: float):
        def fn(resid, hook):
            resid[:, 1:] += c * vector
            return resid

        return fn

    base = mood(model(prompt))
    up = mood(model.run_with_hooks(prompt, fwd_hooks=[(hook, add(coeff))]))
    down = mood(model.run_with_hooks(prompt, fwd_hooks=[(hook, add(-coeff))]))
    return {"base": base, "plus": up, "minus": down}


def unigram_loss(train_tokens: Int[Tensor, " n"], eval_tokens: Int[Tensor, " m"], d_vocab: int) -> float:
    """Cross-entropy of a unigram model (add-one smoothed counts over the training tokens)."""
    counts = torch.bincount(train_tokens, minlength=d_vocab).double() + 1.0
    logp = (counts / counts.sum()).log()
    return -logp[eval_tokens].mean().item()


@torch.no_grad()
def text_loss(model, tokens: Int[Tensor, " n"], seq_len: int = 128, max_windows: int = 64) -> float:
    """Mean next-token loss of `model` on consecutive windows of a token stream."""
    n_win = min(max_windows, (len(tokens) - 1) // seq_len)
    windows = tokens[: n_win * seq_len].view(n_win, seq_len)
    losses = []
    for chunk in windows.split(16):
        logits = model(chunk)
        losses.append(F.cross_entropy(logits[:, :-1].flatten(0, 1), chunk[:, 1:].flatten(), reduction="none"))
    return torch.cat(losses).mean().item()
