"""Pythia 8 at the edge: build a generator, loop over events, read what the jets need from the record.

Conventions (shared by the whole generator): 4-momenta are rows ``(px, py, pz, E)``
in GeV; directions are ``(η, φ)`` with η the pseudorapidity and φ in (-π, π].
"Visible final state" is Pythia's ``isFinal() and isVisible()``: every final
particle except neutrinos (and other invisible particles), exactly the set that
``SlowJet`` uses with ``select = 2``.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pythia8mc

HARD_PROCESS_STATUS = (21, 22, 23)  # |status| of the hard process at the top of the event record
MAX_FAILED_IN_A_ROW = 100


def pythia_version() -> str:
    try:
        return version("pythia8mc")
    except PackageNotFoundError:  # pragma: no cover - installed from source
        return "unknown"


def make_pythia(settings: list[str], source: str = "generator settings") -> pythia8mc.Pythia:
    """An initialised Pythia (no banner); a rejected setting or a failed init raises naming it."""
    pythia = pythia8mc.Pythia("", False)
    for line in settings:
        if not pythia.readString(line):
            raise ValueError(f"{source}: Pythia rejected the setting {line!r}")
    if not pythia.init():
        raise RuntimeError(f"{source}: Pythia failed to initialise with settings {settings}")
    return pythia


def events(pythia: pythia8mc.Pythia, max_failed: int = MAX_FAILED_IN_A_ROW) -> Iterator[pythia8mc.Event]:
    """Successive events (the same ``pythia.event`` object, refilled); a run of failures raises."""
    failed = 0
    while True:
        if pythia.next():
            failed = 0
            yield pythia.event
            continue
        failed += 1
        if failed >= max_failed:
            raise RuntimeError(f"Pythia failed {failed} events in a row")


def visible_final_state(event: pythia8mc.Event) -> np.ndarray:
    """4-momenta of the visible final-state particles, [n, 4] (px, py, pz, E)."""
    rows = [(p.px(), p.py(), p.pz(), p.e()) for p in event if p.isFinal() and p.isVisible()]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def momenta(event: pythia8mc.Event, indices: list[int]) -> np.ndarray:
    """4-momenta of the given event-record entries, [n, 4] (px, py, pz, E)."""
    rows = [(p.px(), p.py(), p.pz(), p.e()) for p in (event[i] for i in indices)]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def hadronic_tops(event: pythia8mc.Event) -> np.ndarray:
    """Directions of each hadronically decaying top quark and its decay quarks: [k, 4, 2].

    Rows per top: (t, b, q, q̄') as (η, φ); the top is its last copy before the
    decay, the quarks are the decay products as created (before their showers).
    "b" is the quark from t -> W q (almost always a b). Tops whose W decays
    to leptons are left out.
    """
    tops = []
    for i in range(3, event.size()):  # 0 = system, 1-2 = beams; the hard process follows
        particle = event[i]
        if particle.statusAbs() not in HARD_PROCESS_STATUS:
            break
        if particle.idAbs() != 6:
            continue
        top = event[particle.iBotCopyId()]
        decay = [event[j] for j in top.daughterList()]
        w = next((d for d in decay if d.idAbs() == 24), None)
        quark = next((d for d in decay if 1 <= d.idAbs() <= 5), None)
        if w is None or quark is None:
            continue
        w_decay = [event[j] for j in event[w.iBotCopyId()].daughterList()]
        if len(w_decay) != 2 or not all(1 <= d.idAbs() <= 5 for d in w_decay):
            continue
        tops.append([(p.eta(), p.phi()) for p in (top, quark, *w_decay)])
    return np.asarray(tops, dtype=np.float64).reshape(-1, 4, 2)
