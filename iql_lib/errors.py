"""Errors the user can fix. Their messages say what to do, so the commands print them in one
line (`<command>: error: ...`) where any other error, torch's own included, keeps its traceback."""


class UserError(RuntimeError):
    """A problem with what the user asked for or gave, not with the library."""
