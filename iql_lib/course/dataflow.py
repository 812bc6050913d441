"""Chapter 5's picture of one IQL step: which network reads what, and where gradients go.

Boxes are the minibatch, the networks and the losses; solid arrows carry values that
train the loss they point to, dashed arrows carry values held fixed (no gradient). The
numbers are the order of the updates in one step.
"""
from __future__ import annotations

from matplotlib.patches import FancyBboxPatch

# name: (x, y, label, colour)
BOXES = {
    "batch": (1.0, 3.0, "minibatch\n(s, a, r, s′, d)", "0.85"),
    "q_target": (4.7, 5.2, "target Q̄₁, Q̄₂\n(Polyak copies)", "#cfe3f7"),
    "v_loss": (8.4, 5.2, "① value loss\nV(s) toward the ζ-expectile\nof min Q̄(s, a); blanks 2, 3", "#fbeee3"),
    "actor": (12.1, 5.2, "② actor loss\nlog π(a|s) weighted by\nmin(exp(A/λ), w); blank 6", "#e9f5e1"),
    "v": (8.4, 3.0, "V(s), V(s′)\nblank 1", "#f7dcc6"),
    "adv": (12.1, 3.0, "advantage\nA = min Q(s, a) − V(s)\nblank 5", "#e9f5e1"),
    "q": (4.7, 0.8, "online Q₁, Q₂", "#cfe3f7"),
    "q_loss": (8.4, 0.8, "③ Q losses\ny = r + γ(1−d)·V(s′)\nblank 4", "#e6f0fa"),
}

# (from, to, label, fixed): fixed arrows carry no gradient into their source
ARROWS = [
    ("batch", "q_target", "s, a", True),
    ("batch", "q", "s, a", True),
    ("q_target", "v_loss", "min Q̄(s, a)", True),
    ("v", "v_loss", "V(s)", False),
    ("v", "adv", "V(s)", True),
    ("q", "adv", "Q(s, a)", True),
    ("adv", "actor", "A", True),
    ("v", "q_loss", "V(s′)", True),
    ("q", "q_loss", "Q₁, Q₂", False),
    ("q", "q_target", "④ Polyak, τ", True),
]


HALF_W, HALF_H = 1.38, 0.62  # a box's half size, padding included


def _clip(a, b):
    """The part of the segment a → b between the two boxes' borders."""
    (x0, y0), (x1, y1) = a, b
    dx, dy = x1 - x0, y1 - y0
    t = min(HALF_W / abs(dx) if dx else float("inf"), HALF_H / abs(dy) if dy else float("inf"))
    return (x0 + t * dx, y0 + t * dy), (x1 - t * dx, y1 - t * dy)


def draw_iql_step(ax=None):
    """Draw the step on `ax` (a new figure when None); returns the axis."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(13, 5.5))[1]
    for x, y, label, colour in BOXES.values():
        ax.add_patch(FancyBboxPatch((x - 1.3, y - 0.55), 2.6, 1.1, boxstyle="round,pad=0.05",
                                    facecolor=colour, edgecolor="0.3", zorder=2))
        ax.text(x, y, label, ha="center", va="center", fontsize=8.5, zorder=3)
    for start, end, label, fixed in ARROWS:
        (x0, y0), (x1, y1) = _clip(BOXES[start][:2], BOXES[end][:2])
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="-|>", lw=1.4, color="0.55" if fixed else "tab:red",
                                    ls="--" if fixed else "-", shrinkA=0, shrinkB=0), zorder=1)
        ax.text(x0 + 0.4 * (x1 - x0), y0 + 0.4 * (y1 - y0), label, ha="center", va="center", fontsize=7.5,
                color="0.25", zorder=3, bbox=dict(facecolor="white", edgecolor="none", alpha=0.9, pad=0.5))
    ax.plot([], [], color="tab:red", label="trains this loss (gradient flows back)")
    ax.plot([], [], color="0.55", ls="--", label="a fixed input (no gradient)")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_xlim(-0.5, 13.6)
    ax.set_ylim(-0.1, 6.1)
    ax.axis("off")
    ax.set_title("One IQL step: ① V, ② actor, ③ Qs, ④ target Qs", fontsize=11)
    return ax
