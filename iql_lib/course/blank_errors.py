"""Short errors for learners: what to fix and where, instead of a traceback through the library.

A learner's mistake met in a notebook (a blank not written yet, a visible check that fails,
a blank that raises while a check or a training run calls it) is shown in a few lines that
name the blank, the chapter, the notebook and the cell to fix. IPython prints an
exception's `_render_traceback_()` in place of its traceback; every other error keeps
IPython's usual traceback.
"""
from __future__ import annotations

import linecache
import re
import traceback

from iql_lib.algos.blanks import BLANK_NAMES, BlankError, unwritten_blank
from iql_lib.course.learner_error import LearnerError

# The chapter notebook holding each blank's cell.
BLANK_NOTEBOOKS = {
    "make_value_network": "05_three_networks.ipynb",
    "expectile_loss": "04_expectile_loss.ipynb",
    "value_loss": "05_three_networks.ipynb",
    "q_losses": "06_iql_vs_awac.ipynb",
    "estimate_advantage": "07_stitching.ipynb",
    "actor_loss": "07_stitching.ipynb",
}


def blank_label(name: str) -> str:
    return f"Blank {BLANK_NAMES.index(name) + 1} ({name})"


def blank_cell(name: str) -> str:
    """Where a blank is written: its notebook and the first line of its cell."""
    chapter = int(BLANK_NOTEBOOKS[name][:2])
    return f"chapter {chapter}, {BLANK_NOTEBOOKS[name]}, the cell `def {name}(…)`"


class BlankNotWritten(LearnerError, NotImplementedError):
    """One or more blanks still hold nbgrader's `raise NotImplementedError`."""

    def __init__(self, names: list[str]):
        self.names = list(names)
        super().__init__(
            "".join(f"{blank_label(n)} is not written yet: write it in {blank_cell(n)}.\n" for n in self.names)
            + "Replace `raise NotImplementedError(…)` with your code, run that cell and save its "
              "notebook (Ctrl+S); then try again.")


class BlankRaised(LearnerError):
    """A learner's blank raised while a check or a training run called it."""


def learner_frame(tb) -> traceback.FrameSummary | None:
    """The innermost frame of the traceback that runs a blank's own code."""
    found = None
    for frame in traceback.extract_tb(tb):
        if frame.name in BLANK_NAMES:
            found = frame
    return found


def blank_raised(err: BaseException) -> LearnerError | None:
    """`err`, met while a blank ran, restated in a few lines naming the blank and its cell;
    None when no blank's code is in its traceback (the library's own error)."""
    name = unwritten_blank(err) if isinstance(err, NotImplementedError) else None
    if name is not None:
        return BlankNotWritten([name])
    if isinstance(err, BlankError):
        match = re.match(r"Blank \d \((\w+)\)", str(err))
        name = match.group(1) if match else None
        if name is None:
            return None
        return BlankRaised(f"{err}\n  fix it in {blank_cell(name)}, run that cell and save its "
                           "notebook; then try again.")
    frame = learner_frame(err.__traceback__)
    if frame is None:
        return None
    code = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
    return BlankRaised(
        f"{blank_label(frame.name)} raised {type(err).__name__}: {err}\n"
        f"  at line {frame.lineno} of its cell{': ' + code if code else ''}\n"
        f"  fix it in {blank_cell(frame.name)}, run that cell and save its notebook, "
        "then try again.")


def _short_traceback(shell, etype, value, tb, tb_offset=None):
    short = blank_raised(value)
    if short is None:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return None
    stb = short._render_traceback_()
    shell._showtraceback(etype, value, stb)
    return stb


def show_blank_errors_short() -> None:
    """In a notebook kernel, show errors that come from a learner's blank in a few lines."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and shell.custom_exceptions != (Exception,):
        shell.set_custom_exc((Exception,), _short_traceback)
