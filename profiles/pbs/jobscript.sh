#!/bin/bash -l
# One Snakemake job on PBS Pro at ALCF; the job script of profiles/polaris and profiles/aurora.
# Snakemake fills in the properties line and the command (Python str.format: braces are doubled).
# `jetscale pbs submit` passes the facility's settings (profiles/<facility>/facility.yaml) with qsub -v:
#   JETSCALE_ENV_FILE                         sourced first: modules, conda, venv (empty: nothing)
#   RANKS_PER_NODE, DEPTH, CPU_BIND           the mpiexec line of the train rule's `mpi` resource
#   MASTER_PORT, JETSCALE_MASTER_ADDR_SUFFIX  with MASTER_ADDR below: where rank 0 listens
#   JETSCALE_WALLTIME_S, JETSCALE_DEADLINE_MARGIN_S   give JETSCALE_DEADLINE below
# properties = {properties}
set -eo pipefail

# A failed `module load` or a missing venv stops the job here, before any work, naming the file.
if [ -n "${{JETSCALE_ENV_FILE:-}}" ]; then
    if ! source "$JETSCALE_ENV_FILE"; then
        echo "PBS job $PBS_JOBID: sourcing $JETSCALE_ENV_FILE failed (see above); nothing was run" >&2
        exit 1
    fi
fi
set -u

# The allocation: one line per node in $PBS_NODEFILE (place=scatter); rank 0 runs on the first, and listens
# on the interface the facility names (Aurora: <host>.hsn.cm.aurora.alcf.anl.gov, its Slingshot network).
NNODES=$(wc -l < "$PBS_NODEFILE")
MASTER_ADDR=$(head -n 1 "$PBS_NODEFILE")
if [ -n "${{JETSCALE_MASTER_ADDR_SUFFIX:-}}" ]; then
    MASTER_ADDR="${{MASTER_ADDR%%.*}}$JETSCALE_MASTER_ADDR_SUFFIX"
fi
export NNODES MASTER_ADDR MASTER_PORT RANKS_PER_NODE DEPTH CPU_BIND

# PBS Pro sends no signal before the walltime: past JETSCALE_DEADLINE, jetscale train saves
# last.ckpt and exits 75; Snakemake's `retries` resubmit the point, which resumes.
JETSCALE_DEADLINE=$(( $(date +%s) + JETSCALE_WALLTIME_S - JETSCALE_DEADLINE_MARGIN_S ))
export JETSCALE_DEADLINE
echo "PBS job $PBS_JOBID: $NNODES node(s) x $RANKS_PER_NODE ranks, rank 0 on $MASTER_ADDR:$MASTER_PORT," \
     "deadline $(date -d "@$JETSCALE_DEADLINE" '+%F %T %Z')"

{exec_job}
