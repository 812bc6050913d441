"""Chapter 3's figures: where the mean, the ζ-quantile and the ζ-expectile sit.

`explore_expectiles()` shows them with a ζ slider in a notebook; `explore_zeta_sweep()`
adds a slider over the share of good actions and follows V = the ζ-expectile across
every ζ at once. Every figure also renders statically at a given setting, so a notebook
read on the web or executed headless still shows it. The numbers come from `expectile`,
`expectile_curve` and `quantile`, which solve the defining equations directly rather
than calling the student's blanks.
"""
from __future__ import annotations

import numpy as np

from iql_lib.course.grading_run import nbgrader_execution

DEFAULT_ZETA = 0.9
# Sliders wide enough to set ζ to the hundredth with a mouse (a track of about 400 px).
SLIDER_LOOK = dict(layout={"width": "560px"}, style={"description_width": "90px"})


def legend_below(ax, ncol: int) -> None:
    """The legend under the axes, where it cannot hide a line or a bar."""
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol, frameon=False)


def sliders_can_move() -> bool:
    """True in a kernel a person drives. Elsewhere the figures render statically: under
    nbgrader nobody moves a slider, and a widget cell can stall its client until the cell
    timeout (jupyter/nbclient#312)."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None and nbgrader_execution() is None


def expectile(values: np.ndarray, zeta: float, tol: float = 1e-10) -> float:
    """The ζ-expectile m of a sample: the root of ζ·E[(X − m)⁺] = (1 − ζ)·E[(m − X)⁺].

    The left side falls and the right side rises with m, so bisection between the
    sample's min and max finds the unique root.
    """
    x = np.asarray(values, dtype=np.float64)
    if not 0.0 < zeta < 1.0:
        raise ValueError(f"ζ must lie in (0, 1), got {zeta}")
    lo, hi = float(x.min()), float(x.max())
    while hi - lo > tol * max(1.0, abs(lo) + abs(hi)):
        m = 0.5 * (lo + hi)
        if zeta * np.clip(x - m, 0, None).mean() > (1 - zeta) * np.clip(m - x, 0, None).mean():
            lo = m
        else:
            hi = m
    return 0.5 * (lo + hi)


def quantile(values: np.ndarray, zeta: float) -> float:
    return float(np.quantile(np.asarray(values, dtype=np.float64), zeta))


def mixed_actions(n: int = 2000, good_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`(q, is_good)`: Q(s, a) over a dataset's actions at one state, a few good actions
    (Q ≈ −5) and many poor ones (Q ≈ −12), with a mask saying which is which."""
    rng = np.random.default_rng(seed)
    n_good = int(n * good_fraction)
    q = np.concatenate([rng.normal(-5.0, 1.0, n_good), rng.normal(-12.0, 2.0, n - n_good)])
    return q, np.arange(n) < n_good


def q_values_of_mixed_actions(n: int = 2000, good_fraction: float = 0.2, seed: int = 0) -> np.ndarray:
    """Q(s, a) over a dataset's actions at one state: a few good actions, many poor ones."""
    return mixed_actions(n, good_fraction, seed)[0]


def expectile_curve(values: np.ndarray, zetas: np.ndarray, iterations: int = 64) -> np.ndarray:
    """The ζ-expectile of one sample for every ζ in `zetas` at once (bisection on all of
    them together). `values` may also be `[rows, n]`, giving `[len(zetas), rows]`."""
    x = np.asarray(values, dtype=np.float64)
    z = np.asarray(zetas, dtype=np.float64).reshape((-1,) + (1,) * x.ndim)
    if np.any((z <= 0) | (z >= 1)):
        raise ValueError(f"ζ must lie in (0, 1), got {np.ravel(zetas)}")
    lo = np.broadcast_to(x.min(axis=-1, keepdims=True), z.shape[:1] + x.shape[:-1] + (1,)).copy()
    hi = np.broadcast_to(x.max(axis=-1, keepdims=True), lo.shape).copy()
    for _ in range(iterations):
        m = 0.5 * (lo + hi)
        above = z * np.clip(x - m, 0, None).mean(axis=-1, keepdims=True)
        below = (1 - z) * np.clip(m - x, 0, None).mean(axis=-1, keepdims=True)
        lo, hi = np.where(above > below, m, lo), np.where(above > below, hi, m)
    return 0.5 * (lo + hi)[..., 0]


ZETA_GRID = np.round(np.linspace(0.01, 0.99, 99), 2)


def positive_advantage_shares(q_values: np.ndarray, is_good: np.ndarray, zetas=ZETA_GRID) -> dict:
    """For each ζ, the share of good and of poor actions whose advantage A = Q − V is
    positive when V is the ζ-expectile: the actions an advantage-weighted policy favours."""
    q, good = np.asarray(q_values, dtype=np.float64), np.asarray(is_good, dtype=bool)
    v = expectile_curve(q, zetas)[:, None]
    positive = q[None, :] > v
    return {"zeta": np.asarray(zetas), "good": positive[:, good].mean(axis=1),
            "poor": positive[:, ~good].mean(axis=1)}


def outlier_pull(zetas=ZETA_GRID, n_actions: int = 20, error: float = 10.0, seed: int = 3) -> np.ndarray:
    """How far V (the ζ-expectile over `n_actions` actions at one state) moves when the
    best action's Q is overestimated by `error`: what a single optimistic error costs."""
    q = q_values_of_mixed_actions(n=n_actions, seed=seed)
    wrong = q.copy()
    wrong[np.argmax(q)] += error
    return expectile_curve(wrong, zetas) - expectile_curve(q, zetas)


def plot_asymmetric_loss(zeta: float, ax=None):
    """|ζ − 1[u < 0]|·u² next to the squared error (ζ = 0.5, times 2) and the pinball loss."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    u = np.linspace(-2, 2, 401)
    ax.plot(u, np.abs(zeta - (u < 0)) * u**2, lw=2.2, label=f"expectile loss, ζ = {zeta:.2f}")
    ax.plot(u, 0.5 * u**2, "--", color="0.5", label="ζ = 0.5 (half the squared error)")
    ax.plot(u, np.maximum(zeta * u, (zeta - 1) * u), ":", color="tab:red", label=f"pinball (quantile), τ = {zeta:.2f}")
    ax.set_xlabel("u = Q(s, a) − V(s)")
    ax.set_ylabel("loss")
    ax.set_title("Underestimates (u > 0) cost ζ, overestimates cost 1 − ζ", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_statistics(zeta: float, q_values: np.ndarray | None = None, ax=None):
    """A histogram of Q-values with the mean, the ζ-quantile and the ζ-expectile marked."""
    import matplotlib.pyplot as plt

    q = q_values_of_mixed_actions() if q_values is None else np.asarray(q_values)
    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    ax.hist(q, bins=60, color="0.8")
    marks = [("mean", q.mean(), "0.3", "-"), (f"{zeta:.2f}-quantile", quantile(q, zeta), "tab:red", ":"),
             (f"{zeta:.2f}-expectile  ← V(s)", expectile(q, zeta), "tab:blue", "-")]
    for label, value, colour, style in marks:
        ax.axvline(value, color=colour, ls=style, lw=2.2, label=f"{label}: {value:.2f}")
    ax.set_xlabel("Q(s, a) over the dataset's actions at s")
    ax.set_ylabel("count")
    legend_below(ax, ncol=1)
    return ax


def zeta_table(zetas=(0.1, 0.5, 0.7, 0.9, 0.99), q_values: np.ndarray | None = None) -> list[dict]:
    """V(s) = the ζ-expectile of the same Q-values for several ζ (the chapter's ζ table)."""
    q = q_values_of_mixed_actions() if q_values is None else np.asarray(q_values)
    return [{"zeta": z, "expectile": expectile(q, z), "quantile": quantile(q, z), "mean": float(q.mean()),
             "max": float(q.max())} for z in zetas]


def expectile_figure(zeta: float = DEFAULT_ZETA):
    """Both panels at one ζ: the static rendering of the explorer."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
    plot_asymmetric_loss(zeta, left)
    plot_statistics(zeta, ax=right)
    return fig


def explore_expectiles(zeta: float = DEFAULT_ZETA):
    """In a notebook: the two panels under a ζ slider. Elsewhere: the static figure."""
    if not sliders_can_move():
        return expectile_figure(zeta)
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def show(zeta):
        q = q_values_of_mixed_actions()
        print(f"ζ = {zeta:.2f}: V(s) = the expectile {expectile(q, zeta):.2f}, the quantile "
              f"{quantile(q, zeta):.2f}, the mean {q.mean():.2f}")
        expectile_figure(zeta)
        plt.show()

    slider = widgets.FloatSlider(value=zeta, min=0.05, max=0.99, step=0.01, description="ζ",
                                 continuous_update=False, **SLIDER_LOOK)
    return widgets.interactive(show, zeta=slider)


def plot_zeta_sweep(zeta: float | None = DEFAULT_ZETA, q_values: np.ndarray | None = None,
                    is_good: np.ndarray | None = None, ax=None):
    """V = the ζ-expectile of the same Q-values for every ζ, next to the ζ-quantile, the
    mean, the max and (given `is_good`) the mean Q of the good actions; `zeta` is marked."""
    import matplotlib.pyplot as plt

    if q_values is None:
        q_values, is_good = mixed_actions()
    q = np.asarray(q_values, dtype=np.float64)
    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    ax.plot(ZETA_GRID, expectile_curve(q, ZETA_GRID), color="tab:blue", lw=2.2, label="ζ-expectile = V(s)")
    ax.plot(ZETA_GRID, np.quantile(q, ZETA_GRID), ":", color="tab:red", lw=2, label="ζ-quantile")
    ax.axhline(q.mean(), color="0.3", lw=1.2, label=f"mean: {q.mean():.2f}")
    ax.axhline(q.max(), color="0.3", ls="--", lw=1.2, label=f"max: {q.max():.2f}")
    if is_good is not None and np.any(is_good):
        good_mean = q[np.asarray(is_good, dtype=bool)].mean()
        ax.axhline(good_mean, color="tab:green", ls="-.", lw=1.2, label=f"good actions' mean: {good_mean:.2f}")
    if zeta is not None:
        ax.axvline(zeta, color="tab:blue", alpha=0.3, lw=6)
        ax.plot([zeta], [expectile(q, zeta)], "o", color="tab:blue", ms=7)
    ax.set_xlabel("ζ")
    ax.set_ylabel("value")
    ax.set_xlim(0, 1)
    ax.set_title("Where V(s) sits as ζ moves", fontsize=10)
    legend_below(ax, ncol=2)
    ax.grid(alpha=0.3)
    return ax


def plot_positive_advantage(zeta: float | None = DEFAULT_ZETA, q_values: np.ndarray | None = None,
                            is_good: np.ndarray | None = None, ax=None):
    """The share of good and of poor actions with A = Q − V > 0, against ζ."""
    import matplotlib.pyplot as plt

    if q_values is None:
        q_values, is_good = mixed_actions()
    shares = positive_advantage_shares(q_values, is_good)
    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    ax.plot(shares["zeta"], 100 * shares["good"], color="tab:green", lw=2.2, label="good actions")
    ax.plot(shares["zeta"], 100 * shares["poor"], color="tab:orange", lw=2.2, label="poor actions")
    if zeta is not None:
        ax.axvline(zeta, color="tab:blue", alpha=0.3, lw=6)
    ax.set_xlabel("ζ")
    ax.set_ylabel("% with positive advantage")
    ax.set_xlim(0, 1)
    ax.set_ylim(-3, 103)
    ax.set_title("Which actions have A = Q − V > 0", fontsize=10)
    legend_below(ax, ncol=2)
    ax.grid(alpha=0.3)
    return ax


def zeta_sweep_figure(zeta: float = DEFAULT_ZETA, good_fraction: float = 0.2):
    """Three panels for one share of good actions: the Q-values with their statistics at
    `zeta`, V against ζ, and which actions end up with a positive advantage."""
    import matplotlib.pyplot as plt

    q, good = mixed_actions(good_fraction=good_fraction)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), layout="constrained")
    plot_statistics(zeta, q, ax=axes[0])
    axes[0].set_title(f"{100 * good_fraction:.0f} % good actions", fontsize=10)
    plot_zeta_sweep(zeta, q, good, ax=axes[1])
    plot_positive_advantage(zeta, q, good, ax=axes[2])
    return fig


def explore_zeta_sweep(zeta: float = DEFAULT_ZETA, good_fraction: float = 0.2):
    """In a notebook: `zeta_sweep_figure` under a ζ slider and a good-action-share slider.
    Elsewhere: the static figure."""
    if not sliders_can_move():
        return zeta_sweep_figure(zeta, good_fraction)
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def show(zeta, good_fraction):
        q, _ = mixed_actions(good_fraction=good_fraction)
        print(f"ζ = {zeta:.2f}, {100 * good_fraction:.0f} % good actions: V(s) = {expectile(q, zeta):.2f}")
        zeta_sweep_figure(zeta, good_fraction)
        plt.show()

    zeta_slider = widgets.FloatSlider(value=zeta, min=0.05, max=0.99, step=0.01, description="ζ",
                                      continuous_update=False, **SLIDER_LOOK)
    share_slider = widgets.FloatSlider(value=good_fraction, min=0.05, max=0.6, step=0.05,
                                       description="good share", continuous_update=False, **SLIDER_LOOK)
    return widgets.interactive(show, zeta=zeta_slider, good_fraction=share_slider)


def plot_outlier_pull(zeta: float | None = DEFAULT_ZETA, n_actions: int = 20, error: float = 10.0, ax=None):
    """`outlier_pull` against ζ: the shift of V when one Q-value is too high by `error`."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    pull = outlier_pull(ZETA_GRID, n_actions=n_actions, error=error)
    ax.plot(ZETA_GRID, pull, color="tab:purple", lw=2.2)
    ax.axhline(error, color="0.3", ls="--", lw=1.2, label=f"the error itself: +{error:g}")
    ax.axhline(error / n_actions, color="0.3", ls=":", lw=1.2, label=f"mean's shift (error / {n_actions})")
    if zeta is not None:
        ax.plot([zeta], [np.interp(zeta, ZETA_GRID, pull)], "o", color="tab:purple", ms=7,
                label=f"ζ = {zeta:.2f}: V moves {np.interp(zeta, ZETA_GRID, pull):.2f}")
    ax.set_xlabel("ζ")
    ax.set_ylabel("shift of V(s)")
    ax.set_xlim(0, 1)
    ax.set_title(f"One of {n_actions} Q-values overestimated by {error:g}", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return ax
