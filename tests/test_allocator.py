"""The training command's allocator setting changes where memory comes from, never a result."""

import hashlib
import subprocess
import sys
import textwrap

import pytest

# A step's worth of the big tensors (logits over a restricted vocabulary, log-softmax, backward):
# 2048 x 8000 floats = 65 MB, above the 32 MB that glibc mmaps at the most, so the setting really changes where they live.
SCRIPT = textwrap.dedent(
    """
    import hashlib, sys
    import torch
    from micourse.standins.allocator import keep_freed_memory
    if sys.argv[1] == "keep":
        assert keep_freed_memory()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    resid = torch.randn(2048, 64, generator=g)
    w = torch.randn(8000, 64, generator=g, requires_grad=True)
    targets = torch.randint(0, 8000, (2048,), generator=g)
    h = hashlib.sha1()
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(resid @ w.T, targets)
        loss.backward()
        with torch.no_grad():
            w -= 0.1 * w.grad
        w.grad = None
        h.update(w.detach().numpy().tobytes())
    print(h.hexdigest())
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_keeping_freed_memory_gives_bit_identical_training():
    out = {}
    for mode in ("keep", "default"):
        run = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True)
        out[mode] = run.stdout.strip()
    assert len(out["keep"]) == len(hashlib.sha1().hexdigest())
    assert out["keep"] == out["default"]
