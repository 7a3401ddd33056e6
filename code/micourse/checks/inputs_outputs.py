"""Checkers of the page "Inputs and outputs": from logits to next tokens, and the generation loop."""

from __future__ import annotations

from collections.abc import Callable

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from micourse.checks.core import CheckFailure, assert_close, call, like, passed
from micourse.sampling import greedy_generate, next_token_probs


def check_next_token_probs(fn: Callable[[Tensor], Tensor]) -> None:
    """`fn(logits)` with logits `(batch, pos, d_vocab)` returns the next-token distribution `(batch, d_vocab)`."""
    g = torch.Generator().manual_seed(0)
    for shape in [(1, 5, 11), (3, 4, 20), (2, 1, 7)]:
        logits = torch.randn(*shape, generator=g) * 2
        out = call(fn, logits.clone(), what="next_token_probs")
        diag = [
            like(
                logits[:, 0].softmax(-1),
                "you used the first position; the prediction for the next token sits at the last position, logits[:, -1].",
            ),
            like(logits[:, -1], "you returned the logits themselves; apply softmax to turn them into probabilities."),
            like(logits[:, -1].log_softmax(-1), "you returned log-probabilities (log_softmax); use softmax."),
            like(
                logits.softmax(1)[:, -1],
                "you took the softmax over the position axis; it must run over the vocabulary (dim=-1).",
            ),
        ]
        assert_close(
            out,
            next_token_probs(logits),
            what=f"next_token_probs for logits of shape {shape}",
            diagnoses=diag,
            hint="take the last position, logits[:, -1, :], and apply softmax over the vocabulary axis.",
        )
    passed("next_token_probs")


class _ToyLM(nn.Module):
    """A tiny causal language model whose prediction depends on the last token and on the
    whole prefix, so a loop that reads the wrong position or forgets earlier tokens goes wrong."""

    def __init__(self, d_vocab: int = 23, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.d_vocab = d_vocab
        self.last = torch.randn(d_vocab, d_vocab, generator=g) * 3
        self.hist = torch.randn(d_vocab, d_vocab, generator=g)
        self.calls = 0

    def forward(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_vocab"]:
        if not isinstance(tokens, Tensor) or tokens.ndim != 2:
            raise ValueError(
                f"the model takes tokens of shape (batch, pos), got {getattr(tokens, 'shape', type(tokens).__name__)}"
            )
        self.calls += 1
        prefix = self.hist[tokens].cumsum(dim=1) / torch.arange(1, tokens.shape[1] + 1)[None, :, None]
        return self.last[tokens] + prefix


def check_greedy_generate(fn: Callable[[nn.Module, Tensor, int], Tensor]) -> None:
    """`fn(model, tokens, max_new_tokens)` appends `max_new_tokens` greedy tokens to `tokens` `(batch, pos)`."""
    model = _ToyLM()
    for prompt, n_new in [([[3, 5, 7]], 6), ([[1], [2]], 4), ([[0, 0, 9, 4]], 1), ([[8, 2]], 0)]:
        tokens = torch.tensor(prompt)
        expected = greedy_generate(model, tokens, n_new)
        out = call(fn, model, tokens.clone(), n_new, what="greedy_generate", no_grad=True)
        where = f"greedy_generate(model, tokens={prompt}, max_new_tokens={n_new})"
        if out is None:
            raise CheckFailure(f"{where} returned None: return the extended tokens.")
        if isinstance(out, Tensor) and out.shape == (tokens.shape[0], n_new) and n_new:
            raise CheckFailure(
                f"{where} returned only the new tokens, shape {tuple(out.shape)}; return the prompt followed by them, shape {tuple(expected.shape)}."
            )
        if (
            isinstance(out, Tensor)
            and out.ndim == 2
            and out.shape[0] == tokens.shape[0]
            and out.shape[1] != expected.shape[1]
        ):
            raise CheckFailure(
                f"{where} returned {out.shape[1]} tokens per row; expected {expected.shape[1]} (the {tokens.shape[1]} prompt tokens plus {n_new} new ones). Check how many times your loop runs."
            )
        first_pos = tokens
        for _ in range(n_new):
            first_pos = torch.cat([first_pos, model(first_pos)[:, 0].argmax(-1, keepdim=True)], dim=1)
        no_append = (
            torch.cat([tokens, model(tokens)[:, -1].argmax(-1, keepdim=True).expand(-1, n_new)], dim=1)
            if n_new
            else tokens
        )
        diag = [
            like(
                first_pos,
                "you read the prediction at the first position; the next token's logits are at the last position, logits[:, -1].",
            ),
            like(
                no_append,
                "every new token is the same prediction from the prompt: feed the extended sequence back into the model on each step.",
            ),
        ]
        assert_close(
            out,
            expected,
            what=where,
            diagnoses=diag,
            hint="on each step: logits = model(tokens); next = logits[:, -1].argmax(-1, keepdim=True); tokens = torch.cat([tokens, next], dim=1).",
        )
    passed("greedy_generate")
