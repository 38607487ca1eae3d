"""Replay a Pythia final-state shower from its event record: the partons after every branching.

Pure numpy on the columns of one event record (entry ``i`` is row ``i``):
``status`` (Pythia's signed status code), ``mother1``, ``mother2`` (record
indices, 0 = none) and ``momenta`` [n, 4] as (E, px, py, pz) in GeV.

What the replay relies on (Pythia 8's record of a timelike dipole shower, with
ISR, MPI, QED showers and hadronization off):

* the Born partons are the hard process's outgoing partons, ``|status| = 23``;
* every other entry with ``|status| < 30`` belongs to the beams or the hard
  process (11-22) and is not a parton of the shower;
* one branching ``a -> b c`` appends the two daughters ``b``, ``c``
  (``|status| = 51``, ``mother1 = a``, ``mother2 = 0``), then a copy of each
  recoiler that absorbed the recoil (``|status| = 52``, ``mother1 = mother2 =``
  the recoiler it replaces); g -> q q̄ is a branching like any other;
* entries are appended in creation order, so replacing mothers by daughters in
  record order gives the state after every branching, recoil included.

The state after ``k`` branchings holds ``n_born + k`` partons, listed in record
order (ascending index). The replay checks itself: its last state must be exactly
the record's final partons (``status > 0``); any entry it cannot follow (ISR or
hadronization codes, a mother that is not a current parton, a merge of two
partons, a branching without two daughters) raises :class:`ReplayError` naming
the entry, so no wrong momenta are ever produced.
"""

from __future__ import annotations

import numpy as np

BORN_STATUS = 23      # |status|: outgoing parton of the hard process
EMISSION_STATUS = 51  # |status|: daughter of a final-state branching (radiator copy or emission)
RECOIL_STATUS = 52    # |status|: copy of a recoiler after a final-state branching
HARD_PROCESS_MAX = 29  # |status| 11-29: beams and hard process, not followed


class ReplayError(ValueError):
    """An event record the replay cannot follow; the message names the entry."""


class MomentumError(ValueError):
    """A snapshot whose total 4-momentum misses the expected one; the message names the event and k."""


def branching_states(status, mother1, mother2) -> list[np.ndarray]:
    """Record indices of the partons after each branching: ``states[k]`` for k = 0 (Born), 1, 2, ...

    ``states[k]`` is sorted ascending and has ``len(states[0]) + k`` entries.
    """
    status = np.asarray(status)
    mother1, mother2 = np.asarray(mother1), np.asarray(mother2)
    kind = np.abs(status)
    born = np.flatnonzero(kind == BORN_STATUS)
    if not len(born):
        raise ReplayError(f"no Born parton (|status| = {BORN_STATUS}) in the record")
    current = set(born.tolist())
    states = [born]
    radiator, daughters = None, 0  # the open branching: its radiator's index, daughters seen so far
    previous = None  # |status| of the previous followed entry

    def close() -> None:
        if daughters != 2:
            raise ReplayError(f"the branching of entry {radiator} has {daughters} daughter(s), expected 2")
        states.append(np.asarray(sorted(current)))

    for i in range(int(born[-1]) + 1, len(status)):
        if kind[i] <= HARD_PROCESS_MAX:
            continue
        m1, m2 = int(mother1[i]), int(mother2[i])
        if kind[i] == EMISSION_STATUS and m2 == 0:
            second = m1 == radiator and daughters == 1 and previous == EMISSION_STATUS
            if not second:  # the first daughter of a new branching
                if radiator is not None:
                    close()
                if m1 not in current:
                    raise ReplayError(f"entry {i} (status {status[i]}) branches from entry {m1}, "
                                      f"which is not a current parton")
                current.remove(m1)
                radiator, daughters = m1, 0
            current.add(i)
            daughters += 1
        elif kind[i] == RECOIL_STATUS and m2 in (0, m1):
            if radiator is None:
                raise ReplayError(f"entry {i} is a recoil copy (status {status[i]}) before any branching")
            if m1 not in current:
                raise ReplayError(f"entry {i} (status {status[i]}) copies entry {m1}, which is not a current parton")
            current.remove(m1)
            current.add(i)
        else:
            raise ReplayError(f"entry {i} has status {status[i]} and mothers ({m1}, {m2}), "
                              f"which the shower replay does not follow")
        previous = kind[i]
    if radiator is not None:
        close()
    final = np.flatnonzero(status > 0)
    if not np.array_equal(states[-1], final):
        raise ReplayError(f"the replay ends with entries {states[-1].tolist()}, "
                          f"but the record's final partons are {final.tolist()}")
    return states


def shower_snapshots(status, mother1, mother2, momenta) -> list[np.ndarray]:
    """Parton 4-momenta after each branching: ``snapshots[k]`` is [n_born + k, 4], k = 0 the Born."""
    momenta = np.asarray(momenta, dtype=np.float64)
    return [momenta[indices] for indices in branching_states(status, mother1, mother2)]


def check_conservation(snapshots: list[np.ndarray], total, tolerance: float, event_id: int) -> None:
    """Raise :class:`MomentumError` unless every snapshot sums to ``total`` within ``tolerance`` per component.

    ``total`` is (E, px, py, pz) in GeV; ``tolerance`` is absolute, in GeV.
    """
    total = np.asarray(total, dtype=np.float64)
    for k, snapshot in enumerate(snapshots):
        deviation = snapshot.sum(axis=0) - total
        worst = float(np.max(np.abs(deviation)))
        if not worst <= tolerance:  # also catches NaN
            raise MomentumError(f"event {event_id}, k = {k}: sum of parton momenta misses {total.tolist()} by "
                                f"{deviation.tolist()} GeV (max {worst:.3g} > tolerance {tolerance:.3g} GeV)")
