"""The paper figures: one command (``make paper``, the workflow's ``paper`` target) from nothing to
``results/paper/<scale>/`` (figures 1-5 as PNG + PDF, ``report.md`` and ``numbers.json``).

Scales and their sweeps: :mod:`jetscale.paper.config`; each figure's inputs -> numbers file -> drawing:
:mod:`jetscale.paper.figures`; the report: :mod:`jetscale.paper.report`.
"""
