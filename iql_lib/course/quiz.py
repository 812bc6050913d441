"""The self-quiz's visible check: is an answer a well-formed choice? Never whether it is right.

Chapter 9 asks multiple-choice questions; the learner stores each choice as one lower-case
letter in a variable (`answer_01 = "b"`). `check_choice` checks only that form, so a typo
shows up before grading. Which letter is right is decided by the hidden tests the
instructor's grader adds: this module ships to students and holds no answers. A malformed
answer fails in a few lines (`ChoiceError`), not a traceback.
"""
from __future__ import annotations

from iql_lib.course.learner_error import LearnerError

__all__ = ["ChoiceError", "check_choice"]


class ChoiceError(LearnerError, AssertionError):
    """A quiz answer that is not one of the question's letters; the message says what to write."""


def _letters(options: str) -> str:
    if (not isinstance(options, str) or not options or len(set(options)) != len(options)
            or not all("a" <= o <= "z" for o in options)):
        raise ValueError(f"options must be distinct lower-case letters, such as 'abcd'; got {options!r}")
    return options


def check_choice(answer, options: str = "abcd") -> str:
    """Check that `answer` is exactly one of the letters in `options`; print and return it.

    Anything else raises a `ChoiceError` (an AssertionError shown as its message alone)
    that says what to write instead: a value that is not a string, the "?" placeholder,
    an upper-case letter or one with brackets or spaces around it, several letters, or a
    letter that is not among the options.
    """
    options = _letters(options)
    listed = ", ".join(f'"{o}"' for o in options)
    if not isinstance(answer, str):  # an AssertionError, as every failed check in a test cell
        raise ChoiceError(  # noqa: TRY004
            f"your answer must be a string holding one letter ({listed}), in quotes; "
            f"got {type(answer).__name__} {answer!r}")
    if len(answer) == 1 and answer in options:
        print(f"recorded: {answer}")
        return answer
    bare = answer.strip().strip("()[]. ").lower()
    if bare in ("", "?"):
        raise ChoiceError(f'no choice yet: replace "?" with the letter you choose, one of {listed}')
    if len(bare) == 1 and bare in options:
        raise ChoiceError(f'write the bare lower-case letter: "{bare}", not {answer!r}')
    if len(bare) > 1:
        raise ChoiceError(f"choose exactly one option, one of {listed}; got {answer!r}")
    raise ChoiceError(f"{answer!r} is not an option of this question: choose one of {listed}")
