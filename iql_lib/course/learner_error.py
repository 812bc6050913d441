"""The error a learner fixes in a notebook, shown as its message alone, without a traceback.

IPython prints an exception's `_render_traceback_()` in place of its traceback. This module
needs nothing heavier than the standard library, so chapter 9's quiz uses it without torch;
`iql_lib.course.blank_errors` builds the blanks' errors on it.
"""
from __future__ import annotations

import textwrap

WIDTH = 80  # nbgrader's Validate report indents by 4 and cuts lines past 87 characters


class LearnerError(Exception):
    """An error the learner fixes in a notebook: shown as its message alone."""

    def _render_traceback_(self) -> list[str]:
        """The message alone, wrapped to fit nbgrader's Validate report (it cuts long lines)."""
        lines = f"{type(self).__name__}: {self}".splitlines()
        wrapped = [part for line in lines
                   for part in textwrap.wrap(line, WIDTH, subsequent_indent="    ", break_on_hyphens=False) or [""]]
        name = type(self).__name__
        return [f"\x1b[31m{name}\x1b[0m{wrapped[0][len(name):]}", *wrapped[1:]]
