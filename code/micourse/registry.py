"""Every model the course ships or trains, declared once.

Two kinds of entry:

- a **stand-in** (`kind="standin"`) takes the place of a pretrained TransformerLens model when
  the Hugging Face hub is unreachable. It has that model's name, tokenizer and hook names; online,
  `load_model` returns the real model instead, and the rehearsal hub (`scripts/rehearsal_hub.py`)
  serves the stand-in's weights under the real repository (`hub`), so the online code path can be
  rehearsed with no internet.
- a **course model** (`kind="course"`) is one the course trains itself (the toy models): the same
  committed file in every world, nothing downloaded.

`micourse.models.load_model`, the rehearsal hub, the models page's table and the tests all read
this table. Adding a model is one `ModelEntry` here, plus the training module its
`train_command` runs; `tests/test_registry.py` shows a dummy entry reaching all of them.

This module imports nothing heavy (no torch, no TransformerLens), so anything may import it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

Kind = Literal["standin", "course"]
KINDS: tuple[str, ...] = ("standin", "course")
# How a stand-in's files are laid out in the real model's hub repository (`micourse.hf_export`
# knows how to write each): a Hugging Face GPT-2 folder, or TransformerLens's NeelNanda format.
HUB_LAYOUTS: tuple[str, ...] = ("hf-gpt2", "tl-neelnanda")


class UnknownModelError(ValueError):
    """A name the registry does not know: the message lists the names it does."""


@dataclass(frozen=True)
class HubRepo:
    """Where the real model of a stand-in lives on the hub, and its real shape."""

    repo: str  # e.g. "gpt2", "NeelNanda/Attn_Only_2L512W_C4_Code"
    layout: str  # one of HUB_LAYOUTS
    real_cfg: dict[str, Any]  # the real model's shape (HookedTransformerConfig keywords), for real-size rehearsals

    def __post_init__(self) -> None:
        if self.layout not in HUB_LAYOUTS:
            raise ValueError(f"Unknown hub layout {self.layout!r}; the course can write {', '.join(HUB_LAYOUTS)}.")


@dataclass(frozen=True)
class ModelEntry:
    """One model: what it is, its architecture, how it is trained, what it can and cannot show."""

    name: str  # a TransformerLens name for a stand-in ("gpt2-small"), a course name otherwise ("grokking")
    kind: Kind
    summary: str  # one line, printed whenever it loads
    cfg: dict[str, Any]  # HookedTransformerConfig keyword arguments (checked against the weight file's)
    train_command: str  # the one command that writes its weights file
    shows: str  # in plain words, what it was trained to show
    cannot_show: str  # in plain words, what it cannot show ("" if nothing worth saying)
    aliases: tuple[str, ...] = ()
    tokenizer: str | None = None  # "gpt2": GPT-2's tokenizer (shipped offline); None: the model reads token ids
    hub: HubRepo | None = None  # stand-ins only: the real model's repository
    scorecard: str | None = None  # "module:function": model -> {measure: value}, computed live on the models page
    weights_file: str = ""  # under WEIGHTS_DIR (default NAME.safetensors); an absolute path is used as it is
    process_weights: bool = True  # loaded as `from_pretrained` does (fold LayerNorm, centre); course models: False
    # "after_load": "module:function" applied to the loaded model (course models that need a hook);
    # "online_loader": "module:function(entry, device, process_weights=...)" for a real model that
    # TransformerLens cannot load by name
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind must be one of {KINDS}, not {self.kind!r}.")
        if self.kind == "standin" and self.hub is None:
            raise ValueError(f"{self.name}: a stand-in names the real model's hub repository (hub=HubRepo(...)).")
        if self.kind == "course" and self.hub is not None:
            raise ValueError(f"{self.name}: a course model is the same in every world and has no hub repository.")

    @property
    def weights_path(self) -> Path:
        return WEIGHTS_DIR / (self.weights_file or f"{self.name}.safetensors")


_GPT2_VOCAB = dict(d_vocab=50257, d_vocab_out=50257, tokenizer_prepends_bos=False, default_prepend_bos=True)

_ENTRIES: list[ModelEntry] = [
    ModelEntry(
        name="gpt2-small",
        kind="standin",
        aliases=("gpt2",),
        summary=(
            "a 4-layer GPT-2-style model trained by this course on two public-domain Bibles (King James, "
            "World English) plus synthetic facts, indirect-object and sentiment sentences"
        ),
        cfg=dict(
            n_layers=4,
            d_model=128,
            n_heads=4,
            d_head=32,
            d_mlp=512,
            n_ctx=256,
            act_fn="gelu_new",
            normalization_type="LN",
            positional_embedding_type="standard",
            original_architecture="GPT2LMHeadModel",
            **_GPT2_VOCAB,
        ),
        tokenizer="gpt2",
        train_command="python -m micourse.standins.train gpt2-small",
        shows=(
            "induction heads; a few dozen facts (capitals, landmarks, languages) in the phrasings it was trained "
            "on; sentiment it can be steered on; indirect-object identification on the sentence forms it was "
            "trained on"
        ),
        cannot_show=(
            "indirect-object identification on sentence forms it never saw (there it is near chance); GPT-2's "
            "own heads, its breadth of knowledge, fluent text"
        ),
        hub=HubRepo(
            repo="gpt2",
            layout="hf-gpt2",
            real_cfg=dict(n_layers=12, d_model=768, n_heads=12, d_head=64, d_mlp=3072, n_ctx=1024, **_GPT2_VOCAB),
        ),
        scorecard="micourse.model_cards:gpt2_small_card",
    ),
    ModelEntry(
        name="attn-only-2l",
        kind="standin",
        summary=(
            "a 2-layer attention-only model trained by this course on sequences of repeated random tokens, "
            "where only an induction circuit lowers the loss"
        ),
        cfg=dict(
            n_layers=2,
            d_model=128,
            n_heads=4,
            d_head=32,
            n_ctx=256,
            attn_only=True,
            act_fn="gelu_new",
            normalization_type="LN",
            positional_embedding_type="standard",
            **_GPT2_VOCAB,
        ),
        tokenizer="gpt2",
        train_command="python -m micourse.standins.train attn-only-2l",
        shows="a previous-token head in layer 0 and induction heads in layer 1 (a clean induction circuit)",
        cannot_show="anything about natural text: it was trained only on repeated random tokens",
        hub=HubRepo(
            repo="NeelNanda/Attn_Only_2L512W_C4_Code",
            layout="tl-neelnanda",
            real_cfg=dict(
                n_layers=2,
                d_model=512,
                n_heads=8,
                d_head=64,
                d_mlp=2048,
                n_ctx=2048,
                d_vocab=50257,
                act_fn="solu_ln",
                attn_only=True,
                normalization_type="LN",
            ),
        ),
        scorecard="micourse.model_cards:attn_only_card",
    ),
]


# ---------------------------------------------------------------- the course's own models (same in every world)
_ENTRIES += [
    ModelEntry(
        name="brackets",
        kind="course",
        summary=(
            "a 3-layer bidirectional classifier of bracket strings (balanced or not), trained by this course on "
            "strings from its own generator"
        ),
        cfg={
            "n_layers": 3,
            "d_model": 56,
            "n_heads": 2,
            "d_head": 28,
            "d_mlp": 56,
            "act_fn": "relu",
            "normalization_type": "LN",
            "attention_dir": "bidirectional",
            "d_vocab": 5,
            "d_vocab_out": 2,
            "n_ctx": 42,
            "seed": 0,
            "use_hook_tokens": True,
            "default_prepend_bos": False,
            "device": "cpu",
        },
        train_command="python -m micourse.toys.brackets.train",
        shows="which components check the total elevation and which check that it never goes negative",
        cannot_show="",
        process_weights=False,
        extra={"after_load": "micourse.toys.brackets.model:add_pad_mask"},
    ),
    ModelEntry(
        name="grokking",
        kind="course",
        summary="a 1-layer transformer trained by this course on (a + b) mod p until it generalised (grokking)",
        cfg={
            "n_layers": 1,
            "d_model": 128,
            "n_heads": 4,
            "d_head": 32,
            "d_mlp": 512,
            "act_fn": "relu",
            "normalization_type": None,
            "d_vocab": 72,
            "d_vocab_out": 71,
            "n_ctx": 3,
            "attn_only": False,
            "seed": 999,
            "default_prepend_bos": False,
            "device": "cpu",
        },
        train_command="python -m micourse.toys.grokking.train",
        shows="modular addition read off completely: Fourier embeddings, trigonometric identities, the three phases",
        cannot_show="",
        process_weights=False,
    ),
]

REGISTRY: dict[str, ModelEntry] = {}
ALIASES: dict[str, str] = {}


def register(entry: ModelEntry) -> ModelEntry:
    """Add `entry` (a name or alias already taken is an error, not a silent replacement)."""
    for key in (entry.name, *entry.aliases):
        if key in ALIASES:
            raise ValueError(f"The model name {key!r} is already registered (for {ALIASES[key]!r}).")
    REGISTRY[entry.name] = entry
    for key in (entry.name, *entry.aliases):
        ALIASES[key] = entry.name
    return entry


def unregister(name: str) -> None:
    entry = REGISTRY.pop(name)
    for key in (entry.name, *entry.aliases):
        ALIASES.pop(key, None)


@contextlib.contextmanager
def registered(entry: ModelEntry) -> Iterator[ModelEntry]:
    """`entry` in the registry for the duration of a `with` block (tests)."""
    register(entry)
    try:
        yield entry
    finally:
        unregister(entry.name)


for _entry in _ENTRIES:
    register(_entry)


def known_models(kind: Kind | None = None) -> list[str]:
    return sorted(n for n, e in REGISTRY.items() if kind is None or e.kind == kind)


def get(name: str) -> ModelEntry:
    """The entry for `name` or one of its aliases; a clear error for anything else."""
    if not isinstance(name, str):
        raise TypeError(f"load_model takes a model name (a string), not {type(name).__name__}.")
    if name not in ALIASES:
        raise UnknownModelError(
            f"Unknown model name {name!r}. The course knows: {', '.join(known_models())}. "
            "(Stand-ins use TransformerLens's names, e.g. 'gpt2-small'.)"
        )
    return REGISTRY[ALIASES[name]]


def entries(kind: Kind | None = None) -> list[ModelEntry]:
    return [REGISTRY[n] for n in known_models(kind)]


def resolve(dotted: str):
    """The object a "module:attribute" string names (scorecards, loaders)."""
    import importlib

    module, _, attr = dotted.partition(":")
    if not attr:
        raise ValueError(f"{dotted!r} should read 'package.module:function'.")
    return getattr(importlib.import_module(module), attr)


def read_metadata(path: Path) -> tuple[dict, dict]:
    """A weight file's architecture and training metadata, without loading its tensors."""
    import json

    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        md = f.metadata() or {}
    return json.loads(md.get("cfg", "{}")), json.loads(md.get("meta", "{}"))


def table() -> list[dict[str, object]]:
    """One row per model, from the entries and their committed weight files (no model is loaded)."""
    rows = []
    for entry in entries():
        path = entry.weights_path
        meta = read_metadata(path)[1] if path.exists() else {}
        cfg = entry.cfg
        rows.append(
            {
                "name": entry.name,
                "kind": "stand-in for " + entry.hub.repo if entry.hub else "the course's own",
                "layers": cfg.get("n_layers"),
                "d_model": cfg.get("d_model"),
                "heads": cfg.get("n_heads"),
                "d_mlp": "none" if cfg.get("attn_only") else cfg.get("d_mlp"),
                "file (MB)": round(path.stat().st_size / 1e6, 2) if path.exists() else "missing",
                "training time (min, CPU)": round(meta["train_seconds"] / 60) if "train_seconds" in meta else None,
                "seed": meta.get("seed"),
                "command": entry.train_command,
            }
        )
    return rows
