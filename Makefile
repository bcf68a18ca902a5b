# Two set-up commands: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

WORKER_VENV := .venv-worker

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install only when the project's metadata changed.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

# The RunPod worker's own environment (runpod's SDK cannot share .venv, see
# packaging/worker/requirements-cpu.txt); tests run the worker under runpod's local server.
$(WORKER_VENV)/.installed: packaging/worker/requirements-cpu.txt
	$(PYTHON) -m venv $(WORKER_VENV)
	$(WORKER_VENV)/bin/python -m pip install --quiet -r packaging/worker/requirements-cpu.txt
	touch $@

run: $(VENV)/.installed
	$(BIN)/storyreel $(ARGS)

test: $(VENV)/.installed-test $(WORKER_VENV)/.installed
	$(BIN)/ruff check app tests benchmarks
	STORYREEL_WORKER_PYTHON=$(abspath $(WORKER_VENV))/bin/python $(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check app tests benchmarks
	$(BIN)/ruff format --check app tests benchmarks

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/pipeline.py

clean:
	rm -rf $(VENV) $(WORKER_VENV) build *.egg-info .pytest_cache .ruff_cache
