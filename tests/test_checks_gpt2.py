"""Each GPT-2 checker accepts the reference and rejects plausible wrong answers with the right hint."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import micourse.transformer as T
from conftest import rejects
from micourse.checks import clean_gpt2 as checks

# ------------------------------------------------------------------ LayerNorm


class LNEpsOutside(T.LayerNorm):
    def forward(self, x):
        c = x - x.mean(-1, keepdim=True)
        return c / (c.pow(2).mean(-1, keepdim=True).sqrt() + self.eps) * self.w + self.b


class LNUnbiased(T.LayerNorm):
    def forward(self, x):
        return (x - x.mean(-1, keepdim=True)) / (x.var(-1, keepdim=True) + self.eps).sqrt() * self.w + self.b


class LNNoMean(T.LayerNorm):
    def forward(self, x):
        return x / (x.pow(2).mean(-1, keepdim=True) + self.eps).sqrt() * self.w + self.b


class LNNoAffine(T.LayerNorm):
    def forward(self, x):
        c = x - x.mean(-1, keepdim=True)
        return c / (c.pow(2).mean(-1, keepdim=True) + self.eps).sqrt()


class LNWrongNames(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(cfg.d_model))
        self.bias = nn.Parameter(torch.zeros(cfg.d_model))

    def forward(self, x):
        return F.layer_norm(x, x.shape[-1:], self.weight, self.bias)


def test_layer_norm_checker():
    checks.check_layer_norm(T.LayerNorm)
    rejects(checks.check_layer_norm, LNEpsOutside, "inside the square root")
    rejects(checks.check_layer_norm, LNUnbiased, "biased variance")
    rejects(checks.check_layer_norm, LNNoMean, "subtract the mean")
    rejects(checks.check_layer_norm, LNNoAffine, "self.w")
    rejects(checks.check_layer_norm, LNWrongNames, "no parameter named 'w'")


# ------------------------------------------------------------------ embeddings


class EmbedScaled(T.Embed):
    def forward(self, tokens):
        return self.W_E[tokens] * math.sqrt(self.W_E.shape[1])


class EmbedTransposedParam(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.W_E = nn.Parameter(torch.randn(cfg.d_model, cfg.d_vocab))

    def forward(self, tokens):
        return self.W_E.T[tokens]


class EmbedWrongLayout(T.Embed):
    def forward(self, tokens):
        return self.W_E[tokens].transpose(1, 2)


def test_embed_checker():
    checks.check_embed(T.Embed)
    rejects(checks.check_embed, EmbedScaled, "sqrt(d_model)")
    rejects(checks.check_embed, EmbedTransposedParam, "W_E has shape")
    rejects(checks.check_embed, EmbedWrongLayout, "has shape", "[batch, pos, d_model]")


class PosByToken(T.PosEmbed):
    def forward(self, tokens, offset=0):
        return self.W_pos[tokens]


class PosNoBatch(T.PosEmbed):
    def forward(self, tokens, offset=0):
        return self.W_pos[: tokens.shape[1]]


class PosFromOne(T.PosEmbed):
    def forward(self, tokens, offset=0):
        return self.W_pos[1 : tokens.shape[1] + 1].expand(tokens.shape[0], -1, -1)


def test_pos_embed_checker():
    checks.check_pos_embed(T.PosEmbed)
    rejects(checks.check_pos_embed, PosByToken, "not by token id")
    rejects(checks.check_pos_embed, PosNoBatch, "repeat the position embeddings over the batch")
    rejects(checks.check_pos_embed, PosFromOne, "start at 0")


# ------------------------------------------------------------------ causal mask


def mask_with_zero(scores):
    n = scores.shape[-1]
    return scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), 0.0)


def mask_with_diagonal(scores):
    n = scores.shape[-1]
    return scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(0), float("-inf"))


def mask_the_past(scores):
    n = scores.shape[-1]
    return scores.masked_fill(torch.ones(n, n, dtype=torch.bool).tril(-1), float("-inf"))


def mask_in_place_no_return(scores):
    n = scores.shape[-1]
    scores.masked_fill_(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))


def mask_large_negative(scores):  # ARENA's convention: accepted
    n = scores.shape[-1]
    return scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), -1e5)


def test_causal_mask_checker():
    checks.check_apply_causal_mask(T.apply_causal_mask)
    checks.check_apply_causal_mask(mask_large_negative)
    rejects(checks.check_apply_causal_mask, mask_with_zero, "-inf", "holds 0")
    rejects(checks.check_apply_causal_mask, mask_with_diagonal, "diagonal")
    rejects(checks.check_apply_causal_mask, mask_the_past, "masked the past")
    rejects(checks.check_apply_causal_mask, mask_in_place_no_return, "returned None")


# ------------------------------------------------------------------ attention


def _attention_with(**kw):
    class Wrong(T.Attention):
        def forward(self, x):
            return checks._attention_variant(self, x, **kw)

    return Wrong


def test_attention_checker():
    checks.check_attention(T.Attention)
    rejects(checks.check_attention, _attention_with(scale=1.0), "sqrt(d_head)")
    rejects(checks.check_attention, _attention_with(softmax_dim=-2), "over the key axis")
    rejects(checks.check_attention, _attention_with(fill=0.0), "-inf, not 0")
    rejects(checks.check_attention, _attention_with(diagonal=0), "diagonal")
    rejects(checks.check_attention, _attention_with(b_O=False), "b_O")
    rejects(checks.check_attention, _attention_with(mask=False), "causal mask")


# ------------------------------------------------------------------ MLP


def _mlp_with(act):
    class Wrong(T.MLP):
        def forward(self, x):
            return act(x @ self.W_in + self.b_in) @ self.W_out + self.b_out

    return Wrong


class MLPNoBias(T.MLP):
    def forward(self, x):
        return T.gelu_new(x @ self.W_in + self.b_in) @ self.W_out


def test_mlp_checker():
    checks.check_mlp(T.MLP)
    rejects(checks.check_mlp, _mlp_with(F.relu), "not ReLU")
    rejects(checks.check_mlp, _mlp_with(F.gelu), "exact F.gelu")
    rejects(checks.check_mlp, _mlp_with(lambda x: x * torch.sigmoid(1.702 * x)), "sigmoid")
    rejects(checks.check_mlp, MLPNoBias, "b_out")


# ------------------------------------------------------------------ block


class BlockNoAttnResidual(T.TransformerBlock):
    def forward(self, x):
        mid = self.attn(self.ln1(x))
        return mid + self.mlp(self.ln2(mid))


class BlockNoMLPResidual(T.TransformerBlock):
    def forward(self, x):
        mid = x + self.attn(self.ln1(x))
        return self.mlp(self.ln2(mid))


class BlockParallel(T.TransformerBlock):
    def forward(self, x):
        return x + self.attn(self.ln1(x)) + self.mlp(self.ln2(x))


class BlockNormalisesResidual(T.TransformerBlock):
    def forward(self, x):
        x = self.ln1(x)
        mid = x + self.attn(x)
        return mid + self.mlp(self.ln2(mid))


class BlockWithBrokenMLP(T.TransformerBlock):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.mlp = _mlp_with(F.relu)(cfg)


def test_transformer_block_checker():
    checks.check_transformer_block(T.TransformerBlock)
    rejects(checks.check_transformer_block, BlockNoAttnResidual, "add the attention output to the residual")
    rejects(checks.check_transformer_block, BlockNoMLPResidual, "add the MLP output to the residual")
    rejects(checks.check_transformer_block, BlockParallel, "in sequence")
    rejects(checks.check_transformer_block, BlockNormalisesResidual, "residual stream itself is not normalised")
    rejects(checks.check_transformer_block, BlockWithBrokenMLP, "TransformerBlock.mlp alone")


# ------------------------------------------------------------------ unembed


class UnembedNoBias(T.Unembed):
    def forward(self, x):
        return x @ self.W_U


class UnembedSoftmax(T.Unembed):
    def forward(self, x):
        return (x @ self.W_U + self.b_U).softmax(-1)


class UnembedLogSoftmax(T.Unembed):
    def forward(self, x):
        return (x @ self.W_U + self.b_U).log_softmax(-1)


class UnembedTransposed(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.W_U = nn.Parameter(torch.zeros(cfg.d_vocab, cfg.d_model))
        self.b_U = nn.Parameter(torch.zeros(cfg.d_vocab))

    def forward(self, x):
        return x @ self.W_U.T + self.b_U


def test_unembed_checker():
    checks.check_unembed(T.Unembed)
    rejects(checks.check_unembed, UnembedNoBias, "b_U")
    rejects(checks.check_unembed, UnembedSoftmax, "not probabilities")
    rejects(checks.check_unembed, UnembedLogSoftmax, "log-probabilities")
    rejects(checks.check_unembed, UnembedTransposed, "W_U has shape")


# ------------------------------------------------------------------ full model


class ModelNoFinalLN(T.GPT2):
    def forward(self, tokens):
        resid = self.embed(tokens) + self.pos_embed(tokens)
        for block in self.blocks:
            resid = block(resid)
        return self.unembed(resid)


class ModelNoPos(T.GPT2):
    def forward(self, tokens):
        resid = self.embed(tokens)
        for block in self.blocks:
            resid = block(resid)
        return self.unembed(self.ln_final(resid))


class ModelProbs(T.GPT2):
    def forward(self, tokens):
        return super().forward(tokens).softmax(-1)


class ModelLastOnly(T.GPT2):
    def forward(self, tokens):
        return super().forward(tokens)[:, -1]


class ModelBrokenBlock(T.GPT2):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.blocks = nn.ModuleList([BlockParallel(cfg) for _ in range(cfg.n_layers)])


def test_gpt2_checker():
    checks.check_gpt2(T.GPT2)
    rejects(checks.check_gpt2, ModelNoFinalLN, "ln_final")
    rejects(checks.check_gpt2, ModelNoPos, "position embeddings")
    rejects(checks.check_gpt2, ModelProbs, "not probabilities")
    rejects(checks.check_gpt2, ModelLastOnly, "has shape")
    rejects(checks.check_gpt2, ModelBrokenBlock, "blocks[0]")


# ------------------------------------------------------------------ generic misuse


def test_stub_raises_not_implemented():
    class Stub(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            raise NotImplementedError("write me")

    with pytest.raises(NotImplementedError):
        checks.check_layer_norm(Stub)


def test_instance_instead_of_class():
    rejects(checks.check_mlp, T.MLP(checks.CHECK_CFG), "not an instance")
