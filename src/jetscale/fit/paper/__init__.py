"""The analysis behind each paper figure: pure functions from results tables (and spectra) to the numbers and
the drawing data of a figure's numbers file (:mod:`jetscale.paper.figures`)."""
