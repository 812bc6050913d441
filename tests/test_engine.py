"""The engine computes what the obvious implementation computes.

One engine step — vmapped over seeds, fused twin Q, eager or compiled — must leave the
same parameters as one step of `benchmarks/plain_torch.py` (separate modules,
torch.optim, eager) from the same parameters and batch; and a 3-seed run must write the
same CSV rows as three single-seed runs.
"""
from __future__ import annotations

import pytest
import torch

from benchmarks.plain_torch import flat_state, load_flat_state, make_plain_agent
from iql_lib.algos import make_algorithm
from iql_lib.assignment.blank_sources import load_blanks
from iql_lib.config import make_config
from iql_lib.data import load_dataset
from iql_lib.training.engine import Engine, ReplayTensor
from iql_lib.envs import env_spec
from iql_lib.training.run_folder import read_eval_csv, read_metrics
from iql_lib.training.train import train

B = 64
SEEDS = [1, 2, 3]


def problem(discrete: bool):
    """(ob_dim, ac_dim) of a PointMass-shaped and an AntMaze-shaped (smaller) problem."""
    return (2, 5) if discrete else (7, 3)


def make_batch(discrete: bool, n_seeds: int, seed: int = 0) -> dict[str, torch.Tensor]:
    ob_dim, ac_dim = problem(discrete)
    g = torch.Generator().manual_seed(seed)
    shape = (n_seeds, B)
    actions = (torch.randint(0, ac_dim, shape, generator=g) if discrete
               else torch.rand(*shape, ac_dim, generator=g) * 2 - 1)
    return {"obs": torch.randn(*shape, ob_dim, generator=g), "actions": actions,
            "rewards": -torch.rand(shape, generator=g), "next_obs": torch.randn(*shape, ob_dim, generator=g),
            "terminals": (torch.rand(shape, generator=g) < 0.2).float()}


def build(algo_name: str, discrete: bool, compile: bool, seeds=SEEDS):
    ob_dim, ac_dim = problem(discrete)
    cfg = make_config(algo=algo_name, hidden_size=32)
    blanks = load_blanks("solutions")
    engine = Engine(make_algorithm(algo_name, ob_dim, ac_dim, discrete, cfg, blanks), seeds,
                    torch.device("cpu"), compile=compile)
    return engine, cfg, blanks


def noise_for(engine: Engine, discrete: bool) -> torch.Tensor | None:
    algo = engine.algo
    if not algo.noise_draws:
        return None
    g = torch.Generator().manual_seed(7)
    shape = (len(SEEDS), algo.noise_draws, B, algo.policy_template.noise_dim)
    return algo.policy_template.draw_noise(shape, g, "cpu")


def assert_same_parameters(engine_state: dict, plain_state: dict, index: int):
    for name, expected in plain_state.items():
        torch.testing.assert_close(engine_state[name][index], expected, rtol=1e-4, atol=2e-5,
                                   msg=lambda m: f"{name}: {m}")


def check_against_plain(algo_name: str, discrete: bool, compile: bool, n_steps: int):
    engine, cfg, blanks = build(algo_name, discrete, compile)
    ob_dim, ac_dim = problem(discrete)
    plain = []
    for i in range(len(SEEDS)):
        agent = make_plain_agent(algo_name, ob_dim, ac_dim, discrete, cfg, blanks)
        load_flat_state(agent, {k: v[i] for k, v in engine.state.items() if not k.endswith("_opt")})
        plain.append(agent)
    for step in range(n_steps):
        batch, noise = make_batch(discrete, len(SEEDS), seed=step), noise_for(engine, discrete)
        metrics = engine.step(batch, noise)
        for i, agent in enumerate(plain):
            expected = agent.update({k: v[i] for k, v in batch.items()},
                                    None if noise is None else noise[i])
            for key, value in expected.items():
                torch.testing.assert_close(metrics[key][i], value, rtol=1e-4, atol=1e-5)
            assert_same_parameters(engine.state, flat_state(agent), i)
    return engine


@pytest.mark.parametrize("discrete", [True, False], ids=["discrete", "continuous"])
@pytest.mark.parametrize("algo_name", ["iql", "awac", "bc"])
def test_eager_engine_step_equals_the_plain_step(algo_name, discrete):
    check_against_plain(algo_name, discrete, compile=False, n_steps=3)


@pytest.mark.parametrize("algo_name,discrete", [("iql", True), ("iql", False), ("awac", True), ("bc", False)])
def test_compiled_engine_step_equals_the_plain_step(algo_name, discrete):
    """The first step runs eagerly (checking the blanks), the next ones compiled."""
    engine = check_against_plain(algo_name, discrete, compile=True, n_steps=3)
    assert engine.compiled_step is not None


def test_seeds_start_from_their_own_initialisation():
    engine, *_ = build("iql", True, compile=False)
    single, *_ = build("iql", True, compile=False, seeds=[2])
    torch.testing.assert_close(engine.state["v_net"][1], single.state["v_net"][0], rtol=0, atol=0)
    assert not torch.equal(engine.state["v_net"][0], engine.state["v_net"][1])


def test_a_three_seed_run_writes_what_three_single_runs_write(tmp_path):
    """Seed k of a batch computes seed k's update, but a batched matmul may round
    differently from a single one (the BLAS picks kernels by shape), and training
    amplifies rounding: seen on one CPU, 1e-7 relative apart after 300 steps, 1e-2 after
    600 once a sampled action flips. So the run is short enough for rounding to stay
    rounding."""
    common = dict(algo="awac", num_timesteps=300, eval_freq=100, eval_episodes=5, log_freq=50)
    train(make_config("PointmassMedium-v0", out=str(tmp_path / "batched"), seeds=SEEDS, **common),
          progress=False)
    for seed in SEEDS:
        train(make_config("PointmassMedium-v0", out=str(tmp_path / "single"), seeds=[seed], **common),
              progress=False)
    for seed in SEEDS:
        name = f"awac_lambda_0.1_PointmassMedium-v0_seed{seed}"
        batched, single = tmp_path / "batched" / name, tmp_path / "single" / name
        assert read_eval_csv(batched / "eval.csv") == read_eval_csv(single / "eval.csv")
        for a, b in zip(read_metrics(batched / "metrics.jsonl"), read_metrics(single / "metrics.jsonl")):
            assert a.keys() == b.keys()
            assert a == pytest.approx(b, rel=1e-4, abs=1e-5)


def test_only_the_compilers_own_failures_fall_back_to_the_eager_step(capsys):
    """A step the compiler cannot build continues eagerly with a warning; anything else
    raised by a compiled step (out of memory, a bug) reaches the caller."""
    import torch._inductor.exc

    def failing(error):
        def step(*args):
            raise error
        return step

    engine, *_ = build("iql", True, compile=True)
    replay = ReplayTensor.from_transitions(load_dataset(env_spec("PointmassMedium-v0").default_dataset), "cpu")
    engine.update(replay, 8)  # the first step runs eagerly and prepares the compiled one
    engine.compiled_step = failing(torch._inductor.exc.CppCompileError(["cc"], "no compiler"))
    engine.update(replay, 8)
    assert engine.compiled_step is None and not engine.compile
    assert "torch.compile failed (CppCompileError" in capsys.readouterr().err
    engine.compile, engine.compiled_step = True, failing(torch.OutOfMemoryError("out of memory"))
    with pytest.raises(torch.OutOfMemoryError):
        engine.update(replay, 8)
