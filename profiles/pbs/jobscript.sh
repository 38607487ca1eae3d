#!/bin/bash -l
# One Snakemake job on PBS Pro at ALCF; the job script of profiles/polaris and profiles/aurora.
# Snakemake fills in the properties line and the command (Python str.format: braces are doubled).
# `jetscale pbs submit` passes the facility's settings (profiles/<facility>/facility.yaml) with qsub -v:
#   JETSCALE_ENV_FILE                         sourced first: modules, conda, venv (empty: nothing)
#   RANKS_PER_NODE, DEPTH, CPU_BIND           the mpiexec line of the train rule's `mpi` resource
#   MASTER_PORT                               with MASTER_ADDR below: where rank 0 listens
#   JETSCALE_WALLTIME_S, JETSCALE_DEADLINE_MARGIN_S   give JETSCALE_DEADLINE below
# properties = {properties}

if [ -n "$JETSCALE_ENV_FILE" ]; then
    source "$JETSCALE_ENV_FILE"
fi
set -euo pipefail

# The allocation: one line per node in $PBS_NODEFILE (place=scatter); rank 0 runs on the first.
NNODES=$(wc -l < "$PBS_NODEFILE")
MASTER_ADDR=$(head -n 1 "$PBS_NODEFILE")
export NNODES MASTER_ADDR MASTER_PORT RANKS_PER_NODE DEPTH CPU_BIND

# PBS Pro sends no signal before the walltime: past JETSCALE_DEADLINE, jetscale train saves
# last.ckpt and exits 75; Snakemake's `retries` resubmit the point, which resumes.
JETSCALE_DEADLINE=$(( $(date +%s) + JETSCALE_WALLTIME_S - JETSCALE_DEADLINE_MARGIN_S ))
export JETSCALE_DEADLINE
echo "PBS job $PBS_JOBID: $NNODES node(s) x $RANKS_PER_NODE ranks, rank 0 on $MASTER_ADDR:$MASTER_PORT," \
     "deadline $(date -d "@$JETSCALE_DEADLINE" '+%F %T %Z')"

{exec_job}
