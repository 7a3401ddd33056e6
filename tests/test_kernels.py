"""The training command pins the CPU kernels, so that its weights do not depend on the machine's CPU."""

import os
import platform
import subprocess
import sys
import textwrap

import pytest
import torch

from micourse.standins import kernels

HAS_AVX2 = platform.machine() in ("x86_64", "AMD64") and torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")
needs_avx2 = pytest.mark.skipif(not HAS_AVX2, reason="the pinned kernels need an x86-64 CPU with AVX2")

# A few training steps through the operations a transformer step uses (matrix products, GELU,
# layer norm, softmax, cross-entropy, Adam): 2-D products big enough for MKL's blocked code.
SCRIPT = textwrap.dedent(
    """
    import hashlib
    import torch
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 96, generator=g)
    w1 = (torch.randn(96, 384, generator=g) * 0.1).requires_grad_()
    w2 = (torch.randn(384, 3000, generator=g) * 0.1).requires_grad_()
    targets = torch.randint(0, 3000, (512,), generator=g)
    opt = torch.optim.Adam([w1, w2], lr=1e-2)
    h = hashlib.sha1()
    for _ in range(5):
        hidden = torch.nn.functional.layer_norm(torch.nn.functional.gelu(x @ w1), (384,))
        loss = torch.nn.functional.cross_entropy(hidden @ w2, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        h.update(w1.detach().numpy().tobytes() + w2.detach().numpy().tobytes())
    print(h.hexdigest())
    """
)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in kernels.PINNED and k != kernels.NOT_PINNED}
    return {**env, **extra}


def _run(env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, check=True).stdout


@needs_avx2
def test_the_command_restarts_itself_with_the_kernels_pinned():
    out = _run(_clean_env(), "-m", "micourse.standins.kernels").splitlines()
    assert out == [f"ATen AVX2, MKL_CBWR AVX2,STRICT, {kernels.cpu_maker()}", "pinned"]
    native = _run(_clean_env(MICOURSE_NATIVE_KERNELS="1"), "-m", "micourse.standins.kernels").splitlines()
    assert "MKL_CBWR unset" in native[0] and native[1].startswith("kernels not pinned")


@needs_avx2
def test_pinned_arithmetic_is_what_a_cpu_with_only_avx2_computes():
    # These three variables make this CPU's libraries (MKL, ATen, oneDNN) choose the code an
    # AVX2-only CPU would: the pinned run must give the same bits, whatever this CPU has.
    avx2_cpu = {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    pinned = _run(_clean_env(**kernels.PINNED), "-c", SCRIPT)
    avx2_only = _run(_clean_env(**avx2_cpu), "-c", SCRIPT)
    both = _run(_clean_env(MKL_ENABLE_INSTRUCTIONS="AVX2", **kernels.PINNED), "-c", SCRIPT)
    assert len(pinned.strip()) == 40
    assert pinned == avx2_only == both


def test_an_unpinned_run_says_so():
    if not kernels.pinned():
        assert "not pinned" in kernels.warning()


# The pinned command's weights after 30 steps of attn-only-2l, by CPU maker: MKL follows its AVX2
# branch on Intel CPUs only (micourse.standins.kernels), so the two makers differ. Recorded on an
# AVX-512 AMD EPYC (2026-12-05; its own kernels gave 89f607f54e2b1f11) and an AVX-512 Intel Xeon
# (2026-12-06; its own kernels gave d4d7b2fde7bead54). This test fails on any machine where the pin
# does not make the arithmetic that of the other machines of its maker.
PINNED_30_STEPS = {"AuthenticAMD": "66263e9aa8bc2c37", "GenuineIntel": "4d3ed05b98594600"}


@needs_avx2
def test_the_pinned_command_trains_the_recorded_weights_on_this_cpu(tmp_path):
    import hashlib

    if kernels.cpu_maker() not in PINNED_30_STEPS:
        pytest.skip(f"no weights recorded for a {kernels.cpu_maker()} CPU")

    from safetensors.torch import load_file

    out = tmp_path / "ao30.safetensors"
    args = ("-m", "micourse.standins.train", "attn-only-2l", "--steps", "30", "--out", str(out))
    _run(_clean_env(), *args)
    tensors = load_file(str(out))
    h = hashlib.sha256()
    for key in sorted(tensors):
        h.update(key.encode())
        h.update(tensors[key].numpy().tobytes())
    assert h.hexdigest()[:16] == PINNED_30_STEPS[kernels.cpu_maker()]


def test_files_from_before_the_maker_was_recorded_count_as_amd(monkeypatch):
    """`--first-phase` compares a file's recorded kernels with this run's: files saved before
    session 25 name no CPU maker (the committed gpt2-small weights among them), and all of them
    were trained on AMD machines."""
    monkeypatch.setattr(kernels, "describe", lambda: "ATen AVX2, MKL_CBWR AVX2,STRICT, AuthenticAMD")
    assert kernels.same_as("ATen AVX2, MKL_CBWR AVX2,STRICT")
    assert kernels.same_as("ATen AVX2, MKL_CBWR AVX2,STRICT, AuthenticAMD")
    assert not kernels.same_as("ATen AVX2, MKL_CBWR AVX2,STRICT, GenuineIntel")
    assert not kernels.same_as("ATen AVX512, MKL_CBWR unset")
    assert not kernels.same_as(None)
    monkeypatch.setattr(kernels, "describe", lambda: "ATen AVX2, MKL_CBWR AVX2,STRICT, GenuineIntel")
    assert not kernels.same_as("ATen AVX2, MKL_CBWR AVX2,STRICT")
