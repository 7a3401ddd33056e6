"""The online path, rehearsed: `from_pretrained` against the course's local stand-in for the hub.

Online (Colab, GitHub Actions) `HookedTransformer.from_pretrained` hands pages a model whose
weights are processed (LayerNorm folded, `normalization_type == "LNPre"`). Before the fix, the
clean GPT-2 page (`Config.from_hooked(load_model("gpt2-small").cfg)`) and the KV-cache page
(`GPT2.from_course_model("gpt2-small")`, i.e. the reference GPT-2 built from that model) stopped
there with a ValueError. These tests run that old code and the fixed code through the rehearsal
hub, in a subprocess that takes the online path exactly as a Colab kernel would.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("rehearsal_hub", ROOT / "scripts" / "rehearsal_hub.py")
rehearsal_hub = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rehearsal_hub)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hub():
    repos = rehearsal_hub.build_repos(rehearsal_hub.DEFAULT_DIR)
    with rehearsal_hub.RehearsalHub(repos) as server, tempfile.TemporaryDirectory() as home:
        server.hf_home = home
        yield server


def _run(code: str, env: dict[str, str], timeout: float = 300) -> dict:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"subprocess failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


OLD_AND_NEW = """
    import json, torch
    from micourse.models import load_model, load_reference
    from micourse.transformer import GPT2, Config
    result = {}
    hooked = load_model("gpt2-small")                          # the pages' old code ...
    result["processed_norm"] = hooked.cfg.normalization_type
    result["info"] = str(hooked.micourse_info)
    for page, old in [("clean-gpt2", lambda: Config.from_hooked(hooked.cfg)),
                      ("kv-cache", lambda: GPT2.from_hooked_transformer(hooked))]:
        try:
            old()
            result[page] = "passed"
        except ValueError as err:
            result[page] = "failed: " + str(err)
    raw = load_model("gpt2-small", process_weights=False)      # ... and the fix
    Config.from_hooked(raw.cfg)
    ref = load_reference("gpt2-small", verbose=False)
    tokens = torch.randint(1000, 9000, (2, 20), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.save({"processed": hooked(tokens), "raw": raw(tokens), "reference": ref(tokens), "tokens": tokens}, "{out}")
    attn = load_model("attn-only-2l", verbose=False)
    result["attn_only_norm"] = attn.cfg.normalization_type
    result["rehearsal"] = hooked.micourse_info.rehearsal
    print(json.dumps(result))
"""


def test_old_page_code_fails_online_and_the_fix_passes(hub, tmp_path):
    out = tmp_path / "logits.pt"
    result = _run(OLD_AND_NEW.replace("{out}", str(out)), hub.env(hub.hf_home))
    assert result["processed_norm"] == "LNPre" and result["attn_only_norm"] == "LNPre"
    assert result["rehearsal"] and "REHEARSAL COPY" in result["info"]
    for page in ("clean-gpt2", "kv-cache"):
        assert result[page].startswith("failed") and "LNPre" in result[page], (page, result[page])

    # The rehearsal copy computes what the offline stand-in computes, processed or not.
    from micourse.models import load_standin

    saved = torch.load(out)
    with torch.no_grad():
        offline_raw = load_standin("gpt2-small", process_weights=False)(saved["tokens"])
        offline_processed = load_standin("gpt2-small")(saved["tokens"])
    assert (saved["raw"] - offline_raw).abs().max() < 1e-3
    assert (saved["reference"] - offline_raw).abs().max() < 1e-3
    assert (saved["processed"].softmax(-1) - offline_processed.softmax(-1)).abs().max() < 1e-4


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket goes


def test_dead_endpoint_is_a_clear_error_within_seconds():
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "MICOURSE_OFFLINE")}
    env["HF_ENDPOINT"] = f"http://127.0.0.1:{_closed_port()}"
    code = """
        import json, time
        from micourse.models import load_model
        start = time.perf_counter()
        try:
            load_model("gpt2-small")
            message = "loaded"
        except Exception as err:
            message = type(err).__name__ + ": " + str(err)
        print(json.dumps({"seconds": time.perf_counter() - start, "message": message}))
    """
    result = _run(code, env, timeout=120)
    assert result["message"].startswith("HubUnreachableError") and env["HF_ENDPOINT"] in result["message"]
    assert result["seconds"] < 5
