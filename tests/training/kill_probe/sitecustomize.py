"""Test-only hooks for tests/training/test_kill_anywhere.py: loaded by every Python started with this folder on PYTHONPATH.

With ``JETSCALE_KILL_PROBE=<file>`` set, the training process appends one line per event to ``<file>``:

* ``save-start <name>`` / ``save-written <name>``: a checkpoint is about to be written / is complete in its
  temporary file but not yet renamed to ``<name>``;
* ``validation``: the first batch of a validation run;
* ``evaluate``: training has ended and the test metrics are being computed (before metrics.json).

With ``JETSCALE_KILL_AT=<event>#<k>``, the k-th such event pauses the process for ``JETSCALE_KILL_PAUSE_S``
seconds (default 30), so that the test can SIGKILL it exactly there. Nothing here changes what is computed.
"""

import os

PROBE = os.environ.get("JETSCALE_KILL_PROBE")

if PROBE:
    import time

    TARGET, _, NTH = os.environ.get("JETSCALE_KILL_AT", "").partition("#")
    PAUSE_S = float(os.environ.get("JETSCALE_KILL_PAUSE_S", "30"))
    seen: dict[str, int] = {}

    def event(kind: str, detail: str = "") -> None:
        seen[kind] = seen.get(kind, 0) + 1
        with open(PROBE, "a") as out:
            out.write(f"{kind} {detail}\n".rstrip() + "\n")
            out.flush()
            os.fsync(out.fileno())
        if kind == TARGET and seen[kind] == int(NTH or 0):
            time.sleep(PAUSE_S)

    import torch

    import jetscale.checkpoints as checkpoints
    import jetscale.models.lightning_base as lightning_base
    import jetscale.train as train

    save = torch.save

    def probed_save(obj, path, *args, **kwargs):
        name = getattr(path, "name", str(path))
        final = name.split(".")[1] if name.startswith(".") else name  # .last.ckpt.<random>.tmp -> last
        event("save-start", final)
        save(obj, path, *args, **kwargs)
        event("save-written", final)

    checkpoints.torch.save = probed_save  # the module's `torch` is the package: patch its attribute

    validation_step = lightning_base.ValidatedRecipe.validation_step

    def probed_validation_step(self, batch, batch_idx, *args, **kwargs):
        if batch_idx == 0:
            event("validation")
        return validation_step(self, batch, batch_idx, *args, **kwargs)

    lightning_base.ValidatedRecipe.validation_step = probed_validation_step

    run_metrics = train.run_metrics

    def probed_run_metrics(*args, **kwargs):
        event("evaluate")
        return run_metrics(*args, **kwargs)

    train.run_metrics = probed_run_metrics
