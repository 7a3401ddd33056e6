"""load_model: names, errors, and what it says about the model it returns."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from micourse import models
from micourse.standins.weights import WEIGHTS_DIR
from micourse.transformer.loading import from_hooked_transformer

ROOT = Path(__file__).resolve().parents[1]


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(models.UnknownModelError) as err:
        models.load_model("gpt5-huge")
    for name in models.known_models():
        assert name in str(err.value)


def test_non_string_name():
    with pytest.raises(TypeError, match="model name"):
        models.load_model(42)


@pytest.mark.parametrize("name", ["gpt2-small", "attn-only-2l"])
def test_standin_says_what_it_is(name, monkeypatch, capsys):
    monkeypatch.setenv("MICOURSE_OFFLINE", "1")
    model = models.load_model(name)
    out = capsys.readouterr().out
    assert "STAND-IN" in out and name in out
    assert model.micourse_info.standin
    assert model.cfg.model_name == f"micourse-standin-{name}"
    assert model.to_tokens("The capital of France is", prepend_bos=False)[0].tolist() == [464, 3139, 286, 4881, 318]
    assert "blocks.0.attn.hook_pattern" in model.hook_dict


def test_gpt2_alias(monkeypatch):
    monkeypatch.setenv("MICOURSE_OFFLINE", "1")
    assert models.load_model("gpt2", verbose=False).micourse_info.name == "gpt2-small"


def _child_cpu_seconds(code: str) -> float:
    import resource

    env = {**os.environ, "MICOURSE_OFFLINE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def test_load_time_including_imports():
    """load_model's cost in CPU seconds (wall time depends on what else the machine runs).

    The bar is 10 s. Machines of the same kind differ: on one (2026-11-27) importing TransformerLens
    alone took 11.8 CPU seconds, so there the bar is relative, measured in the same run: loading
    may add at most half of what importing TransformerLens costs.
    """
    floor = _child_cpu_seconds("import transformer_lens")
    cpu = _child_cpu_seconds("from micourse.models import load_model; load_model('gpt2-small')")
    assert cpu < 10.0 or cpu < 1.5 * floor, (
        f"loading the gpt2-small stand-in took {cpu:.1f} CPU seconds ({floor:.1f} to import TransformerLens)"
    )


def test_weights_are_small():
    total = sum(p.stat().st_size for p in WEIGHTS_DIR.glob("*.safetensors"))
    assert 0 < total <= 25 * 2**20


def test_pages_never_call_from_pretrained():
    """Code cells load models only through micourse.models.load_model (prose may name the others)."""
    import jupytext

    offenders = []
    for page in (ROOT / "chapters").rglob("*.md"):
        for cell in jupytext.read(page, fmt="md:myst").cells:
            if cell.cell_type == "code" and any(
                bad in cell.source for bad in ("from_pretrained(", "boot_transformers(", "HookedTransformer.from_")
            ):
                offenders.append(str(page.relative_to(ROOT)))
    assert not offenders, f"pages must load models with micourse.models.load_model: {sorted(set(offenders))}"


@pytest.mark.parametrize("name", ["gpt2-small", "attn-only-2l"])
def test_default_is_processed_like_from_pretrained(name):
    """Offline, load_model gives the same kind of model as from_pretrained does online."""
    processed = models.load_model(name, verbose=False)
    raw = models.load_model(name, process_weights=False, verbose=False)
    assert processed.cfg.normalization_type == "LNPre" and raw.cfg.normalization_type == "LN"
    assert processed.micourse_info.processed and not raw.micourse_info.processed
    assert "blocks.0.ln1.w" not in processed.state_dict() and "blocks.0.ln1.w" in raw.state_dict()
    tokens = torch.randint(1000, 9000, (2, 24), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        p, r = processed(tokens).log_softmax(-1), raw(tokens).log_softmax(-1)
    assert (p.exp() - r.exp()).abs().max() < 1e-4


def test_reference_needs_raw_weights():
    """The bug the online path had: a processed model cannot become the reference GPT-2."""
    from micourse.transformer import GPT2

    with pytest.raises(ValueError, match="LNPre"):
        from_hooked_transformer(models.load_model("gpt2-small", verbose=False))
    ref = models.load_reference("gpt2-small", verbose=False)
    assert isinstance(ref, GPT2) and ref.micourse_info.name == "gpt2-small"


def test_process_weights_must_be_a_bool():
    with pytest.raises(TypeError, match="process_weights"):
        models.load_model("gpt2-small", process_weights="no")


@pytest.mark.slow
def test_bridge_offline_matches_the_standin(capsys):
    from transformers.utils import logging as hf_logging

    hf_logging.enable_progress_bar()
    bridge = models.load_bridge("gpt2-small", verbose=False)
    assert "Loading weights" not in capsys.readouterr().err  # no progress bars on a page
    assert hf_logging.is_progress_bar_enabled()  # ... and the setting is restored
    raw = models.load_model("gpt2-small", process_weights=False, verbose=False)
    tokens = raw.to_tokens("The capital of France is")
    with torch.no_grad():
        assert (bridge(tokens) - raw(tokens)).abs().max() < 1e-3
    assert bridge.micourse_info.standin
    with pytest.raises(ValueError, match="no\\s+TransformerBridge|has no"):
        models.load_bridge("attn-only-2l")


def test_weights_of_another_architecture_say_so(tmp_path):
    """A retrained file whose shape differs from the spec fails with the differing fields, not a size mismatch."""
    import json

    from safetensors.torch import load_file, save_file

    from micourse.standins.weights import read_metadata

    src = WEIGHTS_DIR / "attn-only-2l.safetensors"
    cfg, meta = read_metadata(src)
    path = tmp_path / "wider.safetensors"
    save_file(
        load_file(str(src)), str(path), metadata={"cfg": json.dumps({**cfg, "d_head": 64}), "meta": json.dumps(meta)}
    )
    with pytest.raises(ValueError, match=r"another architecture.*'d_head': \(64, 32\)"):
        models.load_standin("attn-only-2l", path=path)
