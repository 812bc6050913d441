"""The six student blanks: one object holding six callables, stubs, checks and loaders.

IQL never implements its six key pieces itself: it calls a `Blanks` object. Where those
callables come from is the learner's choice (`--blanks`): the instructor reference in
`solutions/`, a Python module, or the learner's own notebooks. The library itself ships
only stubs that say which chapter fills them. Every call is checked, so a blank that
returns the wrong shape fails with its own name and both shapes, not deep inside a loss.
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import linecache
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from iql_lib.errors import UserError

BLANK_NAMES = ("make_value_network", "expectile_loss", "value_loss", "q_losses",
               "estimate_advantage", "actor_loss")

# Where each blank is taught (shown in stub errors and hints).
BLANK_CHAPTERS = {
    "make_value_network": "chapter 5 (Three networks)",
    "expectile_loss": "chapter 4 (Where the expectile comes from)",
    "value_loss": "chapter 5 (Three networks)",
    "q_losses": "chapter 6 (IQL vs AWAC)",
    "estimate_advantage": "chapter 7 (Stitching)",
    "actor_loss": "chapter 7 (Stitching)",
}


class BlankError(UserError):
    """A blank broke its contract (wrong shape, dtype or type)."""


class UnwrittenBlank(NotImplementedError, UserError):
    """A blank still raises `NotImplementedError`: says which one, and where to write it."""


@dataclass(frozen=True)
class Blanks:
    make_value_network: Callable[..., nn.Module]
    expectile_loss: Callable[[torch.Tensor, float], torch.Tensor]
    value_loss: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]
    q_losses: Callable[..., tuple[torch.Tensor, torch.Tensor]]
    estimate_advantage: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    actor_loss: Callable[..., torch.Tensor]
    source: str = "unknown"

    @classmethod
    def from_namespace(cls, namespace: dict, source: str) -> "Blanks":
        missing = [name for name in BLANK_NAMES if not callable(namespace.get(name))]
        if missing:
            raise BlankError(f"{source} does not define blank(s) {missing}; it must define all of "
                             f"{list(BLANK_NAMES)}")
        return cls(**{name: namespace[name] for name in BLANK_NAMES}, source=source)

    def checked(self) -> "Blanks":
        """The same blanks, each wrapped in a contract check (what IQL actually calls)."""
        wrapped = {name: _CHECKS[name](getattr(self, name)) for name in BLANK_NAMES}
        return Blanks(**wrapped, source=self.source)


# --- stubs: what the student release of iql_lib contains ------------------------------

def not_written_message(name: str) -> str:
    number = BLANK_NAMES.index(name) + 1
    return (f"Blank {number} ({name}) is not written yet: write it in {BLANK_CHAPTERS[name]}, "
            f"then train with --blanks <your notebooks folder or module>.")


def unwritten_blank(err: BaseException) -> str | None:
    """The blank whose body raised `err`: the innermost blank on its traceback, if any."""
    frames = []
    tb = err.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    return next((name for name in reversed(frames) if name in BLANK_NAMES), None)


def name_unwritten_blank(err: NotImplementedError) -> NotImplementedError:
    """`err` restated with the blank (and chapter) whose body raised it; `err` itself when
    no blank is on the way."""
    name = unwritten_blank(err)
    return err if name is None else UnwrittenBlank(not_written_message(name))


def _stub(name: str) -> Callable:
    def stub(*args, **kwargs):
        raise UnwrittenBlank(not_written_message(name))

    stub.__name__ = name
    return stub


STUBS = Blanks(**{name: _stub(name) for name in BLANK_NAMES}, source="stubs")


# --- contract checks ----------------------------------------------------------------

def _fail(name: str, what: str, expected, got) -> BlankError:
    number = BLANK_NAMES.index(name) + 1
    return BlankError(f"Blank {number} ({name}) returned {what}: expected {expected}, got {got}")


def _check_tensor(name: str, value, expected_shape: tuple, what: str = "a tensor"):
    if not isinstance(value, torch.Tensor):
        raise _fail(name, what, f"a torch.Tensor of shape {list(expected_shape)}", type(value).__name__)
    if tuple(value.shape) != tuple(expected_shape):
        raise _fail(name, f"{what} of the wrong shape", list(expected_shape), list(value.shape))
    if not value.is_floating_point():
        raise _fail(name, f"{what} of the wrong dtype", "a floating-point dtype", value.dtype)
    return value


def _check_make_value_network(fn):
    def make_value_network(ob_dim, hidden_size=256, n_layers=2):
        net = fn(ob_dim, hidden_size=hidden_size, n_layers=n_layers)
        if not isinstance(net, nn.Module):
            raise _fail("make_value_network", "a non-module", "a torch.nn.Module", type(net).__name__)
        with torch.no_grad():
            _check_tensor("make_value_network", net(torch.zeros(3, ob_dim)), (3, 1),
                          "a network whose output")
        return net
    return make_value_network


def _check_expectile_loss(fn):
    def expectile_loss(diff, expectile):
        return _check_tensor("expectile_loss", fn(diff, expectile), diff.shape)
    return expectile_loss


def _check_value_loss(fn):
    def value_loss(q_target, v, expectile):
        return _check_tensor("value_loss", fn(q_target, v, expectile), ())
    return value_loss


def _check_q_losses(fn):
    def q_losses(q1, q2, v_net, next_obs, reward, terminal, gamma):
        out = fn(q1, q2, v_net, next_obs, reward, terminal, gamma)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise _fail("q_losses", "the wrong number of losses", "a pair (loss1, loss2)", repr(type(out)))
        return tuple(_check_tensor("q_losses", loss, (), "a loss") for loss in out)
    return q_losses


def _check_estimate_advantage(fn):
    def estimate_advantage(q_sa, v_s):
        return _check_tensor("estimate_advantage", fn(q_sa, v_s), q_sa.shape)
    return estimate_advantage


def _check_actor_loss(fn):
    def actor_loss(log_prob, adv, temperature, max_weight=50.0):
        return _check_tensor("actor_loss", fn(log_prob, adv, temperature, max_weight=max_weight), ())
    return actor_loss


_CHECKS = {
    "make_value_network": _check_make_value_network,
    "expectile_loss": _check_expectile_loss,
    "value_loss": _check_value_loss,
    "q_losses": _check_q_losses,
    "estimate_advantage": _check_estimate_advantage,
    "actor_loss": _check_actor_loss,
}


# --- loading -------------------------------------------------------------------------

def _find_solutions_dir() -> Path | None:
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (base / "solutions").is_dir():
            return base / "solutions"
    return None


# Cell magics whose body is still the cell's Python code.
_TRANSPARENT_CELL_MAGICS = ("%%time", "%%timeit", "%%capture")


def _cell_python(source: str) -> str:
    """A code cell as plain Python: IPython syntax (magics, `!cmd`, `obj?`) becomes calls."""
    from IPython.core.inputtransformer2 import TransformerManager

    first, _, rest = source.lstrip().partition("\n")
    if first.split(" ")[0] in _TRANSPARENT_CELL_MAGICS:
        source = rest
    return TransformerManager().transform_cell(source)


def _cell_file(path: Path, index: int, source: str) -> str:
    """A name for one notebook cell's code, its lines registered with linecache, so that
    tracebacks and `inspect` show the cell's code, not the notebook file's JSON."""
    name = f"{path} (cell {index})"
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    return name


def definitions_from_notebooks(paths: list[Path], namespace: dict | None = None) -> dict:
    """Execute only the imports and top-level definitions of the notebooks' code cells.

    Training cells, plots and tests are skipped, so loading a notebook is fast and has no
    side effects; later definitions of the same name win, as they would in the kernel.
    Definitions go into `namespace` when given (so notebooks can build on each other).
    """
    namespace = {} if namespace is None else namespace
    for path in map(Path, paths):
        try:
            notebook = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise BlankError(f"{path}: not a readable notebook ({err})") from err
        for index, cell in enumerate(notebook.get("cells", []), 1):
            if cell.get("cell_type") != "code":
                continue
            source = cell.get("source", "")
            source = _cell_python(source if isinstance(source, str) else "".join(source))
            try:
                tree = ast.parse(source)
            except SyntaxError as err:
                raise BlankError(f"{path}: a code cell does not parse ({err.msg}, line {err.lineno})") from err
            keep = [node for node in tree.body if isinstance(
                node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))]
            exec(compile(ast.Module(body=keep, type_ignores=[]), _cell_file(path, index, source), "exec"),
                 namespace)
    return namespace


def _module_from_file(path: Path):
    name = f"iql_blanks_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # torch.compile looks functions' modules up by name
    spec.loader.exec_module(module)
    return module


def load_blanks(where: str) -> Blanks:
    """Blanks from `solutions`, `stubs`, a `.py` file, a notebook, a folder, or a module name."""
    if where == "stubs":
        return STUBS
    if where == "solutions":
        found = _find_solutions_dir()
        if found is None:
            raise BlankError("--blanks solutions: no solutions/ folder here (the student release "
                             "has none); pass --blanks <your notebook or module>")
        path = found
    else:
        path = Path(where)
    if path.is_dir():
        module = path / "blanks.py"
        if module.exists():
            return Blanks.from_namespace(vars(_module_from_file(module)), str(module))
        notebooks = sorted(path.glob("*.ipynb"))
        if not notebooks:
            raise BlankError(f"{path}: no blanks.py and no notebooks to load blanks from")
        return Blanks.from_namespace(definitions_from_notebooks(notebooks), str(path))
    if path.suffix == ".ipynb":
        if not path.exists():
            raise BlankError(f"notebook not found: {path}")
        return Blanks.from_namespace(definitions_from_notebooks([path]), str(path))
    if path.suffix == ".py":
        if not path.exists():
            raise BlankError(f"module file not found: {path}")
        return Blanks.from_namespace(vars(_module_from_file(path)), str(path))
    if path.exists() or "/" in where or "\\" in where:
        raise BlankError(f"--blanks {where!r}: not found, or not a notebook, .py file or folder")
    try:
        module = importlib.import_module(where)
    except (ImportError, TypeError, ValueError) as err:
        raise BlankError(f"--blanks {where!r}: not a notebook, .py file, folder or importable "
                         f"module ({err})") from err
    return Blanks.from_namespace(vars(module), where)
