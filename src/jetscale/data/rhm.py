"""The Random Hierarchy Model (RHM) of Cagnetta et al. (arXiv:2307.02129, PRX 2024), as pure numpy.

:class:`RandomHierarchy` holds an unambiguous grammar (v symbols, n_c classes, m rules per symbol,
branching s, depth L; the rules a function of ``seed`` alone), samples distinct data whose leaves are
int [s^L] symbols in [0, v) (the first n of a seed are the same whatever n), and parses a class back
from its leaves. :func:`one_hot` gives float [n, s^L, v]. Grammar, counting and sampling:
docs/tasks.md#the-random-hierarchy-model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jetscale.atomic import atomic_output

RULES_STREAM, DATA_STREAM = 0, 1  # seed-sequence tags: the grammar's and the samples' random streams
CHUNK = 1 << 14  # candidates drawn per round of distinct sampling (fixed: keeps samples nested in n)
MAX_TUPLES = 1 << 62  # v^s must fit int64 (tuples are coded as base-v integers)


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or value != int(value) or value < minimum:
        raise ValueError(f"RHM parameter {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def tuple_codes(tuples: np.ndarray, v: int) -> np.ndarray:
    """Base-v code Σ_j t_j v^(s−1−j) of s-tuples ``tuples`` [..., s] (the first symbol most significant)."""
    s = tuples.shape[-1]
    return tuples.astype(np.int64) @ (v ** np.arange(s - 1, -1, -1, dtype=np.int64))


def code_tuples(codes: np.ndarray, v: int, s: int) -> np.ndarray:
    """Inverse of :func:`tuple_codes`: codes [...] → s-tuples [..., s]."""
    powers = v ** np.arange(s - 1, -1, -1, dtype=np.int64)
    return (np.asarray(codes, dtype=np.int64)[..., None] // powers) % v


def one_hot(leaves: np.ndarray, v: int) -> np.ndarray:
    """Leaves int [..., s^L] → one-hot float32 [..., s^L, v] (position axis first, symbol axis last)."""
    return np.eye(v, dtype=np.float32)[leaves]


@dataclass(frozen=True)
class RandomHierarchy:
    """An RHM grammar (docs/tasks.md#grammar); ``rules=None`` draws the rules from ``seed``.

    ``rules`` given (e.g. by :func:`load_rules`) must be L arrays of shapes
    [n_c, m, s], [v, m, s], …, with symbols in [0, v) and no tuple repeated within a level.
    """

    v: int
    m: int
    s: int
    L: int
    n_c: int
    seed: int = 0
    rules: tuple[np.ndarray, ...] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        v, m, n_c = _positive_int("v", self.v, 2), _positive_int("m", self.m), _positive_int("n_c", self.n_c, 2)
        s, depth = _positive_int("s", self.s, 2), _positive_int("L", self.L)
        if v ** s > MAX_TUPLES:
            raise ValueError(f"RHM v^s = {v}^{s} exceeds {MAX_TUPLES}: tuples would not fit int64")
        if n_c * m > v ** s:
            raise ValueError(f"RHM needs n_c·m <= v^s for unambiguous top-level rules: n_c={n_c}, m={m}, "
                             f"v={v}, s={s} give {n_c * m} > {v ** s}")
        if v * m > v ** s:
            raise ValueError(f"RHM needs v·m <= v^s (m <= v^(s-1)) for unambiguous rules below the top: "
                             f"v={v}, m={m}, s={s} give {v * m} > {v ** s}")
        for name, value in (("v", v), ("m", m), ("s", s), ("L", depth), ("n_c", n_c), ("seed", int(self.seed))):
            object.__setattr__(self, name, value)  # plain ints, whatever numeric type came in
        rules = self.draw_rules() if self.rules is None else tuple(np.array(r, dtype=np.int64) for r in self.rules)
        self._check_rules(rules)
        for array in rules:
            array.flags.writeable = False
        object.__setattr__(self, "rules", rules)
        object.__setattr__(self, "_parsers", tuple(self._parser(level) for level in range(depth)))

    # -- grammar ---------------------------------------------------------------------------------

    def n_symbols(self, level: int) -> int:
        """Symbols at ``level`` (0 = root: n_c classes; below: v)."""
        return self.n_c if level == 0 else self.v

    def draw_rules(self) -> tuple[np.ndarray, ...]:
        """The L levels of rules of ``seed``: per level, n_symbols·m distinct tuples out of the v^s."""
        rng = np.random.default_rng([RULES_STREAM, self.seed])
        rules = []
        for level in range(self.L):
            n = self.n_symbols(level)
            codes = rng.choice(self.v ** self.s, size=n * self.m, replace=False)
            rules.append(code_tuples(codes, self.v, self.s).reshape(n, self.m, self.s))
        return tuple(rules)

    def _check_rules(self, rules: tuple[np.ndarray, ...]) -> None:
        if len(rules) != self.L:
            raise ValueError(f"RHM rules: expected L={self.L} levels, got {len(rules)}")
        for level, array in enumerate(rules):
            shape = (self.n_symbols(level), self.m, self.s)
            if array.shape != shape:
                raise ValueError(f"RHM rules of level {level}: expected shape {shape}, got {array.shape}")
            if array.min() < 0 or array.max() >= self.v:
                raise ValueError(f"RHM rules of level {level}: symbols must lie in [0, v={self.v})")
            if len(np.unique(tuple_codes(array, self.v))) != array.shape[0] * self.m:
                raise ValueError(f"RHM rules of level {level} are ambiguous: a tuple is produced twice")

    def _parser(self, level: int) -> tuple[np.ndarray, np.ndarray]:
        """Sorted tuple codes of ``level``'s rules and the symbol producing each."""
        codes = tuple_codes(self.rules[level], self.v).ravel()
        symbols = np.repeat(np.arange(self.n_symbols(level)), self.m)
        order = np.argsort(codes)
        return codes[order], symbols[order]

    # -- sizes -----------------------------------------------------------------------------------

    @property
    def n_leaves(self) -> int:
        """Input length s^L."""
        return self.s ** self.L

    @property
    def n_nodes(self) -> int:
        """Internal nodes of the tree, (s^L − 1)/(s − 1): one rule choice each."""
        return (self.s ** self.L - 1) // (self.s - 1)

    @property
    def n_data(self) -> int:
        """Distinct data: n_c · m^n_nodes (an exact Python int; it may exceed int64)."""
        return self.n_c * self.m ** self.n_nodes

    def sample_complexity(self) -> int:
        """The paper's P* ≈ n_c · m^L: training-set size beyond which deep networks generalise (Cagnetta et al.,
        arXiv:2307.02129); measured from learning curves by :mod:`jetscale.fit.sample_complexity`."""
        return self.n_c * self.m ** self.L

    # -- data ------------------------------------------------------------------------------------

    def expand(self, digits: np.ndarray) -> np.ndarray:
        """Leaves int [n, s^L] of data ``digits`` int [n, 1 + n_nodes] (class, then choices root-first)."""
        digits = np.asarray(digits, dtype=np.int64)
        symbols, start = digits[:, :1], 1  # [n, 1]: the class
        for level in range(self.L):
            width = self.s ** level
            choices = digits[:, start:start + width]  # [n, s^level]
            symbols = self.rules[level][symbols, choices].reshape(len(digits), -1)  # [n, s^(level+1)]
            start += width
        return symbols

    def random_digits(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` uniform i.i.d. data as digits int [n, 1 + n_nodes]."""
        return np.concatenate([rng.integers(self.n_c, size=(n, 1)), rng.integers(self.m, size=(n, self.n_nodes))],
                              axis=1)

    def distinct_digits(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """The first ``n`` distinct data of a stream of uniform candidates drawn CHUNK at a time."""
        if n > self.n_data:
            raise ValueError(f"asked for {n} distinct RHM data but the grammar has only n_data={self.n_data}")
        seen: set[bytes] = set()
        kept: list[np.ndarray] = []
        while len(seen) < n:
            candidates = self.random_digits(CHUNK, rng)
            for row in candidates:
                key = row.tobytes()
                if key not in seen:
                    seen.add(key)
                    kept.append(row)
                    if len(seen) == n:
                        break
        return np.array(kept, dtype=np.int64).reshape(n, 1 + self.n_nodes)

    def sample(self, n: int, rng_or_seed: np.random.Generator | int, distinct: bool = True
               ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` uniform data: leaves int [n, s^L] and labels int [n].

        ``distinct`` (default): no datum twice, and for an int seed the first k of n are
        the k of any other n.  An int seed uses ``default_rng([DATA_STREAM, seed])``.
        """
        rng = rng_or_seed if isinstance(rng_or_seed, np.random.Generator) else \
            np.random.default_rng([DATA_STREAM, int(rng_or_seed)])
        digits = self.distinct_digits(n, rng) if distinct else self.random_digits(n, rng)
        return self.expand(digits), digits[:, 0].copy()

    def parse(self, leaves: np.ndarray) -> np.ndarray:
        """Classes int [n] of leaves int [n, s^L], parsed bottom-up with the rules; −1 where the
        leaves are not a datum of this grammar."""
        symbols = np.asarray(leaves, dtype=np.int64)
        symbols = symbols.reshape(-1, self.n_leaves)
        n = len(symbols)
        for level in range(self.L - 1, -1, -1):
            tuples = symbols.reshape(n, -1, self.s)  # [n, s^level, s]
            valid = (tuples >= 0).all(-1)
            codes, parents = self._parsers[level]
            query = tuple_codes(np.where(tuples >= 0, tuples, 0), self.v)
            at = np.minimum(np.searchsorted(codes, query), len(codes) - 1)
            found = valid & (codes[at] == query)
            symbols = np.where(found, parents[at], -1)  # [n, s^level]
        return symbols[:, 0]

    # -- files -----------------------------------------------------------------------------------

    def describe(self) -> dict:
        """Parameters, sizes and rules as plain JSON values (the :func:`save_rules` format)."""
        return {
            "v": self.v, "m": self.m, "s": self.s, "L": self.L, "n_c": self.n_c, "seed": self.seed,
            "n_data": self.n_data, "sample_complexity": self.sample_complexity(),
            "rules_layout": "rules[l][symbol][rule] = s-tuple of level-(l+1) symbols; level 0 = root (classes)",
            "rules": [array.tolist() for array in self.rules],
        }

    def save_rules(self, path: str | Path) -> Path:
        """Write :meth:`describe` as JSON to ``path`` (atomically)."""
        path = Path(path)
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps(self.describe(), indent=1) + "\n")
        return path


def load_rules(path: str | Path) -> RandomHierarchy:
    """The grammar saved by :meth:`RandomHierarchy.save_rules` (its rules as stored, not redrawn)."""
    path = Path(path)
    payload = json.loads(path.read_text())
    try:
        params = {key: payload[key] for key in ("v", "m", "s", "L", "n_c", "seed")}
        rules = tuple(np.asarray(level, dtype=np.int64) for level in payload["rules"])
    except KeyError as err:
        raise ValueError(f"{path}: not an RHM rules file (missing key {err})") from None
    try:
        return RandomHierarchy(**params, rules=rules)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None

