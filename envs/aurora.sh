# jetscale on ALCF Aurora: `source envs/aurora.sh` on a login node before `snakemake --profile
# profiles/aurora`; every PBS job of that profile sources it too (profiles/pbs/jobscript.sh).
#
# It loads ALCF's frameworks module (PyTorch with torch.xpu and the xccl backend, mpi4py on Aurora MPICH)
# and activates a venv that adds jetscale on top of it. Gradient points train on the GPU tiles
# (trainer.accelerator=xpu, jetscale.xpu): see profiles/aurora/workflow.yaml.
#
# One-time install, on a login node. Set JETSCALE_VENV (default ~/venvs/jetscale-aurora; a project
# directory such as /lus/flare/projects/<project>/ imports faster on many nodes):
#
#   module use /soft/modulefiles && module load frameworks
#   python -m venv --system-site-packages "$JETSCALE_VENV"   # keeps the module's torch and mpi4py
#   source "$JETSCALE_VENV/bin/activate"
#   pip install --no-deps -e .          # pyproject pins the CPU torch wheel: never install it here
#   pip install -r envs/facility-requirements.txt   # pyproject's dependencies but torch, mpich, mpi4py
#   pip install --no-deps energyflow==1.4.0 wasserstein==1.1.0
#
# Do not `pip install mpich mpi4py` here: the wheels' MPI would replace Aurora MPICH and its mpiexec.
#
# Network: Aurora's login and compute nodes reach the internet only through ALCF's proxy; for
# pip (and W&B online logging), uncomment:
#   export http_proxy=http://proxy.alcf.anl.gov:3128 https_proxy=http://proxy.alcf.anl.gov:3128
#   export HTTP_PROXY=$http_proxy HTTPS_PROXY=$https_proxy ftp_proxy=$http_proxy
#   export no_proxy=localhost,127.0.0.1,.alcf.anl.gov

JETSCALE_VENV="${JETSCALE_VENV:-$HOME/venvs/jetscale-aurora}"
export JETSCALE_PROFILE=aurora   # `make sweep|dry-run|resume|paper` use this environment and profiles/aurora

# Every step that fails returns 1: a PBS job then stops at once (profiles/pbs/jobscript.sh), naming this file.
module use /soft/modulefiles || return 1
module load frameworks || { echo "envs/aurora.sh: module load frameworks failed" >&2; return 1; }
if [ -f "$JETSCALE_VENV/bin/activate" ]; then
    source "$JETSCALE_VENV/bin/activate"
else
    echo "envs/aurora.sh: no venv at $JETSCALE_VENV; install jetscale as described at the top of this file" >&2
    return 1
fi

export ZE_FLAT_DEVICE_HIERARCHY=FLAT   # each GPU tile is one device (12 per node): one per rank or bundle member
if [ -n "${PBS_JOBID:-}" ]; then
    # oneCCL (the xccl backend) under mpiexec: ALCF's minimal set, "tested up to 1024 nodes"
    # (docs/aurora/data-science/frameworks/oneCCL.md in argonne-lcf/user-guides, 2026-03-17).
    export CCL_PROCESS_LAUNCHER=pmix CCL_ATL_TRANSPORT=mpi CCL_KVS_MODE=mpi FI_MR_CACHE_MONITOR=userfaultfd
fi
# W&B logs offline unless WANDB_MODE says otherwise; upload later from a login node with
# `jetscale sync-wandb results/<sweep>`. Never export WANDB_API_KEY here: job scripts and logs are kept.
export WANDB_MODE="${WANDB_MODE:-offline}"
