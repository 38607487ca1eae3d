"""Benchmark: jet generation speed and size, each measured side by side in one run.

(1) jetscale's jets/s (``generate_jets``) against a bare Pythia + SlowJet loop written
    inline below, with the same Pythia settings, seeds and cuts (target >= 0.9x);
(2) ``mpiexec -n 2`` against ``-n 1`` making the same shards (same total jets; target
    >= 1.8x on 2 cores); each run pays its start-up (imports) once, also printed;
(3) MB on disk per 1k jets, from the shards of (2);
and, for the ``clustering`` choice in configs/generator/jets_pythia.yaml, slowjet vs fastjet jets/s.

    python benchmarks/generate.py [--jets 600] [--repeats 3] [--mpi-shards 4] [--mpi-jets-per-shard 2000]
                                  [--parts bare clustering ranks]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pythia8mc

from jetscale.data.generate.run import generate_jets
from jetscale.data.generate.settings import load_config, pythia_settings
from jetscale.data.shards import load_manifest

BIN = Path(sys.executable).parent
TARGET_BARE = 0.9
TARGET_MPI = 1.8
PARTS = ["bare", "clustering", "ranks"]


def bare_jets(settings: list[str], n_jets: int, match_top: bool) -> np.ndarray:
    """The reference loop: Pythia, SlowJet anti-kT R=0.8, 550<pT<650, |eta|<2, top containment
    dR<0.8, first passing jet per event, 200 pT-ordered (pT, eta, phi, E) constituents."""
    pythia = pythia8mc.Pythia("", False)
    for line in settings:
        pythia.readString(line)
    pythia.init()
    slowjet = pythia8mc.SlowJet(-1, 0.8, 550.0, 25.0, 2, 2)
    out = np.zeros((n_jets, 200, 4), dtype=np.float32)
    jets = np.zeros((n_jets, 4), dtype=np.float32)
    n = 0
    while n < n_jets:
        if not pythia.next():
            continue
        event = pythia.event
        slowjet.analyze(event)
        tops = []
        if match_top:
            for i in range(3, event.size()):
                if event[i].statusAbs() not in (21, 22, 23):
                    break
                if event[i].idAbs() != 6:
                    continue
                top = event[event[i].iBotCopyId()]
                decay = [event[k] for k in top.daughterList()]
                w = next(d for d in decay if d.idAbs() == 24)
                b = next(d for d in decay if 1 <= d.idAbs() <= 5)
                qs = [event[k] for k in event[w.iBotCopyId()].daughterList()]
                tops.append([(p.eta(), p.phi()) for p in (top, b, *qs)])
        for j in range(slowjet.sizeJet()):
            v = slowjet.p(j)
            pt, eta, phi = v.pT(), v.eta(), v.phi()
            if not (550.0 < pt < 650.0 and abs(eta) < 2.0):
                continue
            if match_top and not any(
                    all(np.hypot(eta - e, (phi - f + np.pi) % (2 * np.pi) - np.pi) < 0.8 for e, f in top)
                    for top in tops):
                continue
            parts = np.array([(event[k].pT(), event[k].eta(), event[k].phi(), event[k].e())
                              for k in slowjet.constituents(j)])
            parts = parts[np.argsort(-parts[:, 0])][:200]
            out[n, : len(parts)] = parts
            jets[n] = (pt, eta, phi, v.mCalc())
            n += 1
            break
    return jets


def jets_per_s(fn, n_jets: int) -> float:
    start = time.perf_counter()
    fn()
    return 2 * n_jets / (time.perf_counter() - start)


def compare_with_bare(n_jets: int, repeats: int) -> None:
    gen = load_config().generator
    seeds = {"top": 101, "qcd": 102}
    settings = {name: pythia_settings(gen, name, seeds[name]) for name in seeds}

    def ours():
        return [generate_jets(gen, name, n_jets, seeds[name])["jet"] for name in seeds]

    def bare():
        return [bare_jets(settings[name], n_jets, gen.processes[name].match_top) for name in seeds]

    for a, b in zip(ours(), bare()):  # same events, same jets: the two loops do the same work
        np.testing.assert_allclose(a[:, :3], b[:, :3], rtol=1e-5, atol=1e-4)
    rates = {"jetscale": [], "bare": []}
    for _ in range(repeats):  # alternate, keep the best of each
        rates["jetscale"].append(jets_per_s(ours, n_jets))
        rates["bare"].append(jets_per_s(bare, n_jets))
    best = {k: max(v) for k, v in rates.items()}
    ratio = best["jetscale"] / best["bare"]
    print(f"(1) {2 * n_jets} jets (top+QCD), best of {repeats}: jetscale {best['jetscale']:.0f} jets/s, "
          f"bare Pythia+SlowJet loop {best['bare']:.0f} jets/s")
    print(f"    ratio jetscale / bare: {ratio:.2f} (target >= {TARGET_BARE}: {'PASS' if ratio >= TARGET_BARE else 'FAIL'})")


def compare_clustering(n_jets: int, repeats: int) -> None:
    rates = {}
    for backend in ("slowjet", "fastjet"):
        gen = load_config(overrides=[f"clustering={backend}"]).generator

        def run(gen=gen):
            return [generate_jets(gen, name, n_jets, 7) for name in gen.processes]

        rates[backend] = max(jets_per_s(run, n_jets) for _ in range(repeats))
    print(f"(+) clustering, {2 * n_jets} jets, best of {repeats}: slowjet {rates['slowjet']:.0f} jets/s, "
          f"fastjet {rates['fastjet']:.0f} jets/s, slowjet / fastjet {rates['slowjet'] / rates['fastjet']:.2f}")


def mpi_run(ranks: int, out: Path, shards: int, jets_per_shard: int) -> float:
    cmd = [str(BIN / "mpiexec"), "-n", str(ranks), sys.executable, "-m", "jetscale.data.generate",
           "--shards", f"0-{shards - 1}", "--jets-per-shard", str(jets_per_shard), "--out", str(out),
           "log_interval_s=60"]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def startup_seconds() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "jetscale.data.generate", "--help"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def compare_ranks(shards: int, jets_per_shard: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        one = mpi_run(1, Path(tmp) / "n1", shards, jets_per_shard)
        two = mpi_run(2, Path(tmp) / "n2", shards, jets_per_shard)
        for run in ("n1", "n2"):
            load_manifest(Path(tmp) / run, verify=True)
        size = sum(p.stat().st_size for p in (Path(tmp) / "n2").glob("shard-*.h5"))
    total = shards * jets_per_shard
    ratio = one / two
    print(f"(2) {total} jets in {shards} shards: mpiexec -n 1 {one:.1f} s ({total / one:.0f} jets/s), "
          f"-n 2 {two:.1f} s ({total / two:.0f} jets/s); start-up (imports) per run {startup_seconds():.1f} s")
    print(f"    ratio 2 ranks / 1 rank: {ratio:.2f} (target >= {TARGET_MPI}: {'PASS' if ratio >= TARGET_MPI else 'FAIL'})")
    print(f"(3) on disk: {size / 1e6 / total * 1000:.2f} MB per 1k jets "
          f"({size / 1e6:.1f} MB for {total} jets, gzip-1 constituents)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jets", type=int, default=600, help="jets per class for (1) and the clustering comparison")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mpi-shards", type=int, default=4)
    parser.add_argument("--mpi-jets-per-shard", type=int, default=2000)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=PARTS)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start "
          "(other work on the machine lowers the 2-rank ratio)")
    if "bare" in args.parts:
        compare_with_bare(args.jets, args.repeats)
    if "clustering" in args.parts:
        compare_clustering(args.jets // 2, args.repeats)
    if "ranks" in args.parts:
        compare_ranks(args.mpi_shards, args.mpi_jets_per_shard)


if __name__ == "__main__":
    main()
