"""Sweep figures draw the table's numbers: seed means, fitted laws and theory, on log axes."""

import numpy as np
import pandas as pd
import pytest

from jetscale.fit import fit_groups
from jetscale.plots.sweep import plot_loss_vs


def sweep_table():
    rows = []
    for n in (100, 200, 400, 800):
        for w in (8, 16, 32):
            for seed, noise in ((0, 1.02), (1, 0.98)):
                loss = (0.02 + 3.0 * n**-0.6) * noise
                rows.append(dict(run_id=f"{n},{w},{seed}", n_samples=n, width=w, n_params=w, seed=seed,
                                 test_loss=loss, theory_loss=0.02 + 3.0 * n**-0.6))
    return pd.DataFrame(rows)


def test_loss_vs_n_samples_draws_means_fits_and_theory():
    table = sweep_table()
    fits = {"data": fit_groups(table, "data", "width", n_boot=0)}
    fig = plot_loss_vs(table, fits, x="n_samples", group="width")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "samples" in ax.get_xlabel() and ax.get_ylabel()
    containers = ax.containers  # one errorbar series per width
    assert len(containers) == 3
    expected = table[table.width == 8].groupby("n_samples").test_loss.mean().to_numpy()
    np.testing.assert_allclose(np.asarray(containers[0].lines[0].get_ydata(), dtype=float), expected)
    lines = [line for line in ax.get_lines() if line.get_linestyle() in ("--", "-") and len(line.get_xdata()) > 1]
    dashed = [line for line in lines if line.get_linestyle() == "--"]
    assert len(dashed) == 3  # a fitted law per width
    fitted = dashed[0].get_ydata()
    assert fitted[0] > fitted[-1]  # a decreasing power law
    assert fitted[-1] == pytest.approx(expected[-1], rel=0.05)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("beta" in text for text in legend)
