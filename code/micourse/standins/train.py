"""Retrain a stand-in from scratch: `python -m micourse.standins.train NAME [--steps N] [--out PATH]`.

Deterministic: the same command on the same kind of machine (same torch, one thread, the
recipe's default) gives bit-identical weights. With two threads it runs about twice as fast,
but PyTorch's multi-threaded CPU kernels are not bit-reproducible: two such runs of
gpt2-small drifted apart by ~1e-6 within 400 steps and ended with held-out losses 4.383 and
4.384; both met every bar the tests hold the stand-in to. Prints metrics as it goes and writes
code/micourse/weights/NAME.safetensors (unless --out is given) with the metrics in its metadata.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from micourse.standins import metrics, synthetic
from micourse.standins.specs import STANDINS
from micourse.standins.weights import WEIGHTS_DIR, save_standin
from micourse.tokenizer import GPT2_EOS_ID
from micourse.training import RestrictedVocabLoss, TrainingConfig, train


def _fresh_model(name: str, seed: int):
    from transformer_lens import HookedTransformer, HookedTransformerConfig
    from transformers import AutoTokenizer

    from micourse.tokenizer import tokenizer_dir

    spec = STANDINS[name]
    cfg = HookedTransformerConfig(**spec.cfg, seed=seed, init_weights=True, device="cpu")
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


# ---------------------------------------------------------------- gpt2-small: text, facts, IOI, sentiment
def text_batches(kjv: torch.Tensor, synth: torch.Tensor, batch: int, seq_len: int, seed: int) -> Iterator[torch.Tensor]:
    from micourse.data import random_windows

    g = torch.Generator().manual_seed(seed)
    half = batch // 2
    while True:
        yield torch.cat([random_windows(kjv, half, seq_len, g), random_windows(synth, batch - half, seq_len, g)])


def synthetic_stream(n_docs: int, seed: int, **doc_kwargs) -> torch.Tensor:
    from micourse.tokenizer import gpt2_tokenizer

    rng = random.Random(seed)
    tok = gpt2_tokenizer()
    ids: list[int] = []
    docs = [synthetic.synthetic_document(rng, **doc_kwargs) for _ in range(n_docs)]
    for enc in tok.backend_tokenizer.encode_batch(docs):
        ids.append(GPT2_EOS_ID)
        ids.extend(enc.ids)
    return torch.tensor(ids, dtype=torch.long)


def train_gpt2(steps: int, seed: int, seq_len: int = 128, ioi_templates: int | None = None, ioi_share: float = 0.6):
    from micourse.data import kjv_text, tokenize_text

    t0 = time.perf_counter()
    kjv = tokenize_text(kjv_text("train"))
    heldout = tokenize_text(kjv_text("heldout"))
    templates = synthetic.IOI_TEMPLATES[:ioi_templates]
    synth = synthetic_stream(200_000, seed, ioi_templates=templates, ioi_share=ioi_share)
    print(
        f"data: {len(kjv):,} KJV tokens, {len(synth):,} synthetic tokens ({time.perf_counter() - t0:.1f}s)", flush=True
    )
    seen = torch.unique(torch.cat([kjv, synth, torch.tensor([GPT2_EOS_ID])]))
    model = _fresh_model("gpt2-small", seed)
    cfg = TrainingConfig(
        steps=steps,
        lr=2e-3,
        warmup_steps=min(100, steps),
        min_lr_ratio=0.1,
        weight_decay=0.05,
        eval_every=400,
        seed=seed,
    )
    unigram = metrics.unigram_loss(kjv, heldout, model.cfg.d_vocab)

    def evaluate(m):
        with torch.no_grad():
            m.unembed.b_U.data[~_mask(seen, m.cfg.d_vocab)] = -30.0
        diffs = metrics.ioi_logit_diffs(m, n=50, seed=1, templates=templates)
        held = metrics.ioi_logit_diffs(m, n=50, seed=2, templates=synthetic.IOI_HELDOUT_TEMPLATES)
        return {
            "heldout_loss": metrics.text_loss(m, heldout, max_windows=32),
            "unigram_loss": unigram,
            "ioi_win": (diffs > 0).float().mean().item(),
            "ioi_unseen_templates_win": (held > 0).float().mean().item(),
            "facts": sum(metrics.greedy_next(m, p) == a for p, a in metrics.FACT_PROMPTS.items()),
        }

    def log(step, loss, hist):
        if (step + 1) % 50 == 0:
            extra = json.dumps(hist.evals[-1]) if hist.eval_steps and hist.eval_steps[-1] == step else ""
            print(f"step {step + 1:5d}  loss {loss:.3f}  {extra}", flush=True)

    loss_fn = RestrictedVocabLoss(seen, model.cfg.d_vocab)
    hist = train(
        model, text_batches(kjv, synth, 16, seq_len, seed), cfg, loss_fn=loss_fn, evaluate=evaluate, on_step=log
    )
    with torch.no_grad():
        model.unembed.b_U.data[~_mask(seen, model.cfg.d_vocab)] = -30.0
    share = round(100 * ioi_share)
    return (
        model,
        hist,
        seen,
        {
            "data": "half King James Bible (all but the last 6 books), half synthetic documents "
            f"({share}% indirect-object sentences from {len(templates)} templates, 10% facts, "
            f"{90 - share}% sentiment pairs)"
        },
    )


def _mask(ids: torch.Tensor, n: int) -> torch.Tensor:
    m = torch.zeros(n, dtype=torch.bool)
    m[ids] = True
    return m


# name -> (recipe, steps, torch threads): the committed weights came from exactly these settings.
RECIPES = {"attn-only-2l": (train_attn_only, 3000, 1), "gpt2-small": (train_gpt2, 3000, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(RECIPES))
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the recipe's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: the recipe's; results may depend on it)"
    )
    parser.add_argument(
        "--seq-len", type=int, default=None, help="tokens per training sequence (default: the recipe's)"
    )
    parser.add_argument(
        "--ioi-templates", type=int, default=None, help="gpt2-small: train on the first N IOI templates"
    )
    parser.add_argument(
        "--ioi-share", type=float, default=None, help="gpt2-small: share of synthetic documents that are IOI"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    recipe, default_steps, default_threads = RECIPES[args.name]
    threads = args.threads or default_threads
    # One thread keeps CPU kernels in a fixed order, so the weights are reproducible bit for bit.
    # (torch.use_deterministic_algorithms made a step 80x slower here.)
    torch.set_num_threads(threads)
    steps = args.steps or default_steps
    extra = {
        k: v
        for k, v in (("seq_len", args.seq_len), ("ioi_templates", args.ioi_templates), ("ioi_share", args.ioi_share))
        if v is not None
    }
    model, hist, seen, meta = recipe(steps, args.seed, **extra)
    meta.update(
        {
            "steps": steps,
            "seed": args.seed,
            **extra,
            "threads": threads,
            "train_seconds": round(hist.seconds, 1),
            "final_eval": hist.evals[-1] if hist.evals else {},
            "torch": torch.__version__,
        }
    )
    out = args.out or WEIGHTS_DIR / STANDINS[args.name].weights_file
    save_standin(model.state_dict(), STANDINS[args.name].cfg, out, seen, meta, tied=meta.get("tied", False))
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) after {hist.seconds:.0f}s: {json.dumps(meta['final_eval'])}"
    )


if __name__ == "__main__":
    main()
