"""Energy Flow Polynomials of blocks of events: one compiled plan per EFPSet, batched BLAS contractions.

Input: an energyflow ``EFPSet`` and, for a block of b events padded to m particles, z [b, m] and
theta [b, m, m] (padding: z = 0, theta finite, so it adds exact zeros). Output: the set's values
[b, n_efps] (connected graphs by the plan, disconnected ones by ``EFPSet.calc_disc``), equal to
``batch_compute`` to rounding. :func:`hadronic_measure` gives (z, theta) of padded (pT, y, phi).
How the plan works (vertex elimination, shared steps, cost): docs/jets.md#efp-conventions.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BLOCK_ELEMENTS = 1 << 22
"""Bound on b * m**k, the size of a block's largest array ([b, m, m, m] at d = 7: 32 MiB), when choosing blocks."""

CACHE_ELEMENTS = 1 << 16
"""Bound on b * m**2 (512 KiB of float64): the many [b, m, m] arrays of a block then stay in the CPU's cache."""

BLOCK_JETS = 16
"""Most jets per block: blocks of jets sorted by multiplicity, so padding to the block's largest jet stays small."""

FREE = -1
"""Axis label of the vertex being summed over in a :class:`Step`."""


@dataclass(frozen=True)
class Step:
    """One elimination: sum over a vertex of z times the product of the ``children`` (node id, axis labels).

    Labels 0..k-1 are the result's axes, :data:`FREE` the summed vertex. With ``weight`` set, the step is the
    input theta**weight (no children). With ``k4`` set, it is the whole K4 graph at once,
    its six edges as children in the order ab, ac, bc, ad, bd, cd, symmetric under a <-> b (:func:`_k4`).
    """

    children: tuple[tuple[int, tuple[int, ...]], ...]
    n_axes: int
    weight: float | None = None
    k4: bool = False


@dataclass(frozen=True)
class Plan:
    """Every distinct step of a set's connected graphs, in order, the node holding each graph's value, and the
    most particle axes of any array a step makes (3 when some graph needs [b, m, m, m], as two at d = 7 do)."""

    steps: tuple[Step, ...]
    outputs: tuple[int, ...]
    largest_axes: int


def _canonical(children: list[tuple[int, tuple[int, ...]]], n_axes: int,
               symmetric: set[int]) -> tuple[tuple, tuple[int, ...], bool]:
    """The key of a step up to the order of its result's axes, the axis order that gives it, and whether every
    order gives it (a symmetric result). Children in ``symmetric`` (two-axis, equal to their transpose) are
    keyed with their axes sorted, so that a product and its mirror image are one step."""
    keys = {}
    for order in itertools.permutations(range(n_axes)):
        rename = {old: new for new, old in enumerate(order)}
        renamed = [(node, tuple(rename.get(a, FREE) for a in axes)) for node, axes in children]
        keys[order] = tuple(sorted((node, tuple(sorted(axes)) if node in symmetric else axes)
                                   for node, axes in renamed))
    order = min(keys, key=keys.get)
    return keys[order], order, len(set(keys.values())) == 1


class _Compiler:
    """Builds a :class:`Plan`: eliminates each graph's vertices, sharing steps with equal keys."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.index: dict[tuple, int] = {}
        self.symmetric: set[int] = set()
        """Nodes of two axes equal to their transpose: theta**w, and steps whose key is the same either way."""

    def node(self, step: Step) -> int:
        key = (step.weight, step.children, step.n_axes, step.k4)
        if key not in self.index:
            self.index[key] = len(self.steps)
            self.steps.append(step)
        return self.index[key]

    def graph(self, edges: Sequence[tuple[int, int]], weights: Sequence[float], n_vertices: int) -> tuple[int, int]:
        """The node of one connected graph's value, and the most particle axes of an array its steps make."""
        factors = [(self.node(Step((), 2, float(w))), (a, b)) for (a, b), w in zip(edges, weights, strict=True)]
        self.symmetric.update(node for node, _ in factors)
        k4 = self.k4(factors) if n_vertices == 4 and len(factors) == 6 else None
        if k4 is not None:
            return k4, 2  # its arrays are [b, m, m]
        alive, largest = set(range(n_vertices)), 0
        while alive:
            def cost(v):
                touching = [verts for _, verts in factors if v in verts]
                return len(set(itertools.chain(*touching)) - {v}), len(touching), v
            v = min(alive, key=cost)
            alive.remove(v)
            touching = [f for f in factors if v in f[1]]
            factors = [f for f in factors if v not in f[1]]
            others = sorted(set(itertools.chain(*(verts for _, verts in touching))) - {v})
            label = {u: i for i, u in enumerate(others)}
            label[v] = FREE
            children = [(node, tuple(label[u] for u in verts)) for node, verts in touching]
            key, order, symmetric = _canonical(children, len(others), self.symmetric)
            factors.append((self.node(Step(key, len(others))), tuple(others[i] for i in order)))
            if symmetric and len(others) == 2:
                self.symmetric.add(factors[-1][0])
            tensors = {frozenset(verts) for _, verts in touching if len(verts) > 1}  # merged as in _run_step
            products = [set().union(*(tensors - {last})) for last in tensors if len(last) == max(map(len, tensors))]
            largest = max(largest, len(others), *map(len, products))
        (value, _), = factors
        return value, largest

    def k4(self, factors: list[tuple[int, tuple[int, int]]]) -> int | None:
        """The K4 step of a complete graph on four vertices with an a <-> b symmetric labelling, or None."""
        node = {frozenset(verts): n for n, verts in factors}
        best = None
        for a, b, c, d in itertools.permutations(range(4)):
            edges = [node[frozenset(pair)] for pair in ((a, b), (a, c), (b, c), (a, d), (b, d), (c, d))]
            weights = [self.steps[n].weight for n in edges]
            if weights[1] == weights[2] and weights[3] == weights[4] and (best is None or weights < best[0]):
                best = (weights, edges)
        if best is None:
            return None
        pairs = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
        return self.node(Step(tuple(zip(best[1], pairs, strict=True)), 0, k4=True))


@functools.lru_cache(maxsize=16)
def plan(efps) -> Plan:
    """The compiled :class:`Plan` of an ``EFPSet``'s connected graphs (cached per set object)."""
    compiler, outputs, largest = _Compiler(), [], 0
    for efp in efps.efps:
        terms = efp.einstr.partition("->")[0].split(",")
        letters = sorted(set("".join(terms)))
        number = {c: i for i, c in enumerate(letters)}
        edges = [(number[t[0]], number[t[1]]) for t in terms[:len(efp.weights)]]
        value, axes = compiler.graph(edges, [float(w) for w in efp.weights], len(letters))
        outputs.append(value)
        largest = max(largest, axes)
    return Plan(tuple(compiler.steps), tuple(outputs), largest)


def _letters(axes: tuple[int, ...]) -> str:
    return "".join("v" if a == FREE else "abcdefgh"[a] for a in axes)


def _contract(left: np.ndarray, lax: str, right: np.ndarray, rax: str, out: str, vector: np.ndarray) -> np.ndarray:
    """sum_v vector * left * right, batched over events and shared letters: a batched matmul when both sides
    have own axes (``vector`` multiplied into ``left`` as it is laid out for the matmul)."""
    shared = [c for c in lax if c in rax and c != "v"]
    only_l = [c for c in lax if c not in rax]
    only_r = [c for c in rax if c not in lax]
    if not (only_l and only_r):  # no matrix product: a sum of elementwise products
        return np.einsum(f"Z{lax},Z{rax}->Z{out}", np.einsum(f"Z{lax},Zv->Z{lax}", left, vector), right)
    b, m = left.shape[0], left.shape[1]
    stacks = b * m ** len(shared)
    lhs = np.ascontiguousarray(np.einsum(f"Z{lax},Zv->Z{''.join(shared + only_l)}v", left, vector))
    rhs = np.ascontiguousarray(np.einsum(f"Z{rax}->Z{''.join(shared)}v{''.join(only_r)}", right))
    result = np.matmul(lhs.reshape(stacks, m ** len(only_l), m), rhs.reshape(stacks, m, m ** len(only_r)))
    result = result.reshape((b,) + (m,) * (len(shared) + len(only_l) + len(only_r)))
    return np.einsum(f"Z{''.join(shared + only_l + only_r)}->Z{out}", result)


def _mirrored_star(x: np.ndarray, x_letters: str, y: np.ndarray, y_letter: str, vector: np.ndarray,
                   out: str) -> np.ndarray:
    """sum_v u_v x[v, a] x[v, b] y[v, c] (x, y: [b, v, m]), symmetric in (a, b): the matmul over a <= b only."""
    b, m = vector.shape
    rows, cols = np.triu_indices(m)
    pairs = vector[:, :, None] * x[:, :, rows] * x[:, :, cols]  # [b, v, m (m + 1) / 2]
    half = np.matmul(np.ascontiguousarray(pairs.transpose(0, 2, 1)), y)  # [b, pairs, m]
    full = np.empty((b, m, m, m))
    full[:, rows, cols] = half
    full[:, cols, rows] = half
    return np.einsum(f"Z{x_letters}{y_letter}->Z{out}", full)


def _star(step: Step, values: list[np.ndarray], vector: np.ndarray, out: str) -> np.ndarray | None:
    """A step summing three two-axis factors, two of them one array the same way round, or None if it is not."""
    edges = [(node, axes) for node, axes in step.children if len(axes) == 2]
    if step.n_axes != 3 or len(edges) != 3:
        return None
    for (first, second) in itertools.combinations(range(3), 2):
        (n1, a1), (n2, a2) = edges[first], edges[second]
        if n1 == n2 and a1.index(FREE) == a2.index(FREE):
            (n3, a3), = [edges[i] for i in range(3) if i not in (first, second)]
            def oriented(node, axes):  # [b, v, m] and the letter of its other axis
                array = values[node] if axes[0] == FREE else values[node].transpose(0, 2, 1)
                return array, _letters(tuple(a for a in axes if a != FREE))
            x, x1 = oriented(n1, a1)
            _, x2 = oriented(n2, a2)
            y, y3 = oriented(n3, a3)
            return _mirrored_star(x, x1 + x2, y, y3, vector, out)
    return None


def _k4(step: Step, values: list[np.ndarray], z: np.ndarray) -> np.ndarray:
    """sum_abcd z_a z_b z_c z_d th_ab th_ac th_bc th_ad th_bd th_cd (each th its own power) over pairs a <= b:

    x_ab[c] = z_c th_ac th_bc, y_ab[d] = z_d th_ad th_bd, value = sum_ab z_a z_b th_ab (x_ab th y_ab), one
    matmul [b, m - a, m] @ [b, m, m] per a (small enough to stay in cache); pairs a > b equal pairs b < a by
    the step's a <-> b symmetry.
    """
    ab, ac, bc, ad, bd, cd = (values[node] for node, _ in step.children)
    if len({node for node, _ in step.children}) == 1 and not np.any(np.diagonal(ab, axis1=1, axis2=2)):
        return _k4_symmetric(ab, z)
    total = np.zeros(len(z))
    for a in range(z.shape[1]):
        x = (ac[:, a, :] * z)[:, None, :] * bc[:, a:, :]  # [b, pairs (a, b >= a), m]
        y = x if (ad is ac and bd is bc) else (ad[:, a, :] * z)[:, None, :] * bd[:, a:, :]
        quadratic = np.einsum("Zpc,Zpc->Zp", np.matmul(x, cd), y)
        outer = ab[:, a, a:] * z[:, a:] * (2 * z[:, a:a + 1])
        outer[:, 0] /= 2  # the pair (a, a) once
        total += np.einsum("Zp,Zp->Z", outer, quadratic)
    return total


def _k4_symmetric(theta: np.ndarray, z: np.ndarray) -> np.ndarray:
    """K4 with one theta on all six edges and theta_ii = 0 exactly: 4 sum_a sum_{b, c, d > a} of the terms.

    Every term with distinct vertices is counted once per ordering (24); a term with two equal vertices has a
    theta_ii = 0 factor. The matmuls shrink with a: about m**4 / 4 multiply-adds in all, half of :func:`_k4`'s.
    """
    total = np.zeros(len(z))
    for a in range(z.shape[1] - 1):
        rest = theta[:, a + 1:, a + 1:]
        t = theta[:, a, a + 1:] * z[:, a + 1:]  # t_c = z_c th_ac, c > a
        x = t[:, None, :] * rest  # x_b[c] = z_c th_ac th_bc, b, c > a
        quadratic = np.einsum("Zpc,Zpc->Zp", np.matmul(x, rest), x)
        total += z[:, a] * np.einsum("Zp,Zp->Z", t, quadratic)
    return 4 * total


def _run_step(step: Step, values: list[np.ndarray], z: np.ndarray) -> np.ndarray:
    if step.k4:
        return _k4(step, values, z)
    out = _letters(tuple(range(step.n_axes)))
    vector = z
    tensors = []
    for node, axes in step.children:
        if axes == (FREE,):
            vector = vector * values[node]
        else:
            tensors.append((values[node], _letters(axes)))
    if not tensors:
        return vector.sum(axis=1)
    star = _star(step, values, vector, out)
    if star is not None:
        return star
    if len({frozenset(letters) for _, letters in tensors}) == 1:  # all on the same vertices
        product, letters = tensors[0]
        for tensor, other in tensors[1:]:
            product = product * np.einsum(f"Z{other}->Z{letters}", tensor)
        if letters == "va":  # a matrix-vector product
            return np.matmul(vector[:, None, :], product)[:, 0]
        if letters == "av":
            return np.matmul(product, vector[:, :, None])[:, :, 0]
        return np.einsum(f"Z{letters},Zv->Z{out}", product, vector)
    same_axes: dict[frozenset, tuple[np.ndarray, str]] = {}
    for tensor, letters in tensors:  # factors on the same vertices: one elementwise product first
        if frozenset(letters) in same_axes:
            base, base_letters = same_axes[frozenset(letters)]
            tensor, letters = base * np.einsum(f"Z{letters}->Z{base_letters}", tensor), base_letters
        same_axes[frozenset(letters)] = (tensor, letters)
    tensors = sorted(same_axes.values(), key=lambda t: len(t[1]))
    product, fax = tensors[0]
    for tensor, tax in tensors[1:-1]:
        merged = "".join(dict.fromkeys(fax + tax))
        product, fax = np.einsum(f"Z{fax},Z{tax}->Z{merged}", product, tensor), merged
    last, lax = tensors[-1]
    return _contract(product, fax, last, lax, out, vector)


def evaluate(efps, z: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """All EFPs of one padded block: z [b, m], theta [b, m, m] -> float64 [b, n_efps] (module docstring)."""
    return disconnected(efps, connected(efps, z, theta))


def disconnected(efps, values: np.ndarray) -> np.ndarray:
    """The whole set's values [n, n_efps] from its connected EFPs [n, n_connected] (``EFPSet.calc_disc``)."""
    if not len(values):  # calc_disc has nothing to squeeze: keep the set's width
        return np.empty((0, efps.specs.shape[0]))
    return np.atleast_2d(efps.calc_disc(values)).reshape(len(values), efps.specs.shape[0])


def connected(efps, z: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """The connected EFPs of one padded block: z [b, m], theta [b, m, m] -> float64 [b, n_connected]."""
    compiled = plan(efps)
    values: list[np.ndarray] = []
    powers: dict[float, np.ndarray] = {}
    for step in compiled.steps:
        if step.weight is not None:
            if step.weight not in powers:
                powers[step.weight] = theta if step.weight == 1 else theta**step.weight
            values.append(powers[step.weight])
        else:
            values.append(_run_step(step, values, z))
    return np.stack([values[i] for i in compiled.outputs], axis=1)


def hadronic_measure(particles: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """energyflow's ``hadr`` measure (kappa = 1, normed) of padded events [b, m, 3] = (pT, y, phi), pT = 0 padding.

    z_i = pT_i / sum pT; theta_ij = (dy^2 + dphi^2)^(beta/2) with dphi folded as energyflow does,
    pi - | |dphi| - pi |. Padded rows get z = 0 and a finite theta.
    """
    pt = particles[..., 0]
    real = pt > 0
    y = np.where(real, particles[..., 1], 0.0)
    phi = np.where(real, particles[..., 2], 0.0)
    z = pt / pt.sum(axis=1, keepdims=True)
    dy = y[:, :, None] - y[:, None, :]
    dphi = np.pi - np.abs(np.abs(phi[:, :, None] - phi[:, None, :]) - np.pi)
    return z, (dy**2 + dphi**2) ** (beta / 2)


def block_size(efps, m: int, elements: int = BLOCK_ELEMENTS) -> int:
    """Events of m particles per block (b >= 1): b * m**k <= ``elements`` for the plan's largest arrays, and
    b * m**2 <= :data:`CACHE_ELEMENTS`, so that a block's [b, m, m] arrays stay in cache."""
    m = max(m, 1)
    return max(1, min(elements // m ** max(plan(efps).largest_axes, 2), CACHE_ELEMENTS // m**2))


def block_rows(efps, counts: np.ndarray, elements: int = BLOCK_ELEMENTS, jets: int = BLOCK_JETS) -> list[np.ndarray]:
    """Row indices of blocks of at most ``jets`` jets of similar multiplicity (ascending), within :func:`block_size`."""
    order = np.argsort(counts, kind="stable")
    blocks, lo = [], 0
    while lo < len(order):
        hi = lo + 1
        while hi < len(order) and hi + 1 - lo <= min(jets, block_size(efps, int(counts[order[hi]]), elements)):
            hi += 1
        blocks.append(order[lo:hi])
        lo = hi
    return blocks


def hadronic_efps(efps, particles: np.ndarray, counts: np.ndarray, beta: float) -> np.ndarray:
    """EFPs of jets given as padded (pT, y, phi) [n, C, 3] with ``counts`` real rows each -> [n, n_efps]."""
    values = np.empty((len(counts), len(efps.efps)))
    for rows in block_rows(efps, counts):
        m = int(counts[rows].max())
        block = particles[rows, :m]  # fancy indexing: a copy already
        block[np.arange(m)[None, :] >= counts[rows][:, None]] = 0.0  # whatever padding held, it is zero now
        values[rows] = connected(efps, *hadronic_measure(block, beta))
    return disconnected(efps, values)  # once for all jets: calc_disc loops over the disconnected graphs

