"""Pin the CPU kernels that training uses, so that one command gives the same weights on every
x86-64 machine with AVX2 from the same CPU maker, not only on the machine that trained them.

PyTorch's own kernels (ATen), MKL (matrix products) and oneDNN (some of the products) each pick
their code by the CPU they find, and an AVX-512 machine sums the same numbers in another order
than an AVX2 one. Measured here (2026-12-05, torch 2.13, an AVX-512 AMD EPYC): 30 gpt2-small
training steps give other weights with ATen at AVX2 instead of AVX-512, and other weights again
with MKL in its compatible mode; session 13's committed first phase, trained on another machine,
was not reproduced here by the same code. Pinning all three to AVX2 (for MKL: its conditional
numerical reproducibility mode, strict, which is independent of memory alignment too) makes the
arithmetic that of a CPU with AVX2 and no more, on every x86-64 CPU that has AVX2; 100 steps
pinned gave the same bits as with this CPU's libraries capped at AVX2 (`tests/test_kernels.py`
checks the same on a smaller loop), and a step was no slower here (0.78 s pinned and not, side by
side).

The pin holds within one CPU maker, not across them. MKL follows its AVX2 branch only on Intel
CPUs; on others its CNR guide says it takes the AUTO branch instead ("Getting Started with
Conditional Numerical Reproducibility", oneMKL developer guide). Measured (2026-12-06, session 25):
30 pinned steps of attn-only-2l give 66263e9aa8bc2c37 on an AMD EPYC and 4d3ed05b98594600 on an
Intel Xeon (both AVX-512; the Intel value twice, in two sessions, and also with MKL capped at AVX2
or one MKL thread); no setting tried on the Intel machine gave the AMD value. The committed weights
came from AMD machines: an Intel machine trains other weights, of the same quality.
`describe()` names the maker, so that `--first-phase` refuses a first phase from the other one.

The variables are read once, when torch and MKL run their first kernel, so a process cannot pin
itself after importing torch: `rerun_pinned` starts the command again with them set.
"""

from __future__ import annotations

import os
import sys

PINNED = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2,STRICT", "ONEDNN_MAX_CPU_ISA": "AVX2"}
"""What `rerun_pinned` sets: ATen's vector width, MKL's reproducible code path, oneDNN's ISA."""

NOT_PINNED = "MICOURSE_NATIVE_KERNELS"
"""Set to 1 to train with the kernels this CPU would pick (the weights then depend on the CPU)."""


def pinned() -> bool:
    """Whether this process was started with the kernels pinned."""
    return all(os.environ.get(k) == v for k, v in PINNED.items())


def rerun_pinned(module: str, argv: list[str]) -> None:
    """Replace this process by `python -m module *argv` with `PINNED` set, unless it already is
    (or `MICOURSE_NATIVE_KERNELS=1` asks for the CPU's own kernels). Call it before any torch work."""
    if pinned() or os.environ.get(NOT_PINNED) == "1":
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", module, *argv], {**os.environ, **PINNED})


def cpu_maker() -> str:
    """The CPU's vendor string ('GenuineIntel', 'AuthenticAMD'), or 'unknown' off Linux."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def describe() -> str:
    """The kernels in use, for the weights' metadata and the training log: 'ATen AVX2, MKL_CBWR
    AVX2,STRICT, AuthenticAMD' when pinned on an AMD CPU. A CPU without AVX2 (or not x86) reports
    what it has instead, and its weights will differ from the committed ones."""
    import torch

    capability = torch.backends.cpu.get_cpu_capability()
    return f"ATen {capability}, MKL_CBWR {os.environ.get('MKL_CBWR', 'unset')}, {cpu_maker()}"


def same_as(recorded: str | None) -> bool:
    """Whether weights whose metadata records `recorded` kernels were trained with this run's
    arithmetic. Files saved before session 25 name no CPU maker; every one of them was trained on
    an AMD machine (the committed gpt2-small weights among them)."""
    if recorded is not None and recorded.startswith("ATen ") and recorded.rsplit(", ", 1)[-1].startswith("MKL_CBWR"):
        recorded += ", AuthenticAMD"
    return recorded == describe()


def warning() -> str | None:
    """A sentence for the log when this run's arithmetic is not the pinned one, else None."""
    import torch

    if not pinned():
        return f"kernels not pinned ({describe()}): the weights depend on this CPU"
    if torch.backends.cpu.get_cpu_capability() != "AVX2":
        return f"this CPU has no AVX2 ({describe()}): the weights will differ from the committed ones"
    return None


if __name__ == "__main__":  # `python -m micourse.standins.kernels`: what a training run would use
    rerun_pinned("micourse.standins.kernels", sys.argv[1:])
    print(describe())
    print(warning() or "pinned")
