"""Where the six blanks come from: the instructor's `solutions/`, a Python module or file,
or a learner's notebooks, of which only the imports and top-level definitions run.

`load_blanks` turns any of them into the `Blanks` object IQL calls.
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import linecache
import sys
from pathlib import Path

from iql_lib.algos.blanks import STUBS, BlankError, Blanks


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
