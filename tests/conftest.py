"""Shared test helpers."""
from __future__ import annotations

import json
from pathlib import Path

from iql_lib.algos.blanks import BLANK_NAMES

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


def reference_blanks_module() -> str:
    """The six reference blanks as the text of a Python module, taken from the solution
    cells of the chapter notebooks (the one place the answers live)."""
    functions = {}
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for name in BLANK_NAMES:
                if cell["metadata"].get("nbgrader", {}).get("solution") and f"def {name}(" in source:
                    functions[name] = "\n".join(line for line in source.splitlines()
                                                if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    assert sorted(functions) == sorted(BLANK_NAMES), f"solution cells found: {sorted(functions)}"
    return "import torch\nfrom torch import nn\n\n\n" + "\n\n\n".join(functions[n] for n in BLANK_NAMES) + "\n"
