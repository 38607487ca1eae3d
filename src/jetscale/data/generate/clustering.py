"""Anti-kT jets of one Pythia event, from Pythia's SlowJet (fjcore inside Pythia) or the fastjet wheel.

Both backends cluster the same visible final-state particles (see ``events``)
with the E-scheme and return the same thing: ``cluster(event)`` gives the jets'
4-momenta [n_jets, 4] (px, py, pz, E), hardest first, with pT above
``pt_min``; ``constituents(j)`` then gives jet j's particles [m, 4]. Only the
constituents of jets that are kept are ever read out (the costly part in Python).

Speed on this machine is in ``configs/generator/jets_pythia.yaml`` (``clustering``);
SlowJet wins because fastjet needs every particle moved into Python first.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pythia8mc

from jetscale.data.generate.events import momenta, visible_final_state

SLOWJET_ANTIKT = -1          # SlowJet power: -1 = anti-kT
SLOWJET_VISIBLE = 2          # select: final-state particles except neutrinos and other invisibles
SLOWJET_KEEP_MASSES = 2      # massSet: particles keep their masses (E-scheme 4-momenta)
SLOWJET_PARTICLE_ETA_MAX = 25.0  # no acceptance cut on particles (Pythia's default)


class AntiKt(Protocol):
    def cluster(self, event: pythia8mc.Event) -> np.ndarray: ...
    def constituents(self, jet: int) -> np.ndarray: ...


def antikt(backend: str, r: float, pt_min: float) -> AntiKt:
    """An anti-kT clusterer with radius ``r`` keeping jets with pT > ``pt_min`` (GeV)."""
    backends = {"slowjet": SlowJetAntiKt, "fastjet": FastJetAntiKt}
    if backend not in backends:
        raise ValueError(f"clustering = {backend!r}: expected one of {sorted(backends)}")
    return backends[backend](r, pt_min)


def _hardest_first(jets: np.ndarray) -> np.ndarray:
    return np.argsort(-np.hypot(jets[:, 0], jets[:, 1]), kind="stable")


class SlowJetAntiKt:
    def __init__(self, r: float, pt_min: float):
        self._slowjet = pythia8mc.SlowJet(SLOWJET_ANTIKT, r, pt_min, SLOWJET_PARTICLE_ETA_MAX,
                                          SLOWJET_VISIBLE, SLOWJET_KEEP_MASSES)
        self._event = None
        self._order = np.empty(0, dtype=int)

    def cluster(self, event: pythia8mc.Event) -> np.ndarray:
        if not self._slowjet.analyze(event):
            raise RuntimeError("SlowJet failed to cluster the event")
        self._event = event
        vectors = [self._slowjet.p(j) for j in range(self._slowjet.sizeJet())]
        jets = np.asarray([(v.px(), v.py(), v.pz(), v.e()) for v in vectors], dtype=np.float64).reshape(-1, 4)
        self._order = _hardest_first(jets) if len(jets) > 1 else np.arange(len(jets))
        return jets[self._order]

    def constituents(self, jet: int) -> np.ndarray:
        return momenta(self._event, list(self._slowjet.constituents(int(self._order[jet]))))


class FastJetAntiKt:
    def __init__(self, r: float, pt_min: float):
        import fastjet  # only this backend needs it

        self._fastjet = fastjet
        self._definition = fastjet.JetDefinition(fastjet.antikt_algorithm, r)  # E-scheme by default
        self._pt_min = pt_min
        self._particles = np.empty((0, 4))
        self._jets: list = []
        self._sequence = None

    def cluster(self, event: pythia8mc.Event) -> np.ndarray:
        self._particles = visible_final_state(event)
        pseudojets = []
        for index, row in enumerate(self._particles.tolist()):
            pseudojet = self._fastjet.PseudoJet(*row)
            pseudojet.set_user_index(index)
            pseudojets.append(pseudojet)
        self._sequence = self._fastjet.ClusterSequence(pseudojets, self._definition)  # keeps the jets alive
        self._jets = list(self._fastjet.sorted_by_pt(self._sequence.inclusive_jets(self._pt_min)))
        return np.asarray([(j.px(), j.py(), j.pz(), j.e()) for j in self._jets], dtype=np.float64).reshape(-1, 4)

    def constituents(self, jet: int) -> np.ndarray:
        return self._particles[[c.user_index() for c in self._jets[jet].constituents()]]
