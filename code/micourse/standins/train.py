"""Retrain a stand-in from scratch: `python -m micourse.standins.train NAME [--steps N] [--out PATH]`.

Deterministic: the same command gives bit-identical weights on any x86-64 machine with AVX2 from
the same CPU maker (same torch, one thread, the recipe's default): run as a command, it restarts
itself with the CPU kernels pinned (`micourse.standins.kernels`; without that, an AVX-512 machine
and an AVX2 one train other weights). The committed weights came from AMD CPUs; MKL computes
differently on Intel ones, which train other weights of the same recipe. With two threads it runs about twice as fast,
but PyTorch's multi-threaded CPU kernels are not bit-reproducible: two such runs of
gpt2-small drifted apart by ~1e-6 within 400 steps and ended with held-out losses 4.383 and
4.384; both met every bar the tests hold the stand-in to. The gpt2-small recipe's distillation
phases (`DISTILL_PHASE`) do run on two threads, with `torch.use_deterministic_algorithms`: with it,
two 2-thread runs gave the same bits (session 31), and without the second thread the whole command
would take more than two hours on a 2-core machine. Prints metrics as it goes and writes
code/micourse/weights/NAME.safetensors (unless --out is given) with the metrics in its metadata;
for gpt2-small also the held-out scorecard (`micourse.standins.scorecard`) of the saved weights.

The recorded training times are upper bounds: the machine was shared with other jobs. `main`
tells malloc to keep freed memory, which makes a step much faster on some machines without
changing a result (why and by how much: `micourse.standins.allocator`).

How the gpt2-small recipe was found, with every run tried, its held-out scores and the training
speed on each machine: docs/standin-training-log.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import inspect
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F

from micourse import registry
from micourse.local_models import load_local
from micourse.standins import kernels, metrics, synthetic
from micourse.standins.allocator import keep_freed_memory
from micourse.standins.name_pool import CENSUS_NAMES
from micourse.standins.weights import save_standin
from micourse.tokenizer import GPT2_EOS_ID
from micourse.training import RestrictedVocabLoss, TrainingConfig, train


def _fresh_model(name: str, seed: int):
    from transformer_lens import HookedTransformer, HookedTransformerConfig
    from transformers import AutoTokenizer

    from micourse.tokenizer import tokenizer_dir

    cfg = HookedTransformerConfig(**registry.get(name).cfg, seed=seed, init_weights=True, device="cpu")
    return HookedTransformer(cfg, tokenizer=AutoTokenizer.from_pretrained(str(tokenizer_dir())), move_to_device=False)


# ---------------------------------------------------------------- attn-only-2l: induction heads
def induction_batches(
    batch: int, seq_len: int, seed: int, low: int = 1000, high: int = 50000
) -> Iterator[torch.Tensor]:
    """Sequences of BOS + a random block of 8-48 tokens repeated to fill `seq_len`."""
    g = torch.Generator().manual_seed(seed)
    while True:
        rows = []
        for _ in range(batch):
            period = int(torch.randint(8, 49, (1,), generator=g))
            block = torch.randint(low, high, (period,), generator=g)
            reps = (seq_len - 1) // period + 1
            rows.append(torch.cat([torch.tensor([GPT2_EOS_ID]), block.repeat(reps)[: seq_len - 1]]))
        yield torch.stack(rows)


class InBatchTiedLoss:
    """Next-token loss against the tied embeddings of the tokens present in the batch.

    Random tokens come from 49,000 ids; scoring only the few thousand in a batch (a sampled
    softmax) keeps a step cheap while every id's embedding still gets trained.
    """

    def __init__(self, d_vocab: int):
        self.d_vocab = d_vocab

    def __call__(self, model, tokens):
        return RestrictedVocabLoss(tokens.flatten(), self.d_vocab, tied=True)(model, tokens)


def train_attn_only(steps: int, seed: int, seq_len: int = 128):
    model = _fresh_model("attn-only-2l", seed)
    cfg = TrainingConfig(
        steps=steps,
        lr=1e-3,
        warmup_steps=min(50, steps),
        min_lr_ratio=0.3,
        weight_decay=0.01,
        eval_every=100,
        seed=seed,
    )

    def evaluate(m):
        m.unembed.W_U.data = m.embed.W_E.data.T.clone()  # tie for evaluation with the full vocabulary
        m.unembed.b_U.data.zero_()
        ind = metrics.induction_scores(m)
        first, second = metrics.repeated_halves_loss(m)
        return {
            "induction_max": ind[1].max().item(),
            "prev_max": metrics.previous_token_scores(m)[0].max().item(),
            "loss_first_half": first,
            "loss_repeat": second,
        }

    def log(step, loss, hist):
        if (step + 1) % 25 == 0:
            extra = json.dumps(hist.evals[-1]) if hist.eval_steps and hist.eval_steps[-1] == step else ""
            print(f"step {step + 1:5d}  loss {loss:.3f}  {extra}", flush=True)

    hist = train(
        model,
        induction_batches(32, seq_len, seed),
        cfg,
        loss_fn=InBatchTiedLoss(model.cfg.d_vocab),
        evaluate=evaluate,
        on_step=log,
    )
    model.unembed.W_U.data = model.embed.W_E.data.T.clone()
    model.unembed.b_U.data.zero_()
    return model, hist, None, {"tied": True, "data": "repeated random tokens (ids 1000-49999, periods 8-48, BOS first)"}


# ---------------------------------------------------------------- gpt2-small: text, copying, facts, IOI, sentiment
def synthetic_stream(
    n_docs: int,
    seed: int,
    io_weight: float = 5.0,
    fillers: synthetic.IOIFillers | None = None,
    ioi_names: tuple[str, ...] = synthetic.IOI_NAMES,
    fact_weight: float = 1.0,
    name_starts: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids of `n_docs` synthetic documents (each after an end-of-text token) and per-token loss weights."""
    from micourse.tokenizer import gpt2_tokenizer

    rng = random.Random(seed)
    tok = gpt2_tokenizer()
    docs = [
        synthetic.synthetic_document(rng, io_weight, fillers, ioi_names, fact_weight, name_starts)
        for _ in range(n_docs)
    ]
    flat = [text for doc in docs for text, _ in doc]
    encoded = iter(tok.backend_tokenizer.encode_batch(flat))
    ids: list[int] = []
    weights: list[float] = []
    for doc in docs:
        ids.append(GPT2_EOS_ID)
        weights.append(1.0)
        for _, w in doc:
            piece = next(encoded).ids
            ids.extend(piece)
            weights.extend([w] + [1.0] * (len(piece) - 1))
    return torch.tensor(ids, dtype=torch.long), torch.tensor(weights)


def _windows(stream: torch.Tensor, weights: torch.Tensor | None, n: int, seq_len: int, g: torch.Generator):
    starts = torch.randint(0, len(stream) - seq_len, (n,), generator=g).tolist()
    if n == 0:
        return torch.zeros(0, seq_len, dtype=torch.long), torch.ones(0, seq_len)
    toks = torch.stack([stream[s : s + seq_len] for s in starts])
    w = torch.ones(n, seq_len) if weights is None else torch.stack([weights[s : s + seq_len] for s in starts])
    return toks, w


def _repeat_span(rows: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Copy a span of 8-40 tokens of each row to a later place in the row: text that repeats itself."""
    rows = rows.clone()
    seq_len = rows.shape[1]
    for row in rows:
        length = int(torch.randint(8, 41, (1,), generator=g))
        src = int(torch.randint(0, seq_len // 2 - length, (1,), generator=g))
        dst = int(torch.randint(src + length, seq_len - length + 1, (1,), generator=g))
        row[dst : dst + length] = row[src : src + length].clone()
    return rows


def _random_repeats(pool: torch.Tensor, n: int, seq_len: int, g: torch.Generator) -> torch.Tensor:
    """BOS + a random block of 8-48 known tokens repeated to fill the row (as for attn-only-2l)."""
    rows = []
    for _ in range(n):
        period = int(torch.randint(8, 49, (1,), generator=g))
        block = pool[torch.randint(0, len(pool), (period,), generator=g)]
        reps = (seq_len - 1) // period + 1
        rows.append(torch.cat([torch.tensor([GPT2_EOS_ID]), block.repeat(reps)[: seq_len - 1]]))
    return torch.stack(rows)


# rows of each kind in a batch of 16: (random repeats, KJV with a repeated span, KJV, synthetic)
MIX = (3, 1, 3, 9)


def batch_mix(repeat_rows: int = MIX[0]) -> tuple[int, int, int, int]:
    """`MIX` with `repeat_rows` rows of repeated random tokens, traded with the plain-text rows (16 a batch)."""
    if not 0 < repeat_rows <= MIX[0] + MIX[2]:
        raise ValueError(f"repeat_rows trades rows with the plain text: 1 to {MIX[0] + MIX[2]}, not {repeat_rows}")
    return (repeat_rows, MIX[1], MIX[0] + MIX[2] - repeat_rows, MIX[3])


class LateStream(NamedTuple):
    """A second synthetic stream and the step from which it replaces the first."""

    tokens: torch.Tensor
    weights: torch.Tensor
    from_step: int


def gpt2_batches(
    kjv,
    synth,
    synth_w,
    pool,
    seq_len: int,
    seed: int,
    mix: tuple[int, int, int, int] = MIX,
    late: LateStream | None = None,
):
    """Batches of the four kinds of rows in `mix`; from `late.from_step` on, the synthetic rows come from
    `late`'s stream (a curriculum: new IOI shapes once the circuit has formed).
    """
    g = torch.Generator().manual_seed(seed)
    n_rand, n_span, n_kjv, n_syn = mix
    step = 0
    while True:
        if late is not None and step == late.from_step:
            synth, synth_w = late.tokens, late.weights
        step += 1
        parts = [
            (_random_repeats(pool, n_rand, seq_len, g), torch.ones(n_rand, seq_len)),
            (_repeat_span(_windows(kjv, None, n_span, seq_len, g)[0], g), torch.ones(n_span, seq_len)),
            _windows(kjv, None, n_kjv, seq_len, g),
            _windows(synth, synth_w, n_syn, seq_len, g),
        ]
        yield torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def warm_start_from_attn_only(model, seen_mask: torch.Tensor) -> None:
    """Start gpt2-small's first two attention layers from the committed attn-only-2l stand-in.

    Trained from scratch on a mix of text and copying rows, the 4-layer model never formed an
    induction head within 2500 steps (best score 0.03; pure copying rows reached only 0.06 after
    400 steps). attn-only-2l has the same width and head shape and a clean induction circuit
    (previous-token head in layer 0, induction head in layer 1), so the recipe copies its
    embeddings, positions, LayerNorms and attention weights into blocks 0 and 1. Those blocks'
    MLPs start with zero output weights: random MLP outputs in between the two layers hid the
    circuit (induction score 0.05 instead of 0.96 at step 0). Training then keeps the circuit
    because copying rows keep rewarding it.
    """
    from micourse.standins.weights import load_state

    src = load_state(registry.get("attn-only-2l").weights_path, model.cfg.d_vocab)
    own = model.state_dict()
    with torch.no_grad():
        for key, value in src.items():
            copy = key in ("embed.W_E", "pos_embed.W_pos") or (
                key.startswith(("blocks.0.", "blocks.1.")) and (".attn." in key or ".ln1." in key)
            )
            if not copy:
                continue
            own[key].copy_(value.to(own[key].dtype))
        for block in model.blocks[:2]:
            block.mlp.W_out.zero_()
            block.mlp.b_out.zero_()
        model.embed.W_E[~seen_mask] = 0.0


class WeightedTiedLoss(RestrictedVocabLoss):
    """Tied, restricted-vocabulary next-token loss with a weight per target token."""

    def __call__(self, model, batch):
        tokens, weights = batch
        targets = self.index[tokens[:, 1:]]
        logits = self.logits(model, tokens)[:, :-1]
        ce = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
        w = weights[:, 1:].flatten()
        return (ce * w).sum() / w.sum()


def name_token_ids(names: tuple[str, ...]) -> dict[int, str]:
    """Token id -> name, for each name's single-token spellings (" Mary" and, at a text's start, "Mary")."""
    from micourse.tokenizer import gpt2_tokenizer

    tok = gpt2_tokenizer()
    out: dict[int, str] = {}
    for name in names:
        for spelling in (" " + name, name):
            ids = tok.encode(spelling)
            if len(ids) == 1:
                out[ids[0]] = name
    return out


class IOISite(NamedTuple):
    """Where one training IOI sentence's names are, in a batch row."""

    row: int
    query: int  # the token before the IO ("... gave a ring to")
    subject: list[int]  # the subject's positions (S1, S2)
    io: list[int]  # the IO's earlier positions (IO1)


def ioi_sites(tokens: torch.Tensor, weights: torch.Tensor, io_weight: float, names: dict[int, str]) -> list[IOISite]:
    """The `IOISite` of each training IOI sentence in a batch.

    A sentence's IO is the token with the loss weight `io_weight` (the only weight of that size in
    the synthetic rows); the query is the token before it, and the subject is the other name that
    occurs at least twice between the previous IO (or the document's start) and the query: the
    training sentences name only the two people. (Twice: the first token of a name's unspaced
    spelling can be another name, "Frank" of "Franklin".) Sentences whose first mention the window
    cut off are left out.
    """
    out = []
    for row, (toks, w) in enumerate(zip(tokens.tolist(), weights.tolist())):
        start = 0
        for t in range(1, len(toks)):
            if toks[t - 1] == GPT2_EOS_ID:
                start = t
            if w[t] != io_weight or toks[t] not in names:
                continue
            io = names[toks[t]]
            found = [p for p in range(start, t - 1) if toks[p] in names and names[toks[p]] != io]
            count = Counter(names[toks[p]] for p in found)
            subj = [p for p in found if count[names[toks[p]]] >= 2]
            io_at = [p for p in range(start, t - 1) if names.get(toks[p]) == io]
            if subj and io_at:
                out.append(IOISite(row, t - 1, subj, io_at))
            start = t + 1
    return out


class KnockoutDistillLoss(WeightedTiedLoss):
    """Distillation from a teacher (the phase's starting weights) run with layer `layer`'s attention
    from the token before the IO to the names (S1, S2 and the IO) removed, its other attention there
    renormalised (or, with `keep`, S2's removed and that share of S1's and the IO's kept): the student's loss is the divergence KL(teacher || student) at every token, each
    token weighted as in the next-token loss.

    Why (session 30, docs/standin-training-log.md): in the committed weights, that knock-out alone
    lifts the blind templates from 0.76 to 0.95 and the hand-written ones from 0.73 to 0.92, and
    keeps the grammar's held-out templates above the bar (0.97 -> 0.93), while the IO is then never
    the top prediction (the subject is pushed down, no name is copied). Losses on where layer 1
    looks (`AttentionShapingLoss`) reshaped it but let the rest drift; distilling from the knocked-out
    teacher asks for that change and nothing else: every other token's prediction is the teacher's.
    """

    def __init__(
        self,
        vocab_ids,
        d_vocab: int,
        io_weight: float,
        names: dict[int, str],
        teacher,
        keep: float = 0.0,
        layer: int = 1,
    ):
        super().__init__(vocab_ids, d_vocab, tied=True)
        self.io_weight, self.names, self.teacher, self.keep, self.layer = io_weight, names, teacher, keep, layer
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)

    def __call__(self, model, batch):
        tokens, weights = batch
        found = ioi_sites(tokens, weights, self.io_weight, self.names)

        def knock(pattern, hook):
            for s in found:
                if self.keep:  # S1 and the IO kept in part, S2 not at all
                    pattern[s.row, :, s.query, [k for k in s.subject if k < max(s.subject)] + s.io] *= self.keep
                    pattern[s.row, :, s.query, max(s.subject)] = 0
                else:
                    pattern[s.row, :, s.query, [*s.subject, *s.io]] = 0
            return pattern / pattern.sum(-1, keepdim=True)

        with torch.no_grad(), self.teacher.hooks(fwd_hooks=[(f"blocks.{self.layer}.attn.hook_pattern", knock)]):
            target = self.logits(self.teacher, tokens)[:, :-1].log_softmax(-1).flatten(0, 1)
            probs = target.exp()
            entropy = -(probs * target).sum(-1)
        # KL = cross-entropy against the teacher's probabilities - the teacher's entropy: the fused
        # cross-entropy is a fifth faster than spelling the divergence out over ~15k tokens.
        logits = self.logits(model, tokens)[:, :-1].flatten(0, 1)
        kl = F.cross_entropy(logits, probs, reduction="none") - entropy
        w = weights[:, 1:].flatten()
        return (kl * w).sum() / w.sum()


def tie_for_eval(model, seen_mask: torch.Tensor) -> None:
    """Make the full-vocabulary unembedding the tied one, with unseen tokens ruled out (as on loading)."""
    from micourse.standins.weights import UNSEEN_LOGIT_BIAS

    with torch.no_grad():
        model.embed.W_E.data[~seen_mask] = 0.0
        model.unembed.W_U.data = model.embed.W_E.data.T.clone()
        model.unembed.b_U.data = torch.where(seen_mask, 0.0, UNSEEN_LOGIT_BIAS)


TEXT_SOURCES = {"kjv": "the King James Bible", "web": "the World English Bible (modern English)"}


def _text(name: str, split: str) -> str:
    from micourse.data import kjv_text, web_text

    if name not in TEXT_SOURCES:
        raise ValueError(f"unknown text {name!r}; choose from {sorted(TEXT_SOURCES)}")
    return (kjv_text if name == "kjv" else web_text)(split)


def train_gpt2(
    steps: int,
    seed: int,
    seq_len: int = 128,
    lr: float = 2e-3,
    io_weight: float = 5.0,
    texts: str = "kjv,web",
    random_verbs: float = 0.5,
    random_intros: float = 0.2,
    random_openings: float = 0.4,
    extra_names: int = 400,
    lead_ins: float = 0.0,
    lead_ins_from: float = 0.5,
    repeat_rows: int = MIX[0],
    average_last: int | None = None,
    text_openings: float = 0.0,
    gap_sentences: float = 0.3,
    fact_weight: float = 3.0,
    name_starts: float = 0.0,
    distill_knockout: bool = False,
    distill_keep: float = 0.0,
    init_from: Path | None = None,
):
    """One phase of the gpt2-small stand-in's recipe (`run_recipe` runs all five).

    The data: plain text (`texts`), rows of repeated random known tokens and of text with a
    repeated span (`repeat_rows` of 16, `gpt2_batches`), and synthetic documents: IOI sentences
    with random verbs and openings (`random_*`), `extra_names` census names, a sentence naming no
    one between opening and action in `gap_sentences` of them, real two-name openings in
    `text_openings`, lead-ins from `lead_ins_from` of the steps on (`lead_ins`), documents that
    start with a name (`name_starts`); loss weight `io_weight` on the indirect object and
    `fact_weight` on a fact's answer. The first phase's weights are the mean over its last
    `average_last` steps. `init_from`: continue from a saved stand-in file (the later phases),
    loaded as saved (float16, tied, unprocessed); `distill_knockout`: the loss is
    `KnockoutDistillLoss` with the teacher `init_from`, keeping `distill_keep` of layer 1's
    attention to S1 and the IO.

    Options tried and not adopted (attention-shaping losses, frozen parameters, other data
    shapes) are in git history and in docs/standin-training-log.md."""
    from micourse.data import tokenize_text
    from micourse.standins import scorecard

    # 1. Check the options before the minutes of data loading.
    if average_last is None:  # a 20th of the run (250 of the default 5000 steps; none in a short smoke run)
        average_last = steps // 20
    if not 0 <= average_last <= steps:
        raise ValueError(f"average_last must be between 0 and the {steps} steps, not {average_last}")
    random_fillers = bool(random_verbs or random_intros or random_openings or text_openings or gap_sentences)
    if not 0 <= text_openings <= 1 - random_intros - random_openings:
        raise ValueError(f"text_openings is a share of the openings the other options leave, not {text_openings}")
    if not 0 <= gap_sentences <= 1:
        raise ValueError(f"gap_sentences is a share in [0, 1], not {gap_sentences}")
    if not fact_weight > 0:
        raise ValueError(f"fact_weight is a positive loss weight, not {fact_weight}")
    if lead_ins and not random_fillers:
        raise ValueError("lead_ins needs the random fillers (random_verbs, ...)")
    mix = batch_mix(repeat_rows)  # (checks it)
    if not 0 <= name_starts <= 1 or (name_starts and not lead_ins):
        raise ValueError(f"name_starts is a share in [0, 1] of the lead-in stream (needs lead_ins), not {name_starts}")
    if not 0 <= lead_ins_from < 1:
        raise ValueError(f"lead_ins_from is a share of the steps, in [0, 1), not {lead_ins_from}")
    if not 0 <= distill_keep < 1 or (distill_keep and not distill_knockout):
        raise ValueError(
            f"distill_keep is the share of S1's and the IO's attention the teacher keeps, not {distill_keep}"
        )
    if distill_knockout and (init_from is None or io_weight in (1.0, fact_weight)):
        raise ValueError(
            "distill_knockout distils from the weights init_from names, and finds the IO by its own loss weight"
        )
    if not 0 <= extra_names <= len(CENSUS_NAMES):
        raise ValueError(f"extra_names must be between 0 and {len(CENSUS_NAMES)}, not {extra_names}")
    ioi_names = synthetic.IOI_NAMES + CENSUS_NAMES[:extra_names]
    if set(ioi_names) & set(synthetic.HELDOUT_NAMES):
        raise ValueError("held-out names must never occur in a training IOI sentence")

    # 2. The data.
    t0 = time.perf_counter()
    names = texts.split(",")
    plain = "\n\n".join(_text(n, "train") for n in names)
    kjv = tokenize_text(plain)  # the plain-text rows
    heldouts = {n: tokenize_text(_text(n, "heldout")) for n in names}
    heldout = heldouts["kjv"] if "kjv" in heldouts else heldouts[names[0]]
    fillers = None
    if random_fillers:
        from micourse.standins.ioi_grammar import filler_vocabulary

        fillers = synthetic.IOIFillers(filler_vocabulary(plain), random_verbs, random_intros, random_openings, 0.0, 0.0)
        if text_openings or gap_sentences:  # from the modern-English Bible's training split, whatever `texts` says
            from micourse.data import web_text
            from micourse.standins import ioi_grammar

            web = web_text("train")
            if text_openings:
                fillers = dataclasses.replace(fillers, p_text=text_openings, openings=ioi_grammar.text_openings(web))
            if gap_sentences:  # sentences naming no one
                fillers = dataclasses.replace(fillers, p_gap=gap_sentences, gaps=ioi_grammar.gap_sentences(web))
    synth, synth_w = synthetic_stream(200_000, seed, io_weight, fillers, ioi_names, fact_weight)
    late, lead_from = None, int(lead_ins_from * steps)
    if lead_ins:
        late_fillers = dataclasses.replace(fillers, p_lead=lead_ins)
        late = LateStream(
            *synthetic_stream(200_000, seed + 1, io_weight, late_fillers, ioi_names, fact_weight, name_starts),
            lead_from,
        )
        fillers = late_fillers
    print(f"IOI sentences: {_fillers_note(fillers, lead_from)}", flush=True)
    print(
        f"data: {len(kjv):,} tokens of {texts}, {len(synth):,} synthetic tokens ({time.perf_counter() - t0:.1f}s)",
        flush=True,
    )
    streams = [kjv, synth] + ([late.tokens] if late is not None else [])
    seen = torch.unique(torch.cat([*streams, torch.tensor([GPT2_EOS_ID])]))
    seen_mask = _mask(seen, 50257)
    pool = seen[seen != GPT2_EOS_ID]

    # 3. The model: fresh, with attn-only-2l's induction circuit in its first two layers; or a saved phase.
    if init_from is None:
        model = _fresh_model("gpt2-small", seed)
        # unseen tokens: zero rows, so "known" = non-zero row
        warm_start_from_attn_only(model, seen_mask)
    else:
        model = load_local("gpt2-small", path=Path(init_from), process_weights=False)

    # 4. Training.
    cfg = TrainingConfig(
        steps=steps,
        lr=lr,
        warmup_steps=min(100, steps),
        constant_until=int(0.6 * steps),
        min_lr_ratio=0.1,
        weight_decay=0.05,
        eval_every=500,
        seed=seed,
    )
    unigram = metrics.unigram_loss(kjv, heldout, model.cfg.d_vocab)

    def evaluate(m):
        tie_for_eval(m, seen_mask)
        out = scorecard.quick_scorecard(m)
        out.update(
            {f"heldout_{n}_loss": round(metrics.text_loss(m, h, max_windows=16), 3) for n, h in heldouts.items()}
        )
        out["unigram_loss"] = round(unigram, 3)
        return out

    mean: dict[str, torch.Tensor] = {}

    def log(step, loss, hist):
        if step >= steps - average_last:  # a running sum of the weights after each of the last steps
            with torch.no_grad():
                for k, v in model.named_parameters():
                    mean[k] = mean[k].add_(v) if k in mean else v.detach().clone()
        if (step + 1) % 50 == 0:
            extra = json.dumps(hist.evals[-1]) if hist.eval_steps and hist.eval_steps[-1] == step else ""
            print(f"step {step + 1:5d}  loss {loss:.3f}  {extra}  ({time.perf_counter() - t0:.0f}s)", flush=True)

    if distill_knockout:
        teacher = load_local("gpt2-small", path=Path(init_from), process_weights=False)
        loss_fn = KnockoutDistillLoss(
            seen, model.cfg.d_vocab, io_weight, name_token_ids(ioi_names), teacher, keep=distill_keep
        )
    else:
        loss_fn = WeightedTiedLoss(seen, model.cfg.d_vocab, tied=True)
    batches = gpt2_batches(kjv, synth, synth_w, pool, seq_len, seed, mix=mix, late=late)
    hist = train(model, batches, cfg, loss_fn=loss_fn, evaluate=evaluate, on_step=log)
    if average_last:  # the mean of the last weights: steadier than any one step's (the held-out score swings)
        n = min(average_last, len(hist.steps))
        model.load_state_dict({k: v / n for k, v in mean.items()}, strict=False)
        with torch.no_grad():
            hist.evals.append(evaluate(model))
        hist.eval_steps.append(hist.steps[-1])
        print(f"weights averaged over the last {n} steps: {json.dumps(hist.evals[-1])}", flush=True)
    tie_for_eval(model, seen_mask)
    return (
        model,
        hist,
        seen,
        {
            "tied": True,
            "data": (
                "blocks 0-1 attention, embeddings and positions started from attn-only-2l (MLP outputs of blocks "
                "0-1 zeroed); each batch of 16 rows: 3 repeated random known tokens, 1 row of text with a "
                f"repeated span, 3 rows of text, 9 synthetic. Text: {' and '.join(TEXT_SOURCES[n] for n in names)}. "
                "Synthetic: "
                f"indirect-object sentences ({len(synthetic.IOI_TEMPLATES)} trained templates, {len(ioi_names)} "
                f"names, loss weight {io_weight:g} on the indirect object; {_fillers_note(fillers, lead_from)}), facts"
                + (f" (loss weight {fact_weight:g} on an answer after its subject)" if fact_weight != 1 else "")
                + ", "
                "sentiment pairs, plain sentences and repeated name lists with every name"
                + (
                    f". Final weights: the mean of the weights after each of the last {average_last} steps"
                    if average_last
                    else ""
                )
            ),
        },
    )


def _fillers_note(fillers: synthetic.IOIFillers | None, lead_from: int = 0) -> str:
    if fillers is None:
        return "verbs and openings from the grammar only"
    f = fillers
    note = (
        f"random words from a {len(f.words):,}-word vocabulary as the verb of {f.p_action:.0%} of the actions "
        f"and {f.p_intro:.0%} of the openings, and {f.p_opening:.0%} of the openings random words around the names"
    )
    if f.p_lead:
        note += f"; from step {lead_from:,}: {_lead_note(f.p_lead)}"
    if f.p_text:
        note += (
            f"; {f.p_text:.0%} of the openings real sentences naming two people, the names replaced "
            f"({len(f.openings)} sentences of the World English Bible)"
        )
    if f.p_gap:
        note += (
            f"; {f.p_gap:.0%} of the actions after a full stop behind a sentence naming no one "
            f"({len(f.gaps):,} sentences of the World English Bible)"
        )
    return note


def _lead_note(share: float) -> str:
    return (
        f"{share:.0%} of the openings with the second name after a preposition and "
        f"{share:.0%} of the actions after a full stop with a lead-in"
    )


_DISTILL_NOTE = (
    "in place of the next-token loss (each token weighted as there), the divergence from the phase's starting weights run with layer 1's "
    "attention from the token before the indirect object to the names (the subject's mentions and the indirect "
    "object's) removed"
)


def _distill_clause(ph: dict) -> str:
    keep = ph.get("distill_keep")
    return _DISTILL_NOTE + (
        f" ({keep:.0%} of it to the subject's first mention and the indirect object kept)" if keep else ""
    )


def _phase_note(ph: dict) -> str:
    """A later phase's sentence in the weight file's metadata."""
    if ph.get("distill_knockout"):
        skip = ("distill_knockout", "distill_keep", "seed_offset", "share", "threads")
        rest = {k: v for k, v in ph.items() if k not in skip}
        same = rest == {k: v for k, v in SECOND_PHASE.items() if k not in skip}
        note = "the second phase's settings on new draws of its data" if same else _phase_note(rest)
        threads = f" (on {ph['threads']} threads)" if "threads" in ph else ""
        return note + f", and {_distill_clause(ph)}" + threads
    note = f"a fresh optimizer, learning rate {ph['lr']:g}; {_lead_note(ph['lead_ins'])}"
    if ph.get("repeat_rows", MIX[0]) != MIX[0]:
        mix = batch_mix(ph["repeat_rows"])
        note += (
            f"; {mix[0]} rows of repeated random tokens in each batch of 16 instead of {MIX[0]} "
            f"(and {mix[2]} of plain text instead of {MIX[2]})"
        )
    if ph.get("name_starts"):
        note += (
            f"; {ph['name_starts']:.0%} of the IOI documents and name lists start with a name "
            "(its unspaced token, copied later as the spaced one)"
        )
    if ph.get("text_openings"):
        note += f"; {ph['text_openings']:.0%} of the openings real sentences naming two people, the names replaced"
    if ph.get("io_weight"):
        note += f"; loss weight {ph['io_weight']:g} on the indirect object"
    return note


def _mask(ids: torch.Tensor, n: int) -> torch.Tensor:
    m = torch.zeros(n, dtype=torch.bool)
    m[ids] = True
    return m


# name -> (recipe, steps, torch threads): the committed weights came from exactly these settings.
RECIPES = {"attn-only-2l": (train_attn_only, 3000, 1), "gpt2-small": (train_gpt2, 5000, 1)}

# gpt2-small's second phase (session 14). Trained on the grammar, the stand-in takes "the name that
# starts the action's sentence" for the subject, so one word before it ("Afterwards S said to")
# flips its answer. Lead-ins in the data from the first step delay the circuit past the run's end;
# added after it has formed, for 8% more steps at a tenth of the learning rate, they lift the
# shapes outside the grammar (hand-written templates 0.53 -> 0.62, lead-ins 0.18 -> 0.62) and
# keep the held-out row (0.942 -> 0.933 on 600 prompts). Session 15: that phase had raised the
# repeated half's loss (ratio 0.417 -> 0.480 on 64 sequences, over the bar on 3 of 8 seeds); two more
# rows of repeated random tokens a batch, instead of plain text, keep it at 0.429 and the held-out
# IOI at 0.945. Session 16: 30% of its IOI documents and name lists start with a name, whose token
# there has no leading space ("Mary", later " Mary"): prompts that start with a name (and held-out
# names in general) are copied more often. Session 17: half of them start with a name, a tenth of
# the openings are real sentences naming two people, and the IO's loss weighs 10: on 40 templates
# written by someone who never saw the grammar, 0.64 -> 0.76 (0.73 with another seed), the
# hand-written 8 0.58 -> 0.70: docs/standin-training-log.md.
SECOND_PHASE = {
    "share": 0.08,
    "lr": 2e-4,
    "lead_ins": 0.3,
    "lead_ins_from": 0.0,
    "average_last": 0,
    "repeat_rows": 5,
    "name_starts": 0.5,
    "text_openings": 0.1,
    "io_weight": 10.0,
    "seed_offset": 1,
}

# The phases after the first, each from the previous one's saved file. Sessions 24-29 tried third
# phases that shape where layer 1's heads look (`ATTENTION_TERMS`), with every weight free and,
# session 29, with only layer 1's attention (or layers 0-1) trained (`train_only`): the blind
# templates rose at most 0.76 -> 0.86, and wherever they rose layer 1 had stopped copying names,
# the IO no longer the top prediction (0.3 -> 0.01). Session 30 distilled from the committed weights
# run with layer 1's attention to the names knocked out (`distill_knockout`, `KnockoutDistillLoss`):
# blind 0.76 -> 0.835 with the rest kept (teacher: S2 removed, half of S1 and the IO kept), and two
# more such rounds, each from the last one's student knocked out, 0.88 and 0.900 (the IO's top-1 rate
# 0.32 -> 0.09). Session 31 adopted those three rounds as the third, fourth and fifth phases
# (docs/standin-training-log.md).
# They run on two threads (deterministic algorithms on): on one, the whole command would take more
# than two hours on this course's 2-core machine.
DISTILL_PHASE = {
    **SECOND_PHASE,
    "share": 0.16,
    "seed_offset": 8,
    "distill_knockout": True,
    "distill_keep": 0.5,
    "threads": 2,
}
LATER_PHASES: tuple[tuple[str, dict], ...] = (
    ("second", SECOND_PHASE),
    ("third", DISTILL_PHASE),
    ("fourth", {**DISTILL_PHASE, "seed_offset": 9}),
    ("fifth", {**DISTILL_PHASE, "seed_offset": 10}),
)


def main(argv: list[str] | None = None) -> None:
    """The documented command: `python -m micourse.standins.train NAME`. Its options are for smoke
    runs and for resuming; a recipe's settings live in `RECIPES`, `SECOND_PHASE` and `DISTILL_PHASE`
    (experiments with other settings call `run_recipe(..., **options)` from Python)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(RECIPES))
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the recipe's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: the recipe's; results may depend on it)"
    )
    parser.add_argument(
        "--no-second-phase", action="store_true", help="gpt2-small: stop after the first phase (not the recipe)"
    )
    parser.add_argument(
        "--first-phase",
        type=Path,
        default=None,
        help="gpt2-small: a file this command saved after its first phase (or after some later ones): run only "
        "the phases it lacks",
    )
    parser.add_argument(
        "--keep-first-phase",
        action="store_true",
        help="gpt2-small: keep the first phase (and any other but the last) beside the output (OUT.first-phase.safetensors)",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    _, _, default_threads = RECIPES[args.name]
    # One thread keeps CPU kernels in a fixed order, so the weights are reproducible bit for bit
    # (the distillation phases name their own two threads, with deterministic algorithms: `_threads`).
    torch.set_num_threads(args.threads or default_threads)
    keep_freed_memory()  # faster steps with glibc; the same arithmetic
    if note := kernels.warning():
        print(f"warning: {note}")
    out = args.out or registry.get(args.name).weights_path
    meta = run_recipe(
        args.name,
        out,
        args.steps,
        args.seed,
        not args.no_second_phase,
        first_phase=args.first_phase,
        keep_first_phase=args.keep_first_phase,
    )
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) after {meta['train_seconds']:.0f}s: "
        f"{json.dumps(meta['final_eval'])}"
    )


def _first_phase_meta(path: Path, later: list, want: dict) -> tuple[dict, int]:
    """The metadata of `path` and how many of the `later` phases it has been through, if it was
    saved by the command with the steps, seed and options `want` (its metadata records each) after
    its first phase or after some of its later ones; else a ValueError: a later phase run from
    another command's file would be saved as this command's output."""
    from micourse.standins.weights import read_metadata

    if not later:
        raise ValueError("--first-phase needs a second phase: not with --no-second-phase or so few steps")
    meta = read_metadata(path)[1]
    recorded = set(inspect.signature(train_gpt2).parameters) - {"init_from"}
    got = {k: v for k, v in meta.items() if k in recorded}
    if got != want:
        raise ValueError(f"{path} is not this command's first phase: it was made with {got}, this is {want}")
    done = 0
    for label, ph, n in later:
        if f"{label}_phase" not in meta:
            break
        expected = _phase_record(want, ph, n, want["seed"])
        if meta[f"{label}_phase"] != expected:
            raise ValueError(f"{path}'s {label} phase is not this command's: {meta[f'{label}_phase']}, not {expected}")
        done += 1
    if any(f"{label}_phase" in meta for label, _, _ in later[done:]) or done == len(later):
        raise ValueError(f"{path} has no phase left to run, or its phases are out of order")
    if not kernels.same_as(meta.get("kernels")):
        raise ValueError(
            f"{path} was trained with other CPU kernels ({meta.get('kernels')}), this run: {kernels.describe()}"
        )
    return meta, done


def _phase_options(options: dict, ph: dict) -> dict:
    """A later phase's options: the command's, overridden by the phase's (its threads are `main`'s)."""
    drop = ("share", "seed_offset", "steps", "seed", "threads")
    return {**{k: v for k, v in options.items() if k not in drop}, **{k: v for k, v in ph.items() if k not in drop}}


def _phase_record(options: dict, ph: dict, steps: int, seed: int) -> dict:
    """What a later phase's metadata records (`{label}_phase`), and `--first-phase` checks: its
    steps, seed, threads (if it names its own) and options."""
    threads = {"threads": ph["threads"]} if "threads" in ph else {}
    return {"steps": steps, "seed": seed + ph["seed_offset"], **threads, **_phase_options(options, ph)}


@contextlib.contextmanager
def _threads(ph: dict):
    """Run a phase on its own number of threads, if it names one, with PyTorch's deterministic
    algorithms: with them two 2-thread runs give the same bits (without, they drifted apart), at the
    same speed on this CPU, and a distillation step is about a third faster than on one thread."""
    if "threads" not in ph:
        yield
        return
    before, strict = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(ph["threads"])
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        torch.use_deterministic_algorithms(strict)


def _phase_file(out: Path, label: str) -> Path:
    return out.with_name(f"{out.stem}.{label}-phase.safetensors")


def run_recipe(
    name: str,
    out: Path,
    steps: int | None = None,
    seed: int = 0,
    second_phase: bool = True,
    first_phase: Path | None = None,
    keep_first_phase: bool = False,
    **options,
) -> dict:
    """Train the stand-in `name` by its recipe and save it to `out`: the documented command's work,
    callable from Python (the caller sets torch's threads). gpt2-small trains in phases: each of
    `LATER_PHASES` (the second, `SECOND_PHASE`, then three distillation rounds, `DISTILL_PHASE`; off
    with `second_phase=False` and in runs too short for them) starts from the previous phase's saved file (`OUT.first-phase.safetensors`, ...,
    deleted at the end unless `keep_first_phase`); the output carries its held-out scorecard. Returns the saved metadata.

    `first_phase`: a file saved by this command with the same steps, seed and options, after its
    first phase or after some of the later ones: run only the phases it lacks, with the output the
    whole command would give. The first phase is most of the run's hour; experiments with the later
    phases need not repeat it, and a new last phase can start from the committed weights.
    """
    recipe, default_steps, _ = RECIPES[name]
    steps = steps or default_steps
    later = [(label, ph, int(steps * ph["share"])) for label, ph in LATER_PHASES]
    if name != "gpt2-small" or not second_phase or not all(n for _, _, n in later):  # (a smoke run: none)
        later = []
    first_out = _phase_file(out, "first") if later else out
    done = 0  # the later phases `first_phase` has been through
    if first_phase is not None:
        meta, done = _first_phase_meta(Path(first_phase), later, {"steps": steps, "seed": seed, **options})
        first_out, seconds = Path(first_phase), meta["train_seconds"]
    else:
        model, hist, seen, meta = recipe(steps, seed, **options)
        meta.update(
            {
                "steps": steps,
                "seed": seed,
                **options,
                "threads": torch.get_num_threads(),
                "train_seconds": round(hist.seconds, 1),
                "final_eval": hist.evals[-1] if hist.evals else {},
                "torch": torch.__version__,
                "kernels": kernels.describe(),
            }
        )
        save_standin(model.state_dict(), registry.get(name).cfg, first_out, seen, meta, tied=meta.get("tied", False))
        seconds = hist.seconds
    made = [] if first_phase is not None else [first_out]  # files this run made on the way
    start = first_out
    for i, (label, ph, n) in enumerate(later):
        if i < done:
            continue
        dest = out if i == len(later) - 1 else _phase_file(out, label)
        opts = _phase_options(options, ph)
        with _threads(ph):
            model, hist, seen, _ = recipe(n, seed + ph["seed_offset"], init_from=start, **opts)
        meta["data"] += f". Then a {label} phase of {n} steps from those weights: {_phase_note(ph)}"
        meta[f"{label}_phase"] = _phase_record(options, ph, n, seed)
        seconds += hist.seconds
        meta["train_seconds"] = round(seconds, 1)
        meta["final_eval"] = hist.evals[-1] if hist.evals else {}
        save_standin(model.state_dict(), registry.get(name).cfg, dest, seen, meta, tied=True)
        made.append(dest)
        start = dest
    if later and not keep_first_phase:
        for path in made[:-1]:
            path.unlink()
    if name == "gpt2-small":  # the held-out scorecard, measured on the saved (float16) weights
        from micourse.standins import scorecard

        scorecard.record(out)
    return meta


if __name__ == "__main__":
    kernels.rerun_pinned("micourse.standins.train", sys.argv[1:])
    main()
