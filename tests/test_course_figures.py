"""Chapter 3's expectile figures: the numbers they show are right, and they render headless."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from iql_lib.course.expectiles import (
    ZETA_GRID,
    expectile,
    expectile_curve,
    expectile_figure,
    explore_expectiles,
    explore_zeta_sweep,
    mixed_actions,
    outlier_pull,
    plot_outlier_pull,
    positive_advantage_shares,
    q_values_of_mixed_actions,
    quantile,
    zeta_sweep_figure,
    zeta_table,
)

matplotlib.use("Agg")


def test_half_expectile_is_the_mean():
    x = np.random.default_rng(0).gamma(2.0, size=500)
    assert expectile(x, 0.5) == pytest.approx(x.mean(), abs=1e-8)


@pytest.mark.parametrize("zeta", [0.1, 0.7, 0.9, 0.99])
def test_expectile_solves_its_first_order_condition(zeta):
    x = q_values_of_mixed_actions()
    m = expectile(x, zeta)
    gradient = zeta * np.clip(x - m, 0, None).mean() - (1 - zeta) * np.clip(m - x, 0, None).mean()
    assert abs(gradient) < 1e-8


def test_expectiles_rise_with_zeta_between_the_mean_and_the_max():
    rows = zeta_table()
    values = [r["expectile"] for r in rows]
    assert values == sorted(values)
    upper = [r for r in rows if r["zeta"] > 0.5]
    assert all(r["mean"] < r["expectile"] < r["max"] for r in upper)
    assert quantile(np.arange(101), 0.9) == pytest.approx(90)


def test_expectile_rejects_zeta_outside_the_open_interval():
    with pytest.raises(ValueError, match="ζ must lie in"):
        expectile(np.ones(3), 1.0)


def test_figures_render_statically_outside_a_notebook(tmp_path):
    fig = explore_expectiles(0.8)  # no IPython kernel here: the static figure
    assert fig is not None and len(fig.axes) == 2
    fig.savefig(tmp_path / "expectiles.png")
    assert (tmp_path / "expectiles.png").stat().st_size > 10_000
    labels = [line.get_label() for line in expectile_figure(0.9).axes[1].lines]
    assert any(label.startswith("0.90-expectile") for label in labels)


def test_expectile_curve_matches_the_one_zeta_solver_for_samples_and_rows():
    q = q_values_of_mixed_actions()
    curve = expectile_curve(q, ZETA_GRID)
    assert curve == pytest.approx([expectile(q, z) for z in ZETA_GRID], abs=1e-7)
    assert np.all(np.diff(curve) > 0)  # strictly rising in ζ
    rows = np.random.default_rng(1).normal(size=(5, 30))
    per_row = expectile_curve(rows, [0.2, 0.9])
    assert per_row.shape == (2, 5)
    assert per_row[1, 3] == pytest.approx(expectile(rows[3], 0.9), abs=1e-7)
    with pytest.raises(ValueError, match="ζ must lie in"):
        expectile_curve(q, [0.5, 1.0])


def test_mixed_actions_labels_the_same_values_the_chapter_plots():
    q, good = mixed_actions(n=1000, good_fraction=0.3, seed=4)
    assert np.array_equal(q, q_values_of_mixed_actions(n=1000, good_fraction=0.3, seed=4))
    assert good.sum() == 300 and q[good].mean() > q[~good].mean() + 5


def test_positive_advantage_separates_good_from_poor_actions_as_zeta_rises():
    q, good = mixed_actions()
    shares = positive_advantage_shares(q, good, zetas=[0.5, 0.9])
    overall = (shares["good"][0] * good.sum() + shares["poor"][0] * (~good).sum()) / len(q)
    assert overall == pytest.approx((q > q.mean()).mean())  # ζ = 0.5: V is the mean
    assert shares["good"][1] > 0.95 and shares["poor"][1] < 0.02
    assert shares["poor"][1] < shares["poor"][0]


def test_one_overestimated_q_value_drags_a_high_expectile_furthest():
    pull = dict(zip(ZETA_GRID, outlier_pull(n_actions=20, error=10.0)))
    assert pull[0.5] == pytest.approx(10.0 / 20, abs=1e-6)  # the mean moves by error / n
    assert pull[0.2] < pull[0.5] < pull[0.9] < pull[0.99] < 10.0
    assert pull[0.99] > 0.7 * 10.0


def test_zeta_sweep_renders_statically_outside_a_notebook(tmp_path):
    fig = explore_zeta_sweep(0.7, good_fraction=0.4)  # no IPython kernel: the static figure
    assert fig is not None and len(fig.axes) == 3
    fig.savefig(tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 10_000
    assert "40 % good" in fig.axes[0].get_title()
    assert any(line.get_label() == "ζ-expectile = V(s)" for line in zeta_sweep_figure().axes[1].lines)
    ax = plot_outlier_pull(0.9)
    assert any("ζ = 0.90" in line.get_label() for line in ax.lines)


@pytest.mark.parametrize("figure", [zeta_sweep_figure, expectile_figure])
def test_legends_sit_off_the_plotted_data(figure):
    """The statistics and sweep panels put their legends under the axes, not on the lines."""
    fig = figure(0.9)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = [ax for ax in fig.axes if ax.get_legend() is not None and "loss" not in ax.get_ylabel()]
    assert legends
    for ax in legends:
        legend, box = ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer)
        assert legend.y1 <= box.y0, f"the legend of {ax.get_title()!r} overlaps its axes"
    matplotlib.pyplot.close(fig)
