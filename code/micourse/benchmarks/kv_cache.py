"""Side-by-side timings for the reference GPT-2, measured in one run on this machine.

1. Greedy generation with and without the KV cache (target: the cache at least 5x faster).
2. The reference forward pass against TransformerLens's HookedTransformer on the same weights
   and the same input (target: the reference no more than 1.2x slower).

Both use a randomly initialised model of GPT-2 small's shape (12 layers, d_model 768, 12 heads,
vocabulary 50,257, context 1024): timings depend only on shapes, not on trained weights.

    python -m micourse.benchmarks.kv_cache [--new-tokens 200] [--prompt 16] [--forward-pos 256] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

from micourse.transformer import GPT2, Config
from micourse.transformer.kv_cache import generate_greedy


def timed(fn, repeats: int) -> tuple[float, object]:
    """Median wall time of `repeats` calls (after one warm-up call), and the last result."""
    out = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def bench_generation(model: GPT2, prompt_len: int, n_new: int) -> None:
    prompt = torch.randint(0, model.cfg.d_vocab, (1, prompt_len), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        generate_greedy(model, prompt, 4, use_cache=True)  # warm-up
        start = time.perf_counter()
        with_cache = generate_greedy(model, prompt, n_new, use_cache=True)
        t_cache = time.perf_counter() - start
        start = time.perf_counter()
        without_cache = generate_greedy(model, prompt, n_new, use_cache=False)
        t_plain = time.perf_counter() - start
    same = torch.equal(with_cache, without_cache)
    print(f"Greedy generation, prompt {prompt_len} tokens + {n_new} new tokens, batch 1:")
    print(f"  without KV cache: {t_plain:7.2f} s  ({1000 * t_plain / n_new:6.1f} ms/token)")
    print(f"  with KV cache:    {t_cache:7.2f} s  ({1000 * t_cache / n_new:6.1f} ms/token)")
    print(f"  speed-up: {t_plain / t_cache:.1f}x (target >= 5x); identical tokens: {same}")


def bench_forward(model: GPT2, n_pos: int, batch: int, repeats: int) -> None:
    from transformer_lens import HookedTransformer

    warnings.filterwarnings("ignore", message=".*deprecated.*")
    hooked = HookedTransformer(model.cfg.to_hooked(), move_to_device=False)
    hooked.load_state_dict(model.state_dict(), strict=False)
    hooked.eval()
    tokens = torch.randint(0, model.cfg.d_vocab, (batch, n_pos), generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        # Interleave the two so that background load hits both alike.
        ours, theirs = [], []
        for _ in range(repeats):
            t_ref, out_ref = timed(lambda: model(tokens), 1)
            t_tl, out_tl = timed(lambda: hooked(tokens), 1)
            ours.append(t_ref)
            theirs.append(t_tl)
        diff = (out_ref - out_tl).abs().max().item()
    t_ref, t_tl = statistics.median(ours), statistics.median(theirs)
    print(f"Forward pass, batch {batch} x {n_pos} positions (median of {repeats}):")
    print(f"  reference GPT2:      {1000 * t_ref:7.1f} ms")
    print(f"  HookedTransformer:   {1000 * t_tl:7.1f} ms")
    print(f"  ratio reference/TL: {t_ref / t_tl:.2f} (target <= 1.2); max |logit diff| {diff:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=200)
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--forward-pos", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-generation", action="store_true")
    parser.add_argument("--skip-forward", action="store_true")
    args = parser.parse_args()

    torch.manual_seed(0)
    cfg = Config.gpt2_small()
    model = GPT2(cfg).eval()
    print(f"Random-weight model of GPT-2 small's shape: {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M "
          f"parameters; torch {torch.__version__}, {torch.get_num_threads()} threads.")
    if not args.skip_forward:
        bench_forward(model, args.forward_pos, args.batch, args.repeats)
    if not args.skip_generation:
        bench_generation(model, args.prompt, args.new_tokens)


if __name__ == "__main__":
    main()
