"""A local stand-in for the Hugging Face hub: the online code path, rehearsed without internet.

Learners on Colab and the GitHub Actions build load the real models with
`HookedTransformer.from_pretrained`; this machine cannot reach the hub. This server plays the
hub's part of that conversation (the requests huggingface_hub really makes, with the headers it
insists on) and serves the course's stand-in weights under the real repository names, in the
real file formats (see `micourse.hf_export`). Pointed at it through `HF_ENDPOINT`, the course
takes its online path unmodified: config conversion, weight download, weight processing,
tokenizer download. Loaded models say that they are rehearsal copies.

    python scripts/rehearsal_hub.py serve [--port 8765]            # serve until Ctrl-C
    python scripts/rehearsal_hub.py run -- pytest --nbmake X.ipynb  # run a command against it
    python scripts/rehearsal_hub.py run --real-size -- ...          # random weights of the real shapes

`run` sets, for the command only: HF_ENDPOINT (this server), a fresh HF_HOME (no stale cache),
MICOURSE_REHEARSAL=1, MICOURSE_OFFLINE=0, and removes HF_HUB_OFFLINE. It never answers 5xx,
408 or 429 (huggingface_hub would retry for ~23 s) and never sends X-Xet-* headers.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = ROOT / "build" / "rehearsal-hub"


# --------------------------------------------------------------------------- the repositories


def build_repos(folder: Path, real_size: bool = False) -> dict[str, Path]:
    """repo id -> folder of its files, for every stand-in in `micourse.registry`.

    Stand-in weights by default; random weights of the real shapes on request. Rebuilt only when a
    committed weight file or the registry's list of repositories changed.
    """
    sys.path.insert(0, str(ROOT / "code"))
    from micourse import registry
    from micourse.hf_export import export

    kind = "real-size" if real_size else "standin"
    standins = registry.entries("standin")
    repos = {e.hub.repo: folder / kind / e.hub.repo.replace("/", "--") for e in standins}
    stamp = folder / kind / "stamp.json"
    want = json.dumps(_weights_stamp(real_size, standins))
    if stamp.exists() and stamp.read_text() == want and all(p.exists() for p in repos.values()):
        return repos
    shutil.rmtree(folder / kind, ignore_errors=True)
    for entry in standins:
        export(entry, repos[entry.hub.repo], real_size=real_size)
    stamp.write_text(want)
    return repos


def _weights_stamp(real_size: bool, standins) -> dict:
    def size(path: Path) -> int | None:
        return path.stat().st_size if path.exists() else None

    return {
        "real_size": real_size,
        **{e.hub.repo: [e.hub.layout, e.hub.real_cfg if real_size else size(e.weights_path)] for e in standins},
    }


# --------------------------------------------------------------------------- the server


class Hub:
    def __init__(self, repos: dict[str, Path]):
        self.repos = repos
        self.files: dict[str, dict[str, Path]] = {
            rid: {str(p.relative_to(d)): p for p in sorted(d.rglob("*")) if p.is_file()} for rid, d in repos.items()
        }
        self.etags = {rid: {name: self._digest(p) for name, p in files.items()} for rid, files in self.files.items()}
        self.commits = {
            rid: hashlib.sha1("".join(f"{n}:{e}" for n, e in sorted(etags.items())).encode()).hexdigest()
            for rid, etags in self.etags.items()
        }
        self.log: list[str] = []

    @staticmethod
    def _digest(path: Path) -> str:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()

    def revision_ok(self, repo: str, rev: str) -> bool:
        return unquote(rev) in ("main", self.commits[repo])


def _split_repo(path: str, marker: str, hub: Hub) -> tuple[str | None, str]:
    """'/NeelNanda/X/resolve/main/config.json' -> ('NeelNanda/X', 'main/config.json')."""
    head, sep, tail = path.partition(marker)
    repo = head.strip("/")
    return (repo if sep and repo in hub.repos else None), tail


def make_handler(hub: Hub):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # keep the test output clean; keep a record instead
            hub.log.append(f"{self.command} {self.path} -> {args[1] if len(args) > 1 else ''}")

        def _send(self, status: int, body: bytes = b"", headers: dict | None = None, ctype="application/json"):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _not_found(self, code: str, message: str):
            body = json.dumps({"error": message}).encode()
            self._send(404, body, {"X-Error-Code": code, "X-Error-Message": message})

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            path = urlsplit(self.path).path
            if path.startswith("/api/models/"):
                return self._api(path[len("/api/models/") :])
            if "/resolve/" in path:
                return self._resolve(path)
            return self._not_found("RepoNotFound", f"no such path {path}")

        def _api(self, rest: str):
            for marker in ("/tree/", "/revision/"):
                if marker in rest:
                    repo, _, tail = rest.partition(marker)
                    rev = tail.split("/", 1)[0]
                    break
            else:
                repo, marker, rev = rest.strip("/"), "", "main"
            if repo not in hub.repos:
                return self._not_found("RepoNotFound", f"Repository {repo} not found")
            if not hub.revision_ok(repo, rev):
                return self._not_found("RevisionNotFound", f"Revision {rev} not found")
            sha = hub.commits[repo]
            if marker == "/tree/":
                sub = unquote(tail.split("/", 1)[1]).strip("/") if "/" in tail else ""
                entries = [
                    {"type": "file", "path": n, "size": p.stat().st_size, "oid": hub.etags[repo][n][:40]}
                    for n, p in hub.files[repo].items()
                    if not sub or n.startswith(sub + "/")
                ]
                if sub and not entries:
                    return self._not_found("EntryNotFound", f"{sub} does not exist in {repo}")
                return self._send(200, json.dumps(entries).encode())
            info = {
                "id": repo,
                "modelId": repo,
                "sha": sha,
                "private": False,
                "gated": False,
                "disabled": False,
                "siblings": [{"rfilename": n} for n in hub.files[repo]],
                "tags": [],
                "library_name": "transformers",
            }
            return self._send(200, json.dumps(info).encode())

        def _resolve(self, path: str):
            repo, tail = _split_repo(path, "/resolve/", hub)
            if repo is None:
                return self._not_found("RepoNotFound", f"Repository for {path} not found")
            rev, _, name = tail.partition("/")
            if not hub.revision_ok(repo, rev):
                return self._not_found("RevisionNotFound", f"Revision {rev} not found")
            name = unquote(name)
            if name.startswith("./"):
                name = name[2:]
            file = hub.files[repo].get(name)
            if file is None:
                return self._not_found("EntryNotFound", f"{name} does not exist in {repo}")
            headers = {
                "X-Repo-Commit": hub.commits[repo],
                "ETag": f'"{hub.etags[repo][name]}"',
                "Accept-Ranges": "none",
            }
            size = file.stat().st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command == "GET":
                with file.open("rb") as f:
                    shutil.copyfileobj(f, self.wfile, 1 << 20)

    return Handler


class RehearsalHub:
    """The server in a background thread: `with RehearsalHub(repos) as hub: ... hub.url ...`."""

    def __init__(self, repos: dict[str, Path], port: int = 0, host: str = "127.0.0.1", real_size: bool = False):
        self.hub = Hub(repos)
        self.weights = "random weights of the real shapes" if real_size else "the course's stand-in weights"
        self.server = http.server.ThreadingHTTPServer((host, port), make_handler(self.hub))
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RehearsalHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def env(self, hf_home: str) -> dict[str, str]:
        """The environment a process needs to take the online path through this hub."""
        env = dict(os.environ)
        env.pop("HF_HUB_OFFLINE", None)
        env.pop("TRANSFORMERS_OFFLINE", None)
        env.update(
            HF_ENDPOINT=self.url,
            HF_HOME=hf_home,
            MICOURSE_REHEARSAL="1",
            MICOURSE_OFFLINE="0",
            MICOURSE_REHEARSAL_WEIGHTS=self.weights,
            HF_HUB_DISABLE_TELEMETRY="1",
            HF_HUB_DISABLE_XET="1",
        )
        return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["serve", "run"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where the repositories' files are built")
    parser.add_argument("--real-size", action="store_true", help="random weights of the real models' shapes")
    parser.add_argument("--log", type=Path, default=None, help="write the requests the hub answered to this file")
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    repos = build_repos(args.dir, args.real_size)
    with (
        RehearsalHub(repos, args.port, real_size=args.real_size) as hub,
        tempfile.TemporaryDirectory(prefix="rehearsal-hf-home-") as home,
    ):
        print(
            f"[rehearsal] stand-in for the Hugging Face hub at {hub.url} serving {', '.join(repos)}"
            f" ({'random real-size weights' if args.real_size else 'the course stand-ins'})",
            flush=True,
        )
        try:
            if args.mode == "serve":
                print(f"[rehearsal] export HF_ENDPOINT={hub.url} MICOURSE_REHEARSAL=1; Ctrl-C stops", flush=True)
                threading.Event().wait()
                return 0
            if not command:
                parser.error("run needs a command after --")
            return subprocess.call(command, env=hub.env(home))
        except KeyboardInterrupt:
            return 130
        finally:
            if args.log:
                args.log.write_text("\n".join(hub.hub.log) + "\n")


if __name__ == "__main__":
    sys.exit(main())
