"""The model registry: one entry reaches load_model, the rehearsal hub and the models page's table.

A dummy entry (a tiny course model and a tiny stand-in, weights written to a temporary folder)
is added for the test only; nothing else in the package had to change for it to be loadable.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest
import torch

from micourse import models, registry

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(
    n_layers=1,
    d_model=16,
    n_heads=2,
    d_head=8,
    d_mlp=32,
    n_ctx=8,
    d_vocab=7,
    d_vocab_out=7,
    act_fn="relu",
    normalization_type="LN",
)


def _write_weights(path: Path, cfg: dict, seed: int = 0) -> None:
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    from micourse.standins.weights import save_standin

    model = HookedTransformer(HookedTransformerConfig(**cfg, seed=seed), move_to_device=False)
    save_standin(model.state_dict(), cfg, path, seen=None, meta={"train_seconds": 60, "seed": seed, "steps": 1})


@pytest.fixture
def dummy_course(tmp_path):
    path = tmp_path / "dummy-toy.safetensors"
    _write_weights(path, TINY)
    entry = registry.ModelEntry(
        name="dummy-toy",
        kind="course",
        summary="a one-layer test model",
        cfg=TINY,
        train_command="python -m nowhere.train",
        shows="nothing",
        cannot_show="anything",
        weights_file=str(path),
        process_weights=False,
    )
    with registry.registered(entry):
        yield entry


def test_a_dummy_course_model_loads_by_name_in_every_world(dummy_course, monkeypatch, capsys):
    for offline in ("1", "0"):  # a course model never goes to the hub
        monkeypatch.setenv("MICOURSE_OFFLINE", offline)
        model = models.load_model("dummy-toy")
        assert "the course's own model" in capsys.readouterr().out
        assert model.cfg.d_model == 16 and not model.micourse_info.standin
        assert model(torch.tensor([[1, 2, 3]])).shape == (1, 3, 7)
    assert "dummy-toy" in models.known_models()


def test_a_dummy_entry_appears_in_the_models_table(dummy_course):
    row = {r["name"]: r for r in registry.table()}["dummy-toy"]
    assert row["training time (min, CPU)"] == 1 and row["command"] == "python -m nowhere.train"


def test_a_dummy_standin_is_served_by_the_rehearsal_hub(tmp_path, monkeypatch):
    cfg = {**TINY, "d_vocab": 50257, "d_vocab_out": 50257, "act_fn": "gelu_new", "n_ctx": 16}
    path = tmp_path / "dummy-standin.safetensors"
    _write_weights(path, cfg)
    entry = registry.ModelEntry(
        name="dummy-standin",
        kind="standin",
        summary="a tiny stand-in",
        cfg=cfg,
        train_command="python -m nowhere.train",
        shows="nothing",
        cannot_show="anything",
        tokenizer="gpt2",
        hub=registry.HubRepo(repo="course-tests/dummy", layout="tl-neelnanda", real_cfg=cfg),
        weights_file=str(path),
    )
    sys.path.insert(0, str(ROOT / "scripts"))
    import rehearsal_hub

    with registry.registered(entry):
        monkeypatch.setenv("MICOURSE_OFFLINE", "1")
        assert models.load_model("dummy-standin", verbose=False).micourse_info.standin
        repos = rehearsal_hub.build_repos(tmp_path / "hub")
        assert "course-tests/dummy" in repos
        served = repos["course-tests/dummy"]
        assert json.loads((served / "config.json").read_text())["d_model"] == 16
        assert (served / "model_final.pth").exists()
        # and every real stand-in is still there
        for real in registry.entries("standin"):
            assert real.hub.repo in repos


def test_bad_entries_are_refused():
    with pytest.raises(ValueError, match="hub repository"):
        registry.ModelEntry(name="x", kind="standin", summary="", cfg={}, train_command="", shows="", cannot_show="")
    with pytest.raises(ValueError, match="kind"):
        registry.ModelEntry(name="x", kind="toy", summary="", cfg={}, train_command="", shows="", cannot_show="")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.get("gpt2-small"))
    with pytest.raises(ValueError, match="layout"):
        registry.HubRepo(repo="a/b", layout="zip", real_cfg={})


def test_a_file_trained_for_another_shape_is_refused(tmp_path):
    path = tmp_path / "wrong.safetensors"
    _write_weights(path, {**TINY, "d_model": 24, "d_head": 12})
    entry = registry.ModelEntry(
        name="dummy-wrong",
        kind="course",
        summary="",
        cfg=TINY,
        train_command="python -m nowhere.train",
        shows="",
        cannot_show="",
        weights_file=str(path),
    )
    with registry.registered(entry), pytest.raises(ValueError, match="d_model"):
        models.load_model("dummy-wrong")


def _imports(path: Path, module: str) -> set[str]:
    """Every micourse module `path` imports, at the top or inside a function."""
    found = set()
    package = module.rsplit(".", 1)[0] if not path.name == "__init__.py" else module
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("micourse")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if base.startswith("micourse"):
                found.add(base)
                found |= {f"{base}.{a.name}" for a in node.names}
    return found


def test_no_import_cycle_in_the_package():
    """Counting imports inside functions too: a lazy import cycle is still a cycle to read around."""
    code = ROOT / "code"
    modules = {}
    for path in (code / "micourse").rglob("*.py"):
        rel = path.relative_to(code).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        modules[name] = path
    graph = {}
    for name, path in modules.items():
        deps = {d for d in _imports(path, name) if d in modules}
        # importing a.b.c runs a/__init__ and a/b/__init__ first: those edges are not cycles of the code
        graph[name] = {d for d in deps if not name.startswith(d + ".") and d != name}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for d in sorted(graph[n]):
            if state.get(d) == 1:
                cycle = stack[stack.index(d) :] + [d]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
