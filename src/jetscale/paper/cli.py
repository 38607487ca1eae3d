"""The paper's commands; the workflow's ``paper`` target runs the three steps as rules (workflow/rules/paper.smk):

    jetscale paper-numbers --config small --figure fig1_data_scaling --out numbers/fig1_data_scaling.json
    jetscale paper-figure numbers/fig1_data_scaling.json --out-dir results/paper/small
    jetscale paper-report numbers/*.json --out-dir results/paper/small
    jetscale paper --config small      # all three, every figure, in one process

File contracts: :mod:`jetscale.paper.figures` (numbers files), :mod:`jetscale.paper.report` (report).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jetscale.paper.config import PAPER_FIGURES, load_paper_config, paper_dir


def cmd_paper_numbers(args: argparse.Namespace) -> int:
    from jetscale.paper.figures import numbers_file, numbers_path
    from jetscale.results import write_json_atomic

    cfg = load_paper_config(args.config)
    out = Path(args.out) if args.out else numbers_path(args.results_dir, cfg.scale, args.figure)
    write_json_atomic(out, numbers_file(cfg, args.results_dir, args.figure))
    print(out)
    return 0


def cmd_paper_figure(args: argparse.Namespace) -> int:
    from jetscale.paper.figures import draw_figure, read_numbers_file

    payload = read_numbers_file(args.numbers)
    out_dir = Path(args.out_dir) if args.out_dir else Path(args.numbers).resolve().parent.parent
    for path in draw_figure(payload, out_dir):
        print(path)
    return 0


def write_paper_report(payloads: list[dict], out_dir: Path) -> tuple[Path, Path]:
    from jetscale.paper.report import write_report

    if not payloads:
        raise ValueError("no numbers files: give one per figure")
    scales = {(p.get("scale"), p.get("config")) for p in payloads}
    if len(scales) > 1:
        raise ValueError(f"numbers files of different paper scales {sorted(map(str, scales))}: one report per scale")
    order = {name: i for i, name in enumerate(PAPER_FIGURES)}
    payloads = sorted(payloads, key=lambda p: order.get(p["figure"], len(order)))
    scale, config = scales.pop()
    return write_report(payloads, out_dir, scale=scale, config=config)


def cmd_paper_report(args: argparse.Namespace) -> int:
    from jetscale.paper.figures import read_numbers_file

    for path in write_paper_report([read_numbers_file(p) for p in args.numbers], Path(args.out_dir)):
        print(path)
    return 0


def cmd_paper(args: argparse.Namespace) -> int:
    """Every figure's numbers file, drawing, then the report (figure 1 before figure 2, which reads it)."""
    from jetscale.paper.figures import draw_figure, numbers_file, numbers_path
    from jetscale.results import write_json_atomic

    cfg = load_paper_config(args.config)
    out_dir = Path(args.out_dir) if args.out_dir else paper_dir(args.results_dir, cfg.scale)
    payloads = []
    for name in PAPER_FIGURES:
        payload = numbers_file(cfg, args.results_dir, name)
        write_json_atomic(numbers_path(args.results_dir, cfg.scale, name), payload)
        draw_figure(payload, out_dir)
        payloads.append(payload)
    write_paper_report(payloads, out_dir)
    print(out_dir)
    return 0


def _config_argument(p) -> None:
    p.add_argument("--config", required=True, metavar="SCALE_OR_PATH",
                   help="paper scale name (configs/paper/<name>.yaml) or a path to a .yaml")
    p.add_argument("--results-dir", default="results",
                   help="where the sweeps' tables and the spectra are (default: results)")


def register(sub) -> None:
    p = sub.add_parser("paper", help="paper figures 1-5, report.md and numbers.json of a paper scale",
                       description="Every step of the paper in one process: each figure's numbers file "
                                   "(<results>/paper/<scale>/numbers/), its drawing (PNG + PDF), report.md and "
                                   "numbers.json. The workflow runs the same steps as rules: `make paper SCALE=<scale>`.")
    _config_argument(p)
    p.add_argument("--out-dir", help="where the figures and report go (default: <results-dir>/paper/<scale>)")
    p.set_defaults(func=cmd_paper)

    p = sub.add_parser("paper-numbers", help="one paper figure's numbers file from its inputs")
    _config_argument(p)
    p.add_argument("--figure", required=True, choices=PAPER_FIGURES)
    p.add_argument("--out", help="default: <results-dir>/paper/<scale>/numbers/<figure>.json")
    p.set_defaults(func=cmd_paper_numbers)

    p = sub.add_parser("paper-figure", help="draw a paper figure (PNG + PDF) from its numbers file")
    p.add_argument("numbers", help="numbers/<figure>.json of `jetscale paper-numbers`")
    p.add_argument("--out-dir", help="default: the numbers folder's parent (the scale's paper directory)")
    p.set_defaults(func=cmd_paper_figure)

    p = sub.add_parser("paper-report", help="report.md and numbers.json from the figures' numbers files")
    p.add_argument("numbers", nargs="+", help="numbers files, one per figure")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_paper_report)
