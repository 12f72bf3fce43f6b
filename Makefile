# Two entry points for users: `make run` and `make test`.
# Both (re)build .venv with pip when pyproject.toml changes, then do their job.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make run` runs the reference notebook's setting; ARGS=... runs anything else.
ARGS ?= experiment=linear_mnist_1k
PYTEST_ARGS ?=

.PHONY: run test install clean

install: $(STAMP)

# torch is installed first and pinned, so that nothing later can pull another build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/vae-collapse $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
