"""Chapter 3's expectile figures: the numbers they show are right, and they render headless."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from iql_lib.course.expectiles import (expectile, expectile_figure, explore_expectiles, quantile,
                                       q_values_of_mixed_actions, zeta_table)

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
