"""Chapter 2's toy: the fitted Q is right on the data and far too high off it, the actor
walks off the data, the in-sample V stays inside it, and everything repeats from a seed."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

from iql_lib.course.expectiles import expectile
from iql_lib.course.toys import (
    ACTION_HIGH,
    QueryLog,
    best_true_action,
    bootstrap,
    bootstrap_figure,
    climb_q,
    drift_figure,
    drift_survey,
    fit_q,
    in_sample_value,
    make_q_network,
    make_toy_data,
    one_thread,
    q_at,
    support_error,
    true_q,
    value_figure,
    value_table,
)

matplotlib.use("Agg")
SEED = 3


@pytest.fixture(scope="module")
def fitted():
    data = make_toy_data(seed=SEED)
    net = make_q_network(seed=SEED)
    fit_q(net, data.actions, data.rewards)
    return data, net, climb_q(net)


def test_data_repeats_from_its_seed_and_covers_only_the_middle_of_the_action_range():
    a, b, c = make_toy_data(seed=1), make_toy_data(seed=1), make_toy_data(seed=2)
    assert torch.equal(a.actions, b.actions) and torch.equal(a.rewards, b.rewards)
    assert not torch.equal(a.actions, c.actions)
    low, high = a.support
    assert -1.0 <= low < -0.6 and 0.6 < high <= 1.0  # the action range is [-3, 3]
    assert a.actions.std().item() == pytest.approx(0.3, abs=0.03)
    assert a.best_logged_action == pytest.approx(high)  # Q rises across the data


def test_the_true_optimum_is_where_the_derivative_vanishes():
    a_star, q_star = best_true_action()
    assert 1 - 0.4 * a_star**3 == pytest.approx(0.0, abs=1e-9)
    grid = np.linspace(-3, 3, 60001)
    assert q_star == pytest.approx(true_q(grid).max(), abs=1e-7)


def test_the_fit_matches_the_truth_on_the_support(fitted):
    data, net, _ = fitted
    assert support_error(net, data) < 0.05
    centre = np.linspace(-0.5, 0.5, 11)
    assert np.abs(q_at(net, centre) - true_q(centre)).max() < 0.1


def test_the_actor_drifts_off_the_support_where_q_is_overestimated(fitted):
    data, net, path = fitted
    end = path[-1]
    assert path[0] == 0.0 and end > data.support[1] + 1.0
    assert end == pytest.approx(ACTION_HIGH)
    overestimate = q_at(net, end)[0] - true_q(end)
    assert overestimate > 3.0  # measured ≈ 7.6 at seed 3
    assert q_at(net, end)[0] > q_at(net, data.actions).max() + 1.0  # above anything in the data


def test_fitting_is_deterministic_given_the_seed(fitted):
    data, net, path = fitted
    again = make_q_network(seed=SEED)
    torch.manual_seed(12345)  # the global RNG must not matter
    fit_q(again, data.actions, data.rewards)
    grid = np.linspace(-3, 3, 61)
    np.testing.assert_allclose(q_at(again, grid), q_at(net, grid), atol=1e-6)
    np.testing.assert_allclose(climb_q(again), path, atol=1e-5)


def test_in_sample_value_lies_between_the_data_mean_and_max_and_rises_with_zeta(fitted):
    data, net, path = fitted
    rows = value_table(net, data, zetas=(0.6, 0.9, 0.99, 0.999), actor_action=path[-1])
    values = [r["V"] for r in rows]
    assert values == sorted(values)
    assert all(r["data_mean"] < r["V"] < r["data_max"] for r in rows)
    assert rows[-1]["data_max"] - rows[-1]["V"] < 0.15  # ζ → 1: the best logged action's value
    assert rows[-1]["data_max"] == pytest.approx(rows[-1]["true_best_logged"], abs=0.1)
    assert rows[-1]["actor_predicted"] - rows[-1]["V"] > 1.0  # far below the extrapolated max
    assert in_sample_value(net, data.actions, 0.5) == pytest.approx(rows[0]["data_mean"], abs=1e-8)


def test_in_sample_value_queries_q_only_at_logged_actions(fitted):
    data, net, _ = fitted
    log = QueryLog(net)
    v = in_sample_value(log, data.actions, 0.9)
    assert log.count == len(data.actions) and log.range == pytest.approx(data.support)
    assert v == pytest.approx(expectile(q_at(net, data.actions), 0.9))


def test_bootstrapping_from_the_actor_inflates_while_v_stays_in_sample(fitted):
    data, net, _ = fitted
    gamma = 0.8
    actor = bootstrap(data, net, "policy", gamma=gamma, rounds=4, steps_per_round=100)
    in_sample = bootstrap(data, net, "expectile", zeta=0.9, gamma=gamma, rounds=4, steps_per_round=100)
    best_value = best_true_action()[1] / (1 - gamma)
    assert actor.estimates[-1] > best_value > actor.estimates[0]  # claims more than is possible
    assert np.all(np.diff(actor.estimates) > 0)
    assert actor.queried[1] == pytest.approx(ACTION_HIGH)
    assert np.all(np.diff(in_sample.estimates) > 0)
    assert max(in_sample.estimates) < true_q(data.best_logged_action) / (1 - gamma)
    assert in_sample.queried == pytest.approx(data.support)
    q_before = q_at(net, [0.0])
    assert q_at(actor.q_net, [0.0]) != pytest.approx(q_before)  # runs refit copies ...
    assert q_at(net, [0.0]) == pytest.approx(q_before)  # ... and leave the given net alone
    with pytest.raises(ValueError, match="target must be"):
        bootstrap(data, net, "max")


def test_drift_survey_reports_each_seed():
    rows = drift_survey([0, 1], steps=600)
    assert [r["seed"] for r in rows] == [0, 1]
    for r in rows:
        assert r["left_support"] == (r["final_action"] > 1.0)
        assert r["support_error"] < 0.1


def test_one_thread_restores_the_previous_setting():
    before = torch.get_num_threads()
    with one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_figures_render_headless(fitted, tmp_path):
    data, net, path = fitted
    runs = [bootstrap(data, net, "policy", rounds=2, steps_per_round=20),
            bootstrap(data, net, "expectile", zeta=0.9, rounds=2, steps_per_round=20)]
    for name, fig, n_axes in [("drift", drift_figure(data, net, path), 3),
                              ("value", value_figure(data, net, path[-1]), 1),
                              ("bootstrap", bootstrap_figure(runs, data), 2)]:
        assert len(fig.axes) == n_axes
        fig.savefig(tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
