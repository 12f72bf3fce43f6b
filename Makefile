# Two entry points for users: `make run` and `make test`.
# Both (re)build .venv with pip when pyproject.toml changes, then do their job.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make run` runs the reference notebook's setting; ARGS=... runs anything else.
ARGS ?= experiment=linear_mnist_1k
PYTEST_ARGS ?=
# Test workers (pytest-xdist): one per core, at most 4; TEST_WORKERS=0 runs the tests in this process.
TEST_WORKERS ?= auto
# `make reproduce`: the paper's experiments at CPU budgets, then the report (see docs/reproduction.md).
# REPRO_ARGS are added to every run (e.g. trainer.accelerator=gpu), REPORT_ARGS to the report.
REPRO_DIR ?= reproduce
REPRO_PRESETS ?= reproduce_linear reproduce_deep_fixed_sigma reproduce_deep_learned_sigma reproduce_deep_kl_anneal
REPRO_ARGS ?=
REPORT_ARGS ?=
# `make reproduce-full`: the paper-sized sweeps, meant for a GPU (our budget choice; the paper's is unknown).
FULL_DIR ?= reproduce-full
FULL_ARGS ?= trainer.accelerator=gpu
DEEP_FULL_ARGS ?= budget=gpu_mnist

.PHONY: run test bench install clean reproduce reproduce-full report
# `make bench` runs every benchmark figure (see docs/performance.md); BENCH_ARGS=--quick for a smoke run.
BENCH_ARGS ?=

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
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxprocesses 4 $(PYTEST_ARGS)

# One sweep after another into $(REPRO_DIR)/runs/<preset>; a failed sweep does not stop the
# others, the report is built from whatever finished, and the exit status says if anything failed.
reproduce: $(STAMP)
	@status=0; \
	for preset in $(REPRO_PRESETS); do \
	  echo "== $$preset"; \
	  $(BIN)/vae-collapse -m experiment=$$preset hydra.sweep.dir=$(REPRO_DIR)/runs/$$preset $(REPRO_ARGS) || status=1; \
	done; \
	$(BIN)/vae-collapse-report $(REPRO_DIR)/runs --out $(REPRO_DIR)/report $(REPORT_ARGS) || status=1; \
	exit $$status

reproduce-full: $(STAMP)
	@status=0; \
	$(BIN)/vae-collapse -m experiment=linear_mnist_1k model.elbo=analytic,stochastic seed=0,1,2 \
	  hydra.sweep.dir=$(FULL_DIR)/runs/linear_mnist_1k $(FULL_ARGS) || status=1; \
	for preset in deep_mnist_fixed_sigma deep_mnist_learned_sigma deep_mnist_kl_anneal; do \
	  $(BIN)/vae-collapse -m experiment=$$preset hydra.sweep.dir=$(FULL_DIR)/runs/$$preset $(DEEP_FULL_ARGS) $(FULL_ARGS) || status=1; \
	done; \
	$(BIN)/vae-collapse-report $(FULL_DIR)/runs --out $(FULL_DIR)/report $(REPORT_ARGS) || status=1; \
	exit $$status

# The report alone, from any runs: make report RUNS="multirun/deep_mnist_fixed_sigma" OUT=report
RUNS ?= $(REPRO_DIR)/runs
OUT ?= $(REPRO_DIR)/report
report: $(STAMP)
	$(BIN)/vae-collapse-report $(RUNS) --out $(OUT) $(REPORT_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
