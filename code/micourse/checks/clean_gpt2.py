"""Checkers of the page "A clean GPT-2": the pieces of GPT-2 a learner writes.

Each checker hands the learner's class to `core.check_module_against`: it is built with a
small `Config`, given the reference weights by parameter name, run on random input and
compared with `micourse.transformer`. When the output is wrong, it also runs the usual mistakes (epsilon
outside the square root, a mask filled with 0, a missing residual connection, ...) and names
the one that reproduces the learner's output.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from micourse.checks.core import CheckFailure, call, check_module_against, passed
from micourse.transformer import GPT2, Config, gelu_new

# Small enough to run in milliseconds; every axis has a different length, so a transposed or
# mis-broadcast tensor shows up as a shape error rather than a silent wrong value.
CHECK_CFG = Config(d_model=32, n_layers=2, n_heads=4, d_head=8, d_mlp=64, d_vocab=97, n_ctx=24, init_range=0.2)
BATCH, POS = 2, 7
ATOL, RTOL = 1e-4, 1e-4


def reference_model(cfg: Config = CHECK_CFG, seed: int = 0) -> GPT2:
    """A reference GPT-2 with random weights in which every parameter matters.

    LayerNorm weights are not all ones and biases are not zero, so forgetting any of them
    changes the output; weights are large enough that attention is neither uniform nor one-hot.
    """
    model = GPT2(cfg)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "w":  # LayerNorm scale
                p.copy_(1.0 + 0.3 * noise)
            elif leaf.startswith("b"):
                p.copy_(0.3 * noise)
            else:
                p.copy_(cfg.init_range * noise * (3.0 if leaf in ("W_E", "W_pos") else 1.0))
    return model.eval()


def _tokens(cfg: Config, batch: int = BATCH, pos: int = POS, seed: int = 1, high: int | None = None) -> Tensor:
    return torch.randint(0, high or cfg.d_vocab, (batch, pos), generator=torch.Generator().manual_seed(seed))


def _resid(cfg: Config, seed: int = 2, batch: int = BATCH, pos: int = POS) -> Tensor:
    return torch.randn(batch, pos, cfg.d_model, generator=torch.Generator().manual_seed(seed))


def _check(learner_cls, ref, x, what: str, cfg: Config, mistakes, *, label: str | None = None, **kwargs) -> None:
    """`check_module_against` at this page's tolerances, then the success line."""
    check_module_against(learner_cls, ref, x, what=what, cfg=cfg, mistakes=mistakes, atol=ATOL, rtol=RTOL, **kwargs)
    passed(label or what)


# ---------------------------------------------------------------- the checkers


def check_layer_norm(learner_cls: type, cfg: Config = CHECK_CFG) -> None:
    ref = reference_model(cfg).blocks[0].ln1
    # Rows of very different scales: eps only matters for the small ones.
    scales = torch.tensor([0.004, 0.02, 0.1, 1.0, 3.0, 10.0, 50.0])[:POS]
    x = _resid(cfg) * scales[None, :, None] + 2.0
    eps, w, b = ref.eps, ref.w.detach(), ref.b.detach()
    centred = x - x.mean(-1, keepdim=True)
    variants = [
        (
            lambda: centred / (centred.pow(2).mean(-1, keepdim=True).sqrt() + eps) * w + b,
            "epsilon belongs inside the square root: (x - mean) / sqrt(var + eps), not / (std + eps).",
        ),
        (
            lambda: centred / (x.var(-1, keepdim=True, unbiased=True) + eps).sqrt() * w + b,
            "use the biased variance (divide by d_model): x.var(dim=-1, unbiased=False), or mean of squares.",
        ),
        (
            lambda: centred / centred.pow(2).mean(-1, keepdim=True).sqrt() * w + b,
            "you left out epsilon; add it to the variance before the square root.",
        ),
        (
            lambda: x / (x.pow(2).mean(-1, keepdim=True) + eps).sqrt() * w + b,
            "subtract the mean first: LayerNorm centres each vector (this is RMSNorm).",
        ),
        (
            lambda: centred / (centred.pow(2).mean(-1, keepdim=True) + eps).sqrt(),
            "scale by self.w and shift by self.b after normalising.",
        ),
        (
            lambda: F.layer_norm(x.transpose(-1, -2), (x.shape[-2],), eps=eps).transpose(-1, -2) * w + b,
            "normalise over the last axis (d_model), not over positions.",
        ),
    ]
    hint = "normalise each position's vector over d_model: subtract the mean, divide by sqrt(var + eps)."
    _check(learner_cls, ref, x, "LayerNorm", cfg, variants, hint=hint)


def check_embed(learner_cls: type, cfg: Config = CHECK_CFG) -> None:
    ref = reference_model(cfg).embed
    tokens = _tokens(cfg)
    W_E = ref.W_E.detach()
    variants = [
        (
            lambda: W_E[tokens] * math.sqrt(cfg.d_model),
            "GPT-2 does not multiply embeddings by sqrt(d_model) (the original Transformer did).",
        ),
        (lambda: W_E[tokens - 1], "token id t picks row t of W_E, not row t - 1."),
    ]
    hint = "look up one row of W_E per token: W_E[tokens] has shape [batch, pos, d_model]."
    _check(learner_cls, ref, tokens, "Embed", cfg, variants, hint=hint)


def check_pos_embed(learner_cls: type, cfg: Config = CHECK_CFG) -> None:
    ref = reference_model(cfg).pos_embed
    tokens = _tokens(cfg, high=cfg.n_ctx)  # ids below n_ctx, so indexing W_pos by token id runs and can be named
    W_pos = ref.W_pos.detach()
    pos = tokens.shape[1]
    variants = [
        (lambda: W_pos[tokens], "index W_pos by position (0, 1, 2, ...), not by token id."),
        (lambda: W_pos[1 : pos + 1].expand(tokens.shape[0], -1, -1), "positions start at 0, not 1."),
        (
            lambda: W_pos[:pos],
            "repeat the position embeddings over the batch: shape [batch, pos, d_model] (einops.repeat or .expand).",
        ),
        (lambda: W_pos.expand(tokens.shape[0], -1, -1), "take only the first `pos` rows of W_pos: W_pos[:seq_len]."),
    ]
    hint = "the embedding of position i is row i of W_pos; every sequence in the batch gets the same ones."
    _check(learner_cls, ref, tokens, "PosEmbed", cfg, variants, hint=hint)


def check_apply_causal_mask(fn: Callable[[Tensor], Tensor]) -> None:
    gen = torch.Generator().manual_seed(3)
    for n in (5, 1):
        scores = torch.randn(2, 3, n, n, generator=gen)
        actual = call(fn, scores.clone(), what="apply_causal_mask", no_grad=True)
        if actual is None:
            raise CheckFailure("apply_causal_mask returned None: return the masked scores.")
        if not isinstance(actual, Tensor) or actual.shape != scores.shape:
            raise CheckFailure(
                f"apply_causal_mask should return a tensor of the input's shape {tuple(scores.shape)}, "
                f"got {getattr(actual, 'shape', type(actual).__name__)}."
            )
        q_idx = torch.arange(n)[:, None]
        k_idx = torch.arange(n)[None, :]
        future = (k_idx > q_idx).expand_as(scores)
        kept_ok = torch.isclose(actual, scores)
        masked_ok = actual <= -1e4  # -inf, or a large negative stand-in such as -1e5
        changed = ~kept_ok & ~future
        if bool(changed.any()):
            past = (k_idx < q_idx).expand_as(scores)
            if bool((masked_ok & past).any()) and not bool(masked_ok[future].any()):
                raise CheckFailure("You masked the past and kept the future: query q may see keys k <= q only.")
            idx = torch.nonzero(changed)[0].tolist()
            q, k = idx[-2], idx[-1]
            if k == q:
                raise CheckFailure(
                    f"Query {q} cannot see key {k}, itself: the mask must not include the diagonal. "
                    "A token attends to itself and to earlier tokens (torch.triu(..., diagonal=1))."
                )
            raise CheckFailure(
                f"Score at [query {q}, key {k}] (key not in the future) changed from {scores[tuple(idx)].item():.4g} "
                f"to {actual[tuple(idx)].item():.4g}; the mask must leave keys k <= q untouched."
            )
        if bool((~masked_ok & future).any()):
            idx = torch.nonzero(~masked_ok & future)[0].tolist()
            value = actual[tuple(idx)].item()
            if value == 0:
                raise CheckFailure(
                    f"Future position [query {idx[-2]}, key {idx[-1]}] holds 0: masking with 0 still gives it "
                    "weight after the softmax. Fill future scores with -inf (float('-inf'))."
                )
            raise CheckFailure(
                f"Future position [query {idx[-2]}, key {idx[-1]}] holds {value:.4g}; fill scores of keys after the "
                "query with -inf, so that the softmax gives them weight 0."
            )
    passed("apply_causal_mask")


def _attention_variant(
    attn,
    x: Tensor,
    *,
    scale: float | None = None,
    softmax_dim: int = -1,
    fill: float = float("-inf"),
    diagonal: int = 1,
    mask: bool = True,
    b_O: bool = True,
    qkv_bias: bool = True,
    transpose_pattern: bool = False,
) -> Tensor:
    """The reference attention, with one knob per classic mistake."""
    bias = (lambda b: b) if qkv_bias else (lambda b: torch.zeros_like(b))
    q = torch.einsum("bpd,hde->bphe", x, attn.W_Q) + bias(attn.b_Q)
    k = torch.einsum("bpd,hde->bphe", x, attn.W_K) + bias(attn.b_K)
    v = torch.einsum("bpd,hde->bphe", x, attn.W_V) + bias(attn.b_V)
    scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / (math.sqrt(attn.cfg.d_head) if scale is None else scale)
    if mask:
        n = scores.shape[-1]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(diagonal), fill)
    pattern = scores.softmax(dim=softmax_dim)
    if transpose_pattern:
        pattern = pattern.transpose(-1, -2)
    z = torch.einsum("bhqk,bkhe->bqhe", pattern, v)
    return torch.einsum("bqhe,hed->bqd", z, attn.W_O) + (attn.b_O if b_O else 0)


_ATTENTION_MISTAKES = [
    (dict(scale=1.0), "divide the attention scores by sqrt(d_head) before the softmax."),
    (dict(scale=float(CHECK_CFG.d_head)), "divide the scores by sqrt(d_head), not by d_head."),
    (dict(scale=math.sqrt(CHECK_CFG.d_model)), "divide the scores by sqrt(d_head), not sqrt(d_model)."),
    (dict(softmax_dim=-2), "take the softmax over the key axis (the last one): each query's weights must sum to 1."),
    (dict(fill=0.0), "fill masked scores with -inf, not 0: a score of 0 still gets weight after the softmax."),
    (dict(diagonal=0), "the mask must not include the diagonal: each token may attend to itself."),
    (dict(mask=False), "apply the causal mask: a token must not see later tokens."),
    (dict(b_O=False), "add the output bias b_O."),
    (dict(qkv_bias=False), "add the biases b_Q, b_K and b_V to the queries, keys and values."),
    (
        dict(transpose_pattern=True),
        "mix the values with pattern[query, key] summed over keys, not over queries (check your einsum indices).",
    ),
]


def check_attention(learner_cls: type, cfg: Config = CHECK_CFG) -> None:
    ref = reference_model(cfg).blocks[0].attn
    x = _resid(cfg)
    mistakes = [dict(kw) for kw, _ in _ATTENTION_MISTAKES]
    for kw in mistakes:  # the scale mistakes must use this config's sizes
        if kw.get("scale") == float(CHECK_CFG.d_head):
            kw["scale"] = float(cfg.d_head)
        elif kw.get("scale") == math.sqrt(CHECK_CFG.d_model):
            kw["scale"] = math.sqrt(cfg.d_model)
    variants = [
        (lambda kw=kw: _attention_variant(ref, x, **kw), hint) for kw, (_, hint) in zip(mistakes, _ATTENTION_MISTAKES)
    ]
    hint = "compare q, k, v, scores and pattern step by step with the shapes in the comments."
    _check(learner_cls, ref, x, "Attention", cfg, variants, hint=hint)


def check_mlp(learner_cls: type, cfg: Config = CHECK_CFG) -> None:
    ref = reference_model(cfg).blocks[0].mlp
    x = _resid(cfg) * 1.5
    W_in, b_in, W_out, b_out = (ref.W_in.detach(), ref.b_in.detach(), ref.W_out.detach(), ref.b_out.detach())
    pre = x @ W_in + b_in
    variants = [
        (lambda: F.relu(pre) @ W_out + b_out, "GPT-2 uses GELU (its tanh approximation, gelu_new), not ReLU."),
        (
            lambda: F.gelu(pre) @ W_out + b_out,
            "GPT-2 uses the tanh approximation of GELU (gelu_new), not PyTorch's exact F.gelu.",
        ),
        (
            lambda: pre * torch.sigmoid(1.702 * pre) @ W_out + b_out,
            "use the tanh approximation of GELU (gelu_new), not the sigmoid one.",
        ),
        (lambda: gelu_new(x @ W_in) @ W_out + b_out, "add b_in before the activation."),
        (lambda: gelu_new(pre) @ W_out, "add the output bias b_out."),
        (
            lambda: gelu_new(pre @ W_out + b_out),
            "apply the activation between the two linear maps, not after the second.",
        ),
    ]
    hint = "MLP(x) = gelu_new(x @ W_in + b_in) @ W_out + b_out."
    _check(learner_cls, ref, x, "MLP", cfg, variants, hint=hint)


def check_transformer_block(learner_cls: type, cfg: Config = CHECK_CFG) -> None:
    ref = reference_model(cfg).blocks[0]
    x = _resid(cfg)
    ln1, attn, ln2, mlp = ref.ln1, ref.attn, ref.ln2, ref.mlp
    with torch.no_grad():
        mid = x + attn(ln1(x))
    variants = [
        (
            lambda: attn(ln1(x)) + mlp(ln2(attn(ln1(x)))),
            "add the attention output to the residual stream: resid_mid = resid_pre + attn(ln1(resid_pre)).",
        ),
        (
            lambda: attn(ln1(x)) + mlp(ln2(x + attn(ln1(x)))),
            "add the attention output to the residual stream: resid_mid = resid_pre + attn(ln1(resid_pre)).",
        ),
        (lambda: mlp(ln2(mid)), "add the MLP output to the residual: resid_post = resid_mid + mlp(ln2(resid_mid))."),
        (
            lambda: x + attn(ln1(x)) + mlp(ln2(x)),
            "the MLP reads resid_mid (after attention), not resid_pre: the sublayers run in sequence.",
        ),
        (
            lambda: ln2(ln1(x + attn(x)) + mlp(ln1(x + attn(x)))),
            "GPT-2 is pre-LN: normalise each sublayer's input, not the residual stream after adding.",
        ),
        (
            lambda: (lambda h: h + mlp(ln2(h)))(ln1(x) + attn(ln1(x))),
            "the residual stream itself is not normalised: resid_pre + attn(ln1(resid_pre)).",
        ),
        (lambda: mid + mlp(ln1(mid)), "use ln2 (not ln1) before the MLP."),
    ]
    hint = "resid_mid = resid_pre + attn(ln1(resid_pre)); resid_post = resid_mid + mlp(ln2(resid_mid))."
    _check(
        learner_cls,
        ref,
        x,
        "TransformerBlock",
        cfg,
        variants,
        parts=lambda: {"ln1": x, "attn": ln1(x), "ln2": mid, "mlp": ln2(mid)},
        hint=hint,
    )


def check_unembed(learner_cls: type, cfg: Config = CHECK_CFG) -> None:
    ref = reference_model(cfg).unembed
    x = _resid(cfg)
    W_U, b_U = ref.W_U.detach(), ref.b_U.detach()
    variants = [
        (lambda: x @ W_U, "add the bias b_U (GPT-2's is zero, but TransformerLens models may use it)."),
        (lambda: (x @ W_U + b_U).softmax(-1), "return logits, not probabilities: no softmax here."),
        (lambda: (x @ W_U + b_U).log_softmax(-1), "return raw logits, not log-probabilities: no log_softmax here."),
        (lambda: x @ W_U - b_U, "add b_U, don't subtract it."),
    ]
    hint = "logits = normalized_resid_final @ W_U + b_U."
    _check(learner_cls, ref, x, "Unembed", cfg, variants, hint=hint)


def check_gpt2(learner_cls: type, cfg: Config = CHECK_CFG) -> None:
    """The whole model: tokens in, logits out, with the reference's weights."""
    ref = reference_model(cfg)
    tokens = _tokens(cfg, pos=9)
    with torch.no_grad():
        emb, pos = ref.embed(tokens), ref.pos_embed(tokens)
        block_inputs = [emb + pos]
        for block in ref.blocks:
            block_inputs.append(block(block_inputs[-1]))
    final = block_inputs.pop()

    def body(resid: Tensor) -> Tensor:
        for block in ref.blocks:
            resid = block(resid)
        return resid

    def parts() -> dict[str, Tensor]:
        blocks = {f"blocks.{i}": resid for i, resid in enumerate(block_inputs)}
        return {"embed": tokens, "pos_embed": tokens, "ln_final": final, "unembed": ref.ln_final(final), **blocks}

    unembed = lambda r: ref.unembed(ref.ln_final(r))  # noqa: E731
    variants = [
        (lambda: ref.unembed(final), "apply ln_final to the residual stream before unembedding."),
        (lambda: unembed(body(emb)), "add the position embeddings: resid = embed(tokens) + pos_embed(tokens)."),
        (lambda: unembed(final).softmax(-1), "return logits, not probabilities."),
        (lambda: unembed(final).log_softmax(-1), "return logits, not log-probabilities."),
        (lambda: ref.ln_final(final) @ ref.unembed.W_U, "add the unembedding bias b_U."),
        (
            lambda: unembed(body(emb + pos) if len(ref.blocks) == 1 else ref.blocks[0](emb + pos)),
            "run the residual stream through EVERY block, each taking the previous block's output.",
        ),
    ]
    hint = "embed + pos_embed, then each block in turn, then ln_final, then unembed."
    _check(learner_cls, ref, tokens, "the model", cfg, variants, label="GPT-2", parts=parts, hint=hint)


__all__ = [
    "CHECK_CFG",
    "reference_model",
    "check_layer_norm",
    "check_embed",
    "check_pos_embed",
    "check_apply_causal_mask",
    "check_attention",
    "check_mlp",
    "check_transformer_block",
    "check_unembed",
    "check_gpt2",
]
