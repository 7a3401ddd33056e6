"""How long each page takes at the real models' size on this CPU, beside the stand-ins.

A learner on a free Colab CPU runtime runs the pages with the real gpt2-small (124M
parameters), not the course's small stand-ins. This script serves random weights of the real
shapes through the rehearsal hub (`scripts/rehearsal_hub.py --real-size`) and runs every
solutions notebook twice in one session, once with the stand-ins and once at real size, each in
a fresh kernel: wall time and the kernel's peak memory, side by side, and their ratio.

Random weights cannot pass a page's checks of what a trained model knows, so errors are allowed
and counted: the timing is what matters here (a page stops early only if it errors, which the
"errors" column shows).

    python scripts/bench_real_size.py [--notebooks build/notebooks] [--only 03-clean] [--out table.md]
                                      [--real-only]

`--real-only` skips the stand-in runs (their times are in the site build's execution report).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import rehearsal_hub  # noqa: E402


def run_one(path: Path) -> dict:
    """Execute one notebook in a fresh kernel (in this process); time, errors, the kernel's peak RSS."""
    import nbformat
    import psutil
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    peak = [0]
    done = threading.Event()

    def sample() -> None:  # the kernel is a child of this process: poll its resident memory
        me = psutil.Process()
        while not done.wait(0.1):
            try:
                peak[0] = max(peak[0], sum(c.memory_info().rss for c in me.children(recursive=True)))
            except psutil.Error:
                pass

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=1800, allow_errors=True, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    errors = [
        o.get("ename", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    return {"seconds": seconds, "errors": errors, "peak_mb": peak[0] / 2**20}


def measure(path: Path, hub: rehearsal_hub.RehearsalHub, home: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--one", str(path)], env=hub.env(home), capture_output=True, text=True
    )
    if out.returncode != 0:
        return {"seconds": float("nan"), "errors": [f"runner failed: {out.stderr[-300:]}"], "peak_mb": float("nan")}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", type=Path, default=ROOT / "build" / "notebooks")
    parser.add_argument("--only", default="", help="substring of the notebook paths to run")
    parser.add_argument("--out", type=Path, default=None, help="also write the table (markdown) here")
    parser.add_argument("--real-only", action="store_true", help="skip the stand-in runs")
    parser.add_argument("--one", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one)))
        return 0
    notebooks = sorted(p for p in args.notebooks.rglob("*-solutions.ipynb") if args.only in str(p))
    if not notebooks:
        parser.error(f"no solutions notebooks under {args.notebooks} (run `make notebooks`)")
    rows = []
    standin_repos = rehearsal_hub.build_repos(rehearsal_hub.DEFAULT_DIR)
    real_repos = rehearsal_hub.build_repos(rehearsal_hub.DEFAULT_DIR, real_size=True)
    with (
        rehearsal_hub.RehearsalHub(standin_repos) as small,
        rehearsal_hub.RehearsalHub(real_repos, real_size=True) as real,
    ):
        for nb in notebooks:
            with tempfile.TemporaryDirectory() as h1, tempfile.TemporaryDirectory() as h2:
                skipped = {"seconds": float("nan"), "errors": [], "peak_mb": float("nan")}
                a = skipped if args.real_only else measure(nb, small, h1)
                b = measure(nb, real, h2)
            name = str(nb.relative_to(args.notebooks)).removesuffix("-solutions.ipynb")
            rows.append((name, a, b))
            print(
                f"{name:38} stand-in {a['seconds']:6.1f} s {a['peak_mb']:6.0f} MB | real size {b['seconds']:6.1f} s "
                f"{b['peak_mb']:6.0f} MB | x{b['seconds'] / a['seconds']:.1f} | errors at real size: {len(b['errors'])}",
                flush=True,
            )
    lines = [
        "| page | stand-in: time | peak memory | real size: time | peak memory | time ratio | errors at real size (random weights) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, a, b in rows:
        errs = ", ".join(sorted(set(b["errors"]))) or "none"
        lines.append(
            f"| {name} | {a['seconds']:.0f} s | {a['peak_mb']:.0f} MB | {b['seconds']:.0f} s | {b['peak_mb']:.0f} MB | "
            f"{b['seconds'] / a['seconds']:.1f}x | {len(b['errors'])} ({errs}) |"
        )
    table = "\n".join(lines)
    print("\n" + table)
    if args.out:
        args.out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
