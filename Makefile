# Fabula: two commands on a fresh machine.
#   make run   install, then run everything on embedded defaults
#   make test  install, then the whole suite

PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
DATA   ?= var
# On a CPU-only machine install the CPU build of torch first (no multi-GB CUDA
# download); a GPU host sets TORCH_SPEC to its own build, or to nothing.
TORCH_SPEC ?= torch==2.13.0

.PHONY: install run test bench clean chromium

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(PY) pyproject.toml
	@if [ -n "$(TORCH_SPEC)" ] && ! $(PY) -c 'import torch' 2>/dev/null; then \
		$(PY) -m pip install --quiet "$(TORCH_SPEC)"; \
	fi
	$(PY) -m pip install --quiet -e '.[dev]'
	@$(MAKE) --no-print-directory chromium
	touch $@

# Debian's chromium for the web app's browser tests (Playwright drives it; its own
# browser downloads are never used), and curl and jq for the README's API walk
# (tests/system/test_readme_walk.py). Installed when running as root, else skipped.
chromium:
	@{ command -v chromium && command -v curl && command -v jq; } >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium curl jq >/dev/null; } \
		|| echo "chromium, curl or jq not installed (needs root and apt-get): the tests that need them will skip"; }

install: $(VENV)/.installed

run: install
	$(VENV)/bin/fabula dev --port $(PORT) --data $(DATA)

test: install chromium
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) var .pytest_cache
