"""Whether nbgrader is executing this notebook (Validate or autograde): no one is at the
keyboard, so budgets shrink (`notebook.fast_mode`) and sliders give way to static figures."""
from __future__ import annotations

import os


def nbgrader_executing() -> bool:
    """True while nbgrader's Validate or autograde runs the notebook in its own kernel."""
    return os.environ.get("NBGRADER_EXECUTION") in ("validate", "autograde")
