# jetscale: the two commands of the README, and their shared install step.
#   make demo   install (if needed) and run the toy demo sweep locally
#   make test   install (if needed) and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SWEEP  ?= toy-demo
PYTEST_ARGS ?=
# More snakemake options for sweep, dry-run, jets and paper, e.g. SNAKEMAKE_ARGS="--jobs 20" or "--directory DIR",
# and more workflow config for them, e.g. CONFIG="bundle_size=4" or CONFIG="accelerator=cpu".
SNAKEMAKE_ARGS ?=
CONFIG ?=

# Facility mode: `source envs/<machine>.sh` sets JETSCALE_PROFILE (polaris, aurora, slurm). make then runs the
# facility environment's own jetscale and snakemake (the site's GPU torch and MPI), builds no .venv (whose CPU
# torch and mpich wheels must never run there), and PROFILE defaults to that machine's profile.
ifdef JETSCALE_PROFILE
PROFILE ?= $(JETSCALE_PROFILE)
RUN :=
INSTALLED := facility-env
else
# profiles/<PROFILE>: local, slurm, slurm-local, polaris, aurora
PROFILE ?= local
RUN := PATH="$(abspath $(BIN)):$$PATH" $(BIN)/
INSTALLED := $(VENV)/.installed
endif

JET_SHARDS ?= 2
JETS_PER_SHARD ?= 1000

.PHONY: demo test install facility-env sweep dry-run resume jets paper report paper-report benchmark benchmark-gpu clean-demo

install: $(INSTALLED)

facility-env:
	@command -v jetscale >/dev/null && command -v snakemake >/dev/null || { echo "make: JETSCALE_PROFILE=$(JETSCALE_PROFILE) \
	(a facility environment is active) but jetscale or snakemake is not on PATH: install jetscale into the facility \
	venv as the top of envs/*.sh describes; no .venv is built here" >&2; exit 1; }
	@echo "make: facility mode (JETSCALE_PROFILE=$(JETSCALE_PROFILE)): $$(command -v jetscale), profile $(PROFILE)"

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
SWEEP_CONFIG = sweep=$(SWEEP) jet_shards=$(JET_SHARDS) jets_per_shard=$(JETS_PER_SHARD) $(CONFIG)
SWEEP_NAME = $(patsubst %.yaml,%,$(notdir $(SWEEP)))

sweep: install
	$(RUN)snakemake --profile $(CURDIR)/profiles/$(PROFILE) $(SNAKEMAKE_ARGS) --config $(SWEEP_CONFIG)

# A summary: jobs per rule and why they run (every job's block: snakemake ... -n without --quiet rules).
dry-run: install
	$(RUN)snakemake --profile $(CURDIR)/profiles/$(PROFILE) $(SNAKEMAKE_ARGS) --config $(SWEEP_CONFIG) -n --quiet rules

# Resume a sweep whose Snakemake was killed: unlocks only a stale lock, reruns only unfinished points.
# It refuses while trainers of the results dir still live (RESUME_ARGS=--wait waits for them) or while
# Slurm/PBS jobs of the killed run are queued (RESUME_ARGS=--cancel-orphans cancels them).
RESUME_ARGS ?=
resume: install
	$(RUN)jetscale resume --profile $(CURDIR)/profiles/$(PROFILE) $(RESUME_ARGS) -- --config $(SWEEP_CONFIG)

# A small jet dataset (Pythia 8 + anti-kT), its EFPs and covariance spectrum; on a cluster profile the shards run
# many per job (the profile's groups) and the spectrum under its MPI launcher.
jets: install
	$(RUN)snakemake --profile $(CURDIR)/profiles/$(PROFILE) $(SNAKEMAKE_ARGS) jets --config jet_shards=$(JET_SHARDS) jets_per_shard=$(JETS_PER_SHARD) $(CONFIG)

# The paper figures (results/paper/$(SCALE)/: figures 1-5, report.md, numbers.json) and every sweep and
# jet dataset they need (configs/paper/$(SCALE).yaml). SCALE=small: 2 cores, under 30 minutes from nothing;
# SCALE=full: a cluster (PROFILE=slurm, polaris or aurora; docs/results.md gives its node-hours).
SCALE ?= small
PAPER_CONFIG = paper_scale=$(SCALE) $(CONFIG)
paper: install
	$(RUN)snakemake --profile $(CURDIR)/profiles/$(PROFILE) $(SNAKEMAKE_ARGS) paper --config $(PAPER_CONFIG)

# The HTML report of what a sweep (make report) or the paper (make paper-report) has made: one self-contained file to
# send, with the figures and their captions, the results tables, the fits and the git revisions (docs/results.md).
# It runs no job: when an output is missing, Snakemake names it and this says which target makes it.
# $(1): Snakemake's target and config, $(2): the report (relative to the workflow's directory, as results/ is),
# $(3): the command that makes what it shows.
define snakemake_report
	@log=$$(mktemp); $(RUN)snakemake --profile $(CURDIR)/profiles/$(PROFILE) $(SNAKEMAKE_ARGS) $(1) --report $(2) \
	  >$$log 2>&1; status=$$?; cat $$log; \
	if grep -q "marked for report but does not exist" $$log; then echo "make $@: $(2) was not written: the report \
	shows only what is made, and the file named above is missing; run '$(3)' first" >&2; fi; rm -f $$log; exit $$status
endef

report: install
	$(call snakemake_report,--config $(SWEEP_CONFIG),results/$(SWEEP_NAME)/report.html,make sweep SWEEP=$(SWEEP))

paper-report: install
	$(call snakemake_report,paper --config $(PAPER_CONFIG),results/paper/$(SCALE)/report.html,make paper SCALE=$(SCALE))

# pytest exits 5 when it collects no test: that is a failure here, never a silent pass.
test: install
	WANDB_MODE=disabled $(RUN)python -m pytest $(PYTEST_ARGS); \
	status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

benchmark: install
	$(RUN)python benchmarks/dag_build.py
	$(RUN)python benchmarks/aggregate.py
	$(RUN)python benchmarks/generate.py
	$(RUN)python benchmarks/packed.py
	$(RUN)python benchmarks/ddp_throughput.py
	$(RUN)python benchmarks/lightning_overhead.py
	$(RUN)python benchmarks/efp.py
	$(RUN)python benchmarks/loader.py

# On a machine with one GPU (under 8 minutes; docs/gpu.md#the-gpu-benchmark). Not part of `make benchmark`.
benchmark-gpu: install
	$(RUN)python benchmarks/gpu.py

clean-demo:
	rm -rf results/$(SWEEP)
