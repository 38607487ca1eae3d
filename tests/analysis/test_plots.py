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


def test_the_style_names_models_once_and_gives_each_one_colour():
    from jetscale.plots.style import MODEL_COLORS, MODEL_NAMES, TASK_MODELS, label, model_color, model_label

    assert [model_label(m) for m in ("efp_linear", "efp_mlp", "pfn", "particle_transformer")] == [
        "EFP linear", "EFP MLP", "PFN", "Particle Transformer"]
    assert model_label("new_model") == "new model"
    assert sorted(m for models in TASK_MODELS.values() for m in models) == sorted(MODEL_NAMES) == sorted(MODEL_COLORS)
    for models in TASK_MODELS.values():  # distinct within a task, and from the spare colours of unknown models
        colours = [model_color(m) for m in models] + [model_color("x", i) for i in range(3)]
        assert len(set(colours)) == len(colours)
    assert model_color("pfn") == model_color("pfn", index=3) and model_color("x", 0) != model_color("x", 1)
    assert label("test_loss", "jets") == "test BCE [nats/jet]" and label("n_samples", "jets") == "training jets $T$"
    assert label("test_loss", "toy") == "excess test error $E_g$" and label("n_samples") == "training samples $P$"


def test_log_axes_label_ticks_plainly_and_thin_the_minor_ones():
    import matplotlib.pyplot as plt

    from jetscale.plots.style import figure_style, interval_err, log_axes, panel_figure, tick_text

    assert [tick_text(v) for v in (0.3, 1000.0, 2e6, 1e9)] == ["0.3", "1000", "$2\\times10^{6}$", "$10^{9}$"]
    assert interval_err(1.0, 1.2, 2.0) == [[0.0], [1.0]] and interval_err(1.0, None, None) is None
    with figure_style():
        fig, axes = panel_figure(3)
        assert len(axes) == 3 and len(fig.axes) == 4 and not fig.axes[3].get_visible()
        ax = axes[0]
        ax.plot([250, 8000], [0.25, 0.6])
        log_axes(ax)
        fig.canvas.draw()
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        minor_x = [t.get_text() for t in ax.xaxis.get_minorticklabels() if t.get_text()]
        assert minor_x and set(minor_x) <= {"300", "3000"}  # 1.5 decades: only the 3s
        minor_y = {t.get_text() for t in ax.yaxis.get_minorticklabels() if t.get_text()}
        assert {"0.3", "0.4", "0.5"} <= minor_y  # under a decade: every minor tick
        plt.close(fig)


def test_the_theory_legend_entry_appears_only_with_a_theory_and_labels_follow_the_task():
    with_theory = sweep_table().assign(task="shower")
    without = with_theory.assign(theory_loss=np.nan, task="rambo")
    for table, has_theory, xlabel in ((with_theory, True, "training events"), (without, False, "training events")):
        ax = plot_loss_vs(table, {}, x="n_samples", group="width").axes[0]
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any("theory" in text for text in legend) == has_theory
        assert not any("fit" in text for text in legend)  # no fits given: no fit entry
        assert xlabel in ax.get_xlabel()


def test_the_throughput_figure_draws_every_point_and_says_where_mfu_has_no_peak():
    from jetscale.plots.throughput import plot_throughput

    table = sweep_table().assign(task="jets", precision="bf16-mixed", device_name="NVIDIA H200")
    table["train_flops_per_s"] = 1e9 * table["n_params"] * (1 + table["seed"])
    table["mfu"] = table["train_flops_per_s"] / 989.5e12
    speed, mfu = plot_throughput(table).axes
    drawn = np.concatenate([line.get_ydata() for line in mfu.get_lines()])
    assert sorted(drawn) == pytest.approx(sorted(table["mfu"]))  # every point, no seed means
    assert len(speed.get_lines()) == 4 and mfu.get_yscale() == "log"  # one colour per n_samples
    assert "NVIDIA H200; bf16-mixed" in speed.get_title(loc="left")
    texts = lambda ax: " ".join(t.get_text() for t in ax.texts)  # noqa: E731
    cpu = table.assign(device_name="cpu", precision="32-true", mfu=None)
    speed, mfu = plot_throughput(cpu).axes
    assert len(speed.get_lines()) == 4 and not mfu.get_lines() and "no device peak (CPU)" in texts(mfu)
    speed, mfu = plot_throughput(sweep_table()).axes  # a table from before jetscale timed training
    assert "no train_flops_per_s" in texts(speed) and "no device peak" in texts(mfu)
