"""Whether nbgrader is executing this notebook (Validate or autograde): no one is at the
keyboard, so budgets shrink (`notebook.fast_mode`) and sliders give way to static figures;
under autograde the kernel runs in the graded copy (`notebook.notebooks_folder`)."""
from __future__ import annotations

import os


def nbgrader_execution() -> str | None:
    """nbgrader's mode ("validate" or "autograde") while it runs the notebook in its own
    kernel, else None."""
    mode = os.environ.get("NBGRADER_EXECUTION")
    return mode if mode in ("validate", "autograde") else None
