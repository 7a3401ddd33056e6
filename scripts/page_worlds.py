#!/usr/bin/env python
"""The two worlds a page runs in, for `make test`: which pages to rehearse, and how long each took.

    python scripts/page_worlds.py rehearse [--all]   # the solutions notebooks the rehearsal runs
    python scripts/page_worlds.py times              # every page's execution time in each world

`make test` executes each page once per world:

- offline, in the site build (`scripts/build_site.py`): every page, through jupyter-cache;
- online, in the rehearsal (`make test-rehearsal`): the solutions notebook of every page that may
  behave differently online (`coursebuild.worlds`). A page that touches neither the hub nor a
  stand-in (its models are the course's own files, nothing is downloaded) runs the same code in
  both worlds: the rehearsal lists it as skipped, with the reason. `--all` rehearses every page.

`times` reads the execution cache (seconds of the page's last execution, "cached" when this build
reused it) and the rehearsal's JUnit report, and prints one row per page, slowest first.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))
sys.path.insert(0, str(ROOT / "code"))

from coursebuild import notebooks, worlds  # noqa: E402

NOTEBOOKS = ROOT / "build" / "notebooks"
CACHE = ROOT / "_build" / ".jupyter_cache"
JUNIT = ROOT / "_build" / "rehearsal-junit.xml"
SKIPPED = ROOT / "_build" / "rehearsal-skipped.txt"
SITE_STAMP = ROOT / "_build" / "site-build-started"


def _pages() -> dict[str, Path]:
    return notebooks.pages_in_toc(ROOT / "book" / "_toc.yml", ROOT)


def rehearse(all_pages: bool, out_dir: Path) -> int:
    from micourse import registry

    course = set(registry.known_models("course"))
    run, skipped = [], []
    for docname, src in _pages().items():
        nb = out_dir / notebooks.notebook_relpath(docname, "solutions")
        if not nb.exists():
            print(f"missing {nb}: run `make notebooks`", file=sys.stderr)
            return 1
        reasons = worlds.two_world_reasons(src.read_text(encoding="utf8"), course)
        if reasons or all_pages:
            run.append(str(nb))
        else:
            skipped.append(f"{docname}: touches no hub and no stand-in, so it runs the same code offline (site build)")
    SKIPPED.parent.mkdir(parents=True, exist_ok=True)
    SKIPPED.write_text("".join(s + "\n" for s in skipped))
    print("\n".join(run))
    return 0


def _offline_times() -> dict[str, tuple[float | None, bool]]:
    """docname -> (seconds of its last execution, whether this build executed it)."""
    if not CACHE.exists():
        return {}
    from jupyter_cache import get_cache

    started = SITE_STAMP.stat().st_mtime if SITE_STAMP.exists() else 0.0
    out = {}
    for record in get_cache(str(CACHE)).list_cache_records():
        try:
            docname = str(Path(record.uri).resolve().relative_to(ROOT).with_suffix(""))
        except ValueError:
            continue
        seconds = (record.data or {}).get("execution_seconds")
        fresh = record.created.timestamp() >= started
        if docname not in out or fresh:
            out[docname] = (seconds, fresh)
    return out


def _rehearsal_times() -> dict[str, float]:
    """docname -> seconds, from nbmake's JUnit report (a test case's classname is its path, dotted)."""
    if not JUNIT.exists():
        return {}
    dotted = {notebooks.notebook_relpath(d, "solutions").replace("/", "."): d for d in _pages()}
    out = {}
    for case in ET.parse(JUNIT).getroot().iter("testcase"):
        classname = case.get("classname") or ""
        for suffix, docname in dotted.items():
            if classname == suffix or classname.endswith("." + suffix):
                out[docname] = out.get(docname, 0.0) + float(case.get("time", 0))
    return out


def times() -> int:
    offline, online = _offline_times(), _rehearsal_times()
    skipped = {line.split(":")[0] for line in SKIPPED.read_text().splitlines()} if SKIPPED.exists() else set()
    rows = []
    for docname in _pages():
        off, fresh = offline.get(docname, (None, False))
        on = online.get(docname)
        rows.append((max(off or 0, on or 0), docname, off, fresh, on))
    rows.sort(reverse=True)
    print(f"{'page':58} {'offline (site build)':>22} {'online (rehearsal)':>20}")
    for _, docname, off, fresh, on in rows:
        off_s = "-" if off is None else f"{off:7.1f} s" + ("" if fresh else " (cached)")
        on_s = "same as offline" if docname in skipped else ("-" if on is None else f"{on:7.1f} s")
        print(f"{docname:58} {off_s:>22} {on_s:>20}")
    total_off = sum(r[2] or 0 for r in rows if r[3])
    total_on = sum(r[4] or 0 for r in rows)
    print(f"{'total executed in this run':58} {total_off:9.1f} s {'':>12} {total_on:9.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["rehearse", "times"])
    parser.add_argument("--all", action="store_true", help="rehearse: every page, world-independent ones too")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS)
    args = parser.parse_args(argv)
    if args.what == "rehearse":
        return rehearse(args.all, args.notebooks)
    return times()


if __name__ == "__main__":
    sys.exit(main())
