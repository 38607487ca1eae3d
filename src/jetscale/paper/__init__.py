"""The paper figures: one command (``make paper``, the workflow's ``paper`` target) from nothing to
``results/paper/<scale>/`` (figures 1-5 as PNG + PDF, ``report.md`` and ``numbers.json``).

Scales and their sweeps: :mod:`jetscale.paper.config`; each figure: a module returning a
:class:`~jetscale.paper.result.FigureResult`.
"""
