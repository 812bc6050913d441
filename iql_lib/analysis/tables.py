"""Results tables, written once and rendered twice: Markdown and LaTeX (booktabs).

A `Table` holds its cells, not text, so `report.md` and `report.tex` (and the demo's
`summary.md`) round every number the same way: a `MeanStd` cell is formatted in one place.
"""
from __future__ import annotations

from dataclasses import dataclass

DASH = "–"  # an empty cell: not logged, not applicable

# Characters LaTeX treats specially, and the Unicode our tables use, as LaTeX.
_LATEX = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "ζ": r"$\zeta$", "λ": r"$\lambda$", "±": r"$\pm$", "×": r"$\times$", "–": "--",
}


@dataclass(frozen=True)
class MeanStd:
    """A `mean ± std` cell, rounded to `digits` decimals in both renderings."""

    mean: float
    std: float
    digits: int = 1

    def __str__(self) -> str:
        return f"{self.mean:.{self.digits}f} ± {self.std:.{self.digits}f}"

    def latex(self) -> str:
        return f"${self.mean:.{self.digits}f} \\pm {self.std:.{self.digits}f}$"


Cell = str | MeanStd


def latex_text(text: str) -> str:
    """Plain text as LaTeX: special characters escaped, `code` spans in \\texttt."""
    parts = text.split("`")
    escaped = ["".join(_LATEX.get(ch, ch) for ch in part) for part in parts]
    return "".join(rf"\texttt{{{part}}}" if i % 2 else part for i, part in enumerate(escaped))


def _numeric(cell: Cell) -> bool:
    if isinstance(cell, MeanStd) or cell == DASH:
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return True


@dataclass
class Table:
    key: str                 # short name: the LaTeX label, figure file names
    title: str
    header: list[str]
    rows: list[list[Cell]]
    caption: str = ""        # a sentence under the title

    def markdown(self, level: int = 2) -> str:
        lines = [f"{'#' * level} {self.title}", ""]
        if self.caption:
            lines += [self.caption, ""]
        lines += ["| " + " | ".join(self.header) + " |", "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"

    def latex(self) -> str:
        """A `table` float holding a booktabs `tabular`; numeric columns right-aligned."""
        align = "".join("r" if all(_numeric(row[i]) for row in self.rows) else "l"
                        for i in range(len(self.header)))
        caption = self.title + (f". {self.caption}" if self.caption else "")
        lines = [r"\begin{table}[ht]", r"\centering", rf"\caption{{{latex_text(caption)}}}",
                 rf"\label{{tab:{self.key}}}", rf"\begin{{tabular}}{{{align}}}", r"\toprule",
                 " & ".join(latex_text(h) for h in self.header) + r" \\", r"\midrule"]
        lines += [" & ".join(cell.latex() if isinstance(cell, MeanStd) else latex_text(cell) for cell in row)
                  + r" \\" for row in self.rows]
        lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
        return "\n".join(lines) + "\n"
