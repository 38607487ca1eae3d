# jetscale on NERSC Perlmutter: `source envs/perlmutter.sh` on a login node, in a job
# script, or from a Snakemake cluster profile, before `snakemake` / `jetscale`.
#
# It loads NERSC's PyTorch (CUDA, NCCL, Cray-MPICH-built mpi4py) and activates a venv
# that adds jetscale on top of it, then sets W&B up for nodes without network.
#
# One-time install, on a login node. Set JETSCALE_VENV (default ~/venvs/jetscale-perlmutter);
# /global/common/software/<project>/ is fastest to import from on many nodes, $SCRATCH is purged.
#
#   module load pytorch
#   python -m venv --system-site-packages "$JETSCALE_VENV"   # keeps the module's torch and mpi4py
#   source "$JETSCALE_VENV/bin/activate"
#   pip install --no-deps -e .          # pyproject pins the CPU torch wheel: never install it here
#   pip install -r envs/facility-requirements.txt   # pyproject's dependencies but torch, mpich, mpi4py
#   pip install --no-deps energyflow==1.4.0 wasserstein==1.1.0
#   wandb login                         # once; the key goes to ~/.netrc, never into this file
#
# Do not `pip install mpich mpi4py` here: the module's mpi4py uses Cray MPICH and Slingshot;
# the wheels would run over TCP. With conda instead of the module:
#   module load conda; conda create -n jetscale python=3.11; conda activate jetscale; then
#   pip install torch (CUDA build), MPICC="cc -shared" pip install --no-binary=mpi4py mpi4py,
#   and the packages above; set JETSCALE_CONDA_ENV=jetscale to have this file activate it.
#
# Afterwards, from a login node (compute nodes have no network):
#   jetscale sync-wandb results/<sweep>     # upload the offline W&B runs of finished jobs

JETSCALE_VENV="${JETSCALE_VENV:-$HOME/venvs/jetscale-perlmutter}"
export JETSCALE_PROFILE=slurm    # `make sweep|dry-run|resume|paper` use this environment and profiles/slurm

if [ -n "${JETSCALE_CONDA_ENV:-}" ]; then
    module load conda || return 1
    conda activate "$JETSCALE_CONDA_ENV" || return 1
else
    module load pytorch || { echo "envs/perlmutter.sh: module load pytorch failed" >&2; return 1; }
    if [ -f "$JETSCALE_VENV/bin/activate" ]; then
        source "$JETSCALE_VENV/bin/activate"
    else
        echo "envs/perlmutter.sh: no venv at $JETSCALE_VENV; install jetscale as described at the top of this file" >&2
        return 1
    fi
fi

# Weights & Biases never needs the network during a job: log offline, sync later.
export WANDB_MODE=offline
export WANDB__SERVICE_WAIT=300          # wandb's helper process starts slowly on a busy node
# Never export WANDB_API_KEY (or any token) here or in job scripts: job scripts and logs are kept.
