"""Chapter 3's figures: where the mean, the ζ-quantile and the ζ-expectile sit.

`explore_expectiles()` shows them with a ζ slider in a notebook; every figure also
renders statically at a given ζ, so a notebook read on the web or executed headless
still shows it. The numbers come from `expectile` and `quantile`, which solve the
defining equations directly rather than calling the student's blanks.
"""
from __future__ import annotations

import numpy as np

DEFAULT_ZETA = 0.9


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


def q_values_of_mixed_actions(n: int = 2000, good_fraction: float = 0.2, seed: int = 0) -> np.ndarray:
    """Q(s, a) over a dataset's actions at one state: a few good actions, many poor ones."""
    rng = np.random.default_rng(seed)
    n_good = int(n * good_fraction)
    return np.concatenate([rng.normal(-5.0, 1.0, n_good), rng.normal(-12.0, 2.0, n - n_good)])


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
    ax.legend(fontsize=8, loc="upper left")
    return ax


def zeta_table(zetas=(0.1, 0.5, 0.7, 0.9, 0.99), q_values: np.ndarray | None = None) -> list[dict]:
    """V(s) = the ζ-expectile of the same Q-values for several ζ (the chapter's ζ table)."""
    q = q_values_of_mixed_actions() if q_values is None else np.asarray(q_values)
    return [{"zeta": z, "expectile": expectile(q, z), "quantile": quantile(q, z), "mean": float(q.mean()),
             "max": float(q.max())} for z in zetas]


def expectile_figure(zeta: float = DEFAULT_ZETA):
    """Both panels at one ζ: the static rendering of the explorer."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    plot_asymmetric_loss(zeta, left)
    plot_statistics(zeta, ax=right)
    fig.tight_layout()
    return fig


def explore_expectiles(zeta: float = DEFAULT_ZETA):
    """In a notebook: the two panels under a ζ slider. Elsewhere: the static figure."""
    try:
        import ipywidgets as widgets
        from IPython import get_ipython
    except ImportError:
        return expectile_figure(zeta)
    if get_ipython() is None:
        return expectile_figure(zeta)
    import matplotlib.pyplot as plt

    def show(zeta):
        expectile_figure(zeta)
        plt.show()

    slider = widgets.FloatSlider(value=zeta, min=0.05, max=0.99, step=0.01, description="ζ",
                                 continuous_update=False)
    return widgets.interactive(show, zeta=slider)
