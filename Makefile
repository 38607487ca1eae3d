# jetscale: the two commands of the README, and their shared install step.
#   make demo   install (if needed) and run the toy demo sweep locally
#   make test   install (if needed) and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SWEEP  ?= toy-demo
# profiles/<PROFILE>: local, slurm, slurm-local, polaris, aurora
PROFILE ?= local
PYTEST_ARGS ?=

JET_SHARDS ?= 2
JETS_PER_SHARD ?= 1000

.PHONY: demo test install sweep dry-run resume jets paper benchmark clean-demo

install: $(VENV)/.installed

# torch==2.13.0 is pinned in pyproject.toml: the CPU wheel; a bare `torch` pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	# energyflow pins numpy<2 through wasserstein; both work with numpy 2 when installed without deps.
	$(BIN)/pip install --quiet --no-deps energyflow==1.4.0 wasserstein==1.1.0
	touch $@

demo: install
	$(MAKE) sweep SWEEP=$(SWEEP)

# Jet sweeps generate the dataset they read (JET_SHARDS x JETS_PER_SHARD jets) first; toy sweeps ignore it.
SWEEP_CONFIG = sweep=$(SWEEP) jet_shards=$(JET_SHARDS) jets_per_shard=$(JETS_PER_SHARD)

sweep: install
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --profile profiles/$(PROFILE) --config $(SWEEP_CONFIG)

# A summary: jobs per rule and why they run (every job's block: snakemake ... -n without --quiet rules).
dry-run: install
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --profile profiles/$(PROFILE) --config $(SWEEP_CONFIG) -n --quiet rules

# Resume a sweep whose Snakemake was killed: unlocks only a stale lock, reruns only unfinished points.
# It refuses while trainers of the results dir still live (RESUME_ARGS=--wait waits for them) or while
# Slurm/PBS jobs of the killed run are queued (RESUME_ARGS=--cancel-orphans cancels them).
RESUME_ARGS ?=
resume: install
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jetscale resume --profile profiles/$(PROFILE) $(RESUME_ARGS) -- --config $(SWEEP_CONFIG)

# A small jet dataset (Pythia 8 + anti-kT), its EFPs and covariance spectrum.
jets: install
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --profile profiles/local jets --config jet_shards=$(JET_SHARDS) jets_per_shard=$(JETS_PER_SHARD)

# The paper figures (results/paper/$(SCALE)/: figures 1-5, report.md, numbers.json) and every sweep and
# jet dataset they need (configs/paper/$(SCALE).yaml). SCALE=small: 2 cores, under 30 minutes from nothing;
# SCALE=full: a cluster (PROFILE=slurm, polaris or aurora; see the README for its node-hours).
SCALE ?= small
paper: install
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --profile profiles/$(PROFILE) paper --config paper_scale=$(SCALE)

# pytest exits 5 when it collects no test: that is a failure here, never a silent pass.
test: install
	PATH="$(abspath $(BIN)):$$PATH" WANDB_MODE=disabled $(BIN)/python -m pytest $(PYTEST_ARGS); \
	status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

benchmark: install
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/dag_build.py
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/aggregate.py
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/generate.py
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/packed.py
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/ddp_throughput.py
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/lightning_overhead.py

clean-demo:
	rm -rf results/$(SWEEP)
