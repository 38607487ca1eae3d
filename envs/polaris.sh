# jetscale on ALCF Polaris: `source envs/polaris.sh` on a login node before `snakemake --profile
# profiles/polaris`; every PBS job of that profile sources it too (profiles/pbs/jobscript.sh).
#
# It loads ALCF's conda module (PyTorch with CUDA and NCCL, mpi4py built on Cray MPICH) and
# activates a venv that adds jetscale on top of it.
#
# One-time install, on a login node. Set JETSCALE_VENV (default ~/venvs/jetscale-polaris; a project
# directory such as /lus/eagle/projects/<project>/ imports faster on many nodes):
#
#   module use /soft/modulefiles && module load conda && conda activate
#   python -m venv --system-site-packages "$JETSCALE_VENV"   # keeps the module's torch and mpi4py
#   source "$JETSCALE_VENV/bin/activate"
#   pip install --no-deps -e .          # pyproject pins the CPU torch wheel: never install it here
#   pip install -r envs/facility-requirements.txt   # pyproject's dependencies but torch, mpich, mpi4py
#   pip install --no-deps energyflow==1.4.0 wasserstein==1.1.0
#
# Do not `pip install mpich mpi4py` here: the wheels' MPI would replace Cray MPICH and its mpiexec.
#
# Network: login nodes reach PyPI directly. Compute nodes go out only through ALCF's proxy; for
# pip, or W&B online logging, inside a job, uncomment:
#   export http_proxy=http://proxy.alcf.anl.gov:3128 https_proxy=http://proxy.alcf.anl.gov:3128
#   export HTTP_PROXY=$http_proxy HTTPS_PROXY=$https_proxy ftp_proxy=$http_proxy
#   export no_proxy=localhost,127.0.0.1,.alcf.anl.gov

JETSCALE_VENV="${JETSCALE_VENV:-$HOME/venvs/jetscale-polaris}"
export JETSCALE_PROFILE=polaris  # `make sweep|dry-run|resume|paper` use this environment and profiles/polaris

# Every step that fails returns 1: a PBS job then stops at once (profiles/pbs/jobscript.sh), naming this file.
module use /soft/modulefiles || return 1
module load conda || { echo "envs/polaris.sh: module load conda failed" >&2; return 1; }
conda activate base || return 1
if [ -f "$JETSCALE_VENV/bin/activate" ]; then
    source "$JETSCALE_VENV/bin/activate"
else
    echo "envs/polaris.sh: no venv at $JETSCALE_VENV; install jetscale as described at the top of this file" >&2
    return 1
fi

if [ -n "${PBS_JOBID:-}" ]; then
    # GPU 3 - r sits beside local rank r's cores (docs/polaris/running-jobs/using-gpus.md, 2025-04-03):
    # with this order Lightning's cuda:<local rank> is that GPU; bundle members get one GPU each from it.
    export CUDA_VISIBLE_DEVICES=3,2,1,0
    # NCCL over Slingshot with the aws-ofi-nccl plugin, as ALCF recommends for PyTorch DDP
    # (docs/polaris/applications-and-libraries/libraries/nccl.md, 2025-01-21).
    export NCCL_NET_GDR_LEVEL=PHB NCCL_CROSS_NIC=1 NCCL_COLLNET_ENABLE=1 NCCL_NET="AWS Libfabric"
    export LD_LIBRARY_PATH="/soft/libraries/aws-ofi-nccl/v1.9.1-aws/lib:/soft/libraries/hwloc/lib/:${LD_LIBRARY_PATH:-}"
    export FI_CXI_DISABLE_HOST_REGISTER=1 FI_MR_CACHE_MONITOR=userfaultfd FI_CXI_DEFAULT_CQ_SIZE=131072
fi
# W&B logs offline unless WANDB_MODE says otherwise; upload later from a login node with
# `jetscale sync-wandb results/<sweep>`. Never export WANDB_API_KEY here: job scripts and logs are kept.
export WANDB_MODE="${WANDB_MODE:-offline}"
