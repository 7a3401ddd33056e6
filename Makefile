# The two commands of the README, and the steps they are made of.
#
#   make serve   build the executed site and serve it on http://127.0.0.1:$(PORT)/
#   make test    every check: unit tests, site build, notebooks, browser tests
#
# Both set up .venv first (scripts/setup_env.sh: a second run skips what is installed).
# `make help` lists the smaller targets.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(abspath $(VENV))/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
BUILD := _build
SITE := $(BUILD)/html
# The generated notebooks the tests run: nbmake ignores any path with a `_build` folder in it,
# so they go to build/ (git-ignored). They are byte-identical to the published ones in
# _build/html/notebooks (tests/test_notebooks_run.py checks it).
NOTEBOOKS := build/notebooks
NICE ?= nice -n 10
# pytest options added by CI or by hand, e.g. `make test PYTEST_ARGS=-x`
PYTEST_ARGS ?=
# seconds per notebook for nbmake
NB_TIMEOUT ?= 900

# The venv's tools come first on PATH, so that notebook kernels run the venv's Python.
export PATH := $(abspath $(VENV))/bin:$(PATH)
export PYTHONDONTWRITEBYTECODE := 1
export MPLBACKEND := Agg

.PHONY: help setup setup-browser site notebooks serve test test-unit test-notebooks \
        test-exercises test-solutions test-browser test-rehearsal lint-workflows clean clean-cache

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup:  ## create .venv and install the course (skips what is installed)
	@bash scripts/setup_env.sh

setup-browser:  ## setup, plus headless Chromium and its driver (apt, needs root)
	@bash scripts/setup_env.sh --browser

site: setup  ## build the executed site into _build/html (pages re-run only when their code changed)
	$(NICE) $(PY) scripts/build_site.py $(BUILD_ARGS)

# The site build also writes each page's notebooks into _build/html/notebooks/ (published).
notebooks: setup  ## generate every page's exercises and solutions notebooks into build/notebooks
	rm -rf $(NOTEBOOKS)
	$(PY) scripts/make_notebooks.py --out $(NOTEBOOKS)

serve: site  ## build, then serve the site locally
	@echo ""
	@echo "  The course is at  http://$(HOST):$(PORT)/   (Ctrl-C to stop)"
	@echo ""
	$(PY) -m http.server $(PORT) --bind $(HOST) --directory $(SITE)

# Each stage prints how long it took ("[time] ..."), so a slow stage is easy to spot. Every page
# executes once per world: offline in the site build, online in the rehearsal (pages that touch
# neither the hub nor a stand-in run the same code in both, so the rehearsal skips them and says
# so). The exercises notebooks are proven by reading them (coursebuild.stubflow), not by a third
# execution; `make test-exercises` still executes them all. The last line of output is a table of
# every page's execution time in each world, slowest first.
test: setup-browser  ## run every check; exits non-zero on any failure
	TIMEFORMAT='[time] %0R s  unit tests'; time $(MAKE) --no-print-directory test-unit
	TIMEFORMAT='[time] %0R s  site build (every page, offline)'; time $(MAKE) --no-print-directory site BUILD_ARGS="--strict-toc $(BUILD_ARGS)"
	TIMEFORMAT='[time] %0R s  notebooks'; time $(MAKE) --no-print-directory notebooks
	TIMEFORMAT='[time] %0R s  exercises notebooks (read), browser'; time $(MAKE) --no-print-directory test-notebooks
	TIMEFORMAT='[time] %0R s  online rehearsal'; time $(MAKE) --no-print-directory test-rehearsal
	@$(PY) scripts/page_worlds.py times

test-unit: setup lint  ## ruff, then the unit tests of the package, the checkers and the tooling
	$(NICE) $(PY) -m pytest tests \
	    --ignore=tests/test_notebooks_run.py --ignore=tests/test_site_browser.py \
	    --ignore=tests/test_plan_tracker.py $(PYTEST_ARGS)

lint: setup  ## ruff: lint and formatting (configured in pyproject.toml); `make format` fixes both
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: setup  ## apply ruff's fixes and formatting
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# One pytest run, so that its closing line counts everything that needs the built site: every
# exercises notebook read for failures outside its stubs (and checked against its solutions
# notebook), the notebooks the tests use are the published ones, every page in headless Chromium.
test-notebooks: export MICOURSE_REQUIRE_SITE := 1
test-notebooks:  ## (needs `make site notebooks`) exercises notebooks (read, not run), browser tests
	$(NICE) $(PY) -m pytest -p no:cacheprovider tests/test_exercises_static.py tests/test_notebooks_run.py \
	    tests/test_site_browser.py tests/test_plan_tracker.py $(PYTEST_ARGS)

# The online path (Colab, GitHub Actions) rehearsed here: scripts/rehearsal_hub.py serves the
# stand-ins under the real repository names through HF_ENDPOINT, so every solutions notebook
# that may behave differently online loads its models with HookedTransformer.from_pretrained,
# as on Colab (scripts/page_worlds.py decides which; REHEARSE_ALL=1 runs every page). Nothing
# built in this mode is published.
REHEARSE_ALL ?=
test-rehearsal:  ## (needs `make notebooks`) solutions notebooks through the online path, against a local stand-in for the hub
	@sols=( $$($(PY) scripts/page_worlds.py rehearse $(if $(REHEARSE_ALL),--all) --notebooks $(NOTEBOOKS)) ); \
	if [ $${#sols[@]} -eq 0 ]; then echo "no solutions notebook to rehearse under $(NOTEBOOKS): run 'make notebooks'" >&2; exit 1; fi; \
	echo "[test] $${#sols[@]} solutions notebooks through the online path (rehearsal hub)"; \
	sed 's/^/[test] rehearsal skips /' $(BUILD)/rehearsal-skipped.txt; \
	$(NICE) $(PY) scripts/rehearsal_hub.py run -- $(PY) -m pytest --nbmake --nbmake-timeout=$(NB_TIMEOUT) \
	    -p no:cacheprovider --junitxml=$(BUILD)/rehearsal-junit.xml "$${sols[@]}" $(PYTEST_ARGS)

test-exercises: export MICOURSE_EXECUTE_EXERCISES := 1
test-exercises:  ## (needs `make notebooks`) execute every exercises notebook: it may fail only at its stubs
	$(NICE) $(PY) -m pytest tests/test_notebooks_run.py $(PYTEST_ARGS)

test-solutions:  ## (needs `make notebooks`) every solutions notebook offline through nbmake (the site build runs the same code)
	$(NICE) $(PY) -m pytest --nbmake --nbmake-timeout=$(NB_TIMEOUT) -p no:cacheprovider \
	    $$(find $(NOTEBOOKS) -name '*-solutions.ipynb' | sort) $(PYTEST_ARGS)

test-browser: setup-browser  ## (needs `make site`) only the browser tests
	$(PY) -m pytest tests/test_site_browser.py tests/test_plan_tracker.py $(PYTEST_ARGS)

lint-workflows:  ## actionlint and the pinning rules on .github/workflows
	$(PY) -m pytest tests/test_workflows.py $(PYTEST_ARGS)

clean:  ## remove the built site (keeps the execution cache)
	rm -rf $(SITE) $(BUILD)/screenshots $(NOTEBOOKS)

clean-cache:  ## remove the built site and the execution cache: every page re-runs
	rm -rf $(BUILD) $(NOTEBOOKS)
