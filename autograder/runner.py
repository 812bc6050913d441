"""Runs graded cells in a fresh interpreter, inside the grading sandbox (a script, never imported).

The grader (`autograder/sandbox.py`) starts `python runner.py` and writes a job on its
stdin: the chapter's imports (`setup`, instructor code), then for each graded cell the
code extracted from the student's cell (`student`: definitions and literal assignments
only) and the graded cell's source (`test`: the visible check and the hidden tests).

Order of work, so that nothing the student wrote runs before the guards are up:
1. read the job, drop root to `nobody` when the sandbox started us as root, then run
   the setup (imports) with the course's blanks pre-set to the library's stubs;
2. fingerprint what the tests rely on (every attribute of the loaded torch, numpy and
   course-library modules and their classes, and builtins), set the resource limits, and
   install an audit hook (permanent: a hook cannot be removed) that blocks forks,
   subprocesses, signals, sockets, ctypes, mmap, gc introspection, profilers, writes
   outside the scratch folder, and, while the student's code is on the stack (or in a
   thread), reading frames or code and compiling code;
3. per cell: define the student's code, run the test statement by statement, check the
   fingerprint after each statement and after every return from the student's code (a
   profiler; a blank may only return plain tensors, numbers, tuples of them or torch
   modules), and send the verdict (pass / fail) before any message is formatted:
   formatting an exception may run the student's code, which can no longer change it.
Anything refused or changed fails the cell and is named in its feedback.

Verdicts go to a pipe (`verdict_fd`), one JSON line each, carrying the job's nonce, which
the student's code cannot read (it lives in a closure; the routes to it are blocked).
"""
import ast
import contextlib
import io
import json
import linecache
import os
import resource
import sys
import traceback
import warnings

NOBODY = 65534
BLOCKED_EVENTS = (
    "os.fork", "os.forkpty", "os.kill", "os.killpg", "os.exec", "os.posix_spawn", "os.spawn",
    "os.system", "subprocess.Popen", "pty.spawn", "socket.", "ctypes.", "mmap.", "sys.setprofile",
    "sys.settrace", "sys.addaudithook", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    "resource.setrlimit", "resource.prlimit", "os.chmod", "os.chown", "os.setuid",
)
# Reading frames or code, or making code: never on behalf of the student's code.
INTROSPECTION = ("object.__getattr__", "sys._getframe", "sys._current_frames", "compile", "exec",
                 "code.__new__", "marshal.load", "function.__new__")
STUDENT = "<your cell"  # the file name of the student's code
# What changes a path without opening it: allowed in the scratch folder and /tmp only.
PATH_CHANGES = ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink", "os.link", "os.truncate",
                "os.utime", "shutil.rmtree", "os.setxattr", "os.removexattr")
BLOCKED_IMPORTS = ("_posixsubprocess", "ctypes", "_ctypes", "cffi", "_cffi_backend", "multiprocessing")
FINGERPRINTED = (  # and every iql_lib module
    "builtins", "math", "operator", "functools", "torch", "torch.nn", "torch.nn.functional",
    "torch.nn.modules.module", "torch.nn.modules.linear", "torch.nn.modules.activation",
    "torch.nn.modules.container", "torch.nn.parameter", "torch._tensor", "torch.testing",
    "torch.autograd", "torch.linalg", "torch.special", "numpy", "numpy.testing", "numpy.linalg",
)
_MISSING = object()
OUTPUT_KEPT = 20_000  # characters of a cell's stdout / stderr kept for the feedback


class Tampered(Exception):
    """The student's code changed what the tests rely on, or tried something blocked."""


class CappedText(io.TextIOBase):
    """A text stream that keeps the first `kept` characters; past `limit` in all it calls
    `over()`, which raises."""

    def __init__(self, kept: int, limit: int, over):
        self.kept, self.limit, self.over, self.parts, self.size = kept, limit, over, [], 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        if self.size < self.kept:
            self.parts.append(text[: self.kept - self.size])
        self.size += len(text)
        if self.size > self.limit:
            self.over()
        return len(text)

    def getvalue(self) -> str:
        return "".join(self.parts)


def _drop_root():
    """As root the process limit does not apply: become `nobody` before anything else."""
    if os.getuid() == 0:
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)


def _not_dumpable():
    """No process of the same user may read this one's memory (`/proc/<pid>/mem`, ptrace)."""
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4


def _limit(limits: dict):
    """Set the job's limits. Memory is the data limit (heap, tensors, stacks: the private
    writable memory), not the address space: that also counts every library's mapped code,
    3.0 GiB once torch's CUDA build is imported, though it uses almost none. Shared memory
    escapes the data limit: the audit hook refuses Python's `mmap`, files fit only in the
    sandbox's small tmpfs folders, and in-memory files (`os.memfd_create`) only within the
    open-file and file-size limits (256 × 16 MiB), as under an address-space limit."""
    def cap(which, value):
        soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))

    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(used.ru_utime + used.ru_stime) + 1 + limits["cpu_s"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))  # SIGXCPU, then SIGKILL
    cap(resource.RLIMIT_DATA, limits["memory_bytes"])
    cap(resource.RLIMIT_FSIZE, limits["file_bytes"])
    cap(resource.RLIMIT_NPROC, limits["processes"])
    cap(resource.RLIMIT_NOFILE, 256)
    cap(resource.RLIMIT_CORE, 0)


class Fingerprint:
    """The attributes of the modules and classes the tests rely on, kept by reference:
    `changes()` names every one that is no longer the same object (or a class's new one)."""

    def __init__(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated aliases warn when looked at
            self.kept = [(where, mapping, dict(mapping)) for where, mapping in self._watched()]

    @staticmethod
    def _watched():
        for name, module in list(sys.modules.items()):
            if module is None or not (name in FINGERPRINTED or name.startswith("iql_lib")):
                continue
            yield name, vars(module)
            for attr, value in list(vars(module).items()):
                owner = (getattr(value, "__module__", "") or "") if isinstance(value, type) else ""
                if owner.split(".")[0] in ("builtins", "torch", "numpy", "iql_lib"):
                    yield f"{name}.{attr}", vars(value)

    def changes(self) -> list[str]:
        found = [f"{where}.{key}" for where, mapping, kept in self.kept
                 for key, value in kept.items() if mapping.get(key, _MISSING) is not value]
        found += [f"{where} (new attributes)" for where, mapping, kept in self.kept
                  if isinstance(mapping, type(type.__dict__)) and len(mapping) != len(kept)]
        return found


def _compiled(code, filename: str, source: str | None = None):
    """`code` (source, or one statement of `source`) compiled; tracebacks show its lines."""
    text = code if isinstance(code, str) else source
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    if not isinstance(code, str):
        code = ast.Module(body=[code], type_ignores=[])
    return compile(code, filename, "exec")


def _writes(args) -> bool:
    """Whether an `open` audit event (path, mode, flags) opens for writing."""
    _, mode, flags = args
    if isinstance(mode, str):
        return bool(set(mode) & set("wax+"))
    return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC))


def main():
    job = json.loads(sys.stdin.buffer.read())
    sys.stdin.close()
    channel = os.fdopen(job["verdict_fd"], "w", buffering=1)
    nonce = job["nonce"]

    def send(**message):
        channel.write(json.dumps({"nonce": nonce, **message}) + "\n")

    if job["drop_root"]:
        _drop_root()
    _not_dumpable()
    os.chdir(job["cwd"])
    writable = (os.path.abspath(job["cwd"]), *job["writable"], "/dev/null")

    base = {"__name__": "__main__"}
    exec(compile(job["setup"], "<chapter imports>", "exec"), base)
    import threading

    import torch
    from torch import nn

    from iql_lib.algos.blanks import BLANK_NAMES, STUBS
    for name in BLANK_NAMES:
        base[name] = getattr(STUBS, name)
    torch.set_num_threads(1)
    setup_names = {k: v for k, v in base.items() if k not in BLANK_NAMES}
    plain = (torch.Tensor, nn.Parameter, float, int, bool, str, type(None))
    main_thread = threading.get_ident()
    trusted_files = (sys.prefix, sys.base_prefix, os.path.dirname(sys.modules["iql_lib"].__file__))
    namespace, blank_codes = {}, set()
    seen: list[str] = []      # what the cell being graded tried and was refused
    relaxed = [False]         # after the verdict: frames may be read to format a traceback
    busy = [False]            # inside our own hooks: their frame reads are ours

    def refuse(what: str):
        seen.append(what)
        return PermissionError(f"the grading sandbox blocks {what}")

    def on_behalf_of_student(event: str, args) -> bool:
        """Whether the student's code is on the stack (or runs in a thread of its own), and
        this is not an import loading a module from the read-only course and Python files."""
        if threading.get_ident() != main_thread:
            return True
        busy[0] = True
        try:
            caller = sys._getframe(2)
            if caller.f_code.co_filename.startswith("<frozen importlib"):
                where = args[1] if event == "compile" else getattr(args[0], "co_filename", "") if event == "exec" else ""
                if event == "marshal.loads" or str(where).startswith(trusted_files):
                    return False
            frame = caller
            while frame is not None:
                if frame.f_code.co_filename.startswith(STUDENT):
                    return True
                frame = frame.f_back
            return False
        finally:
            busy[0] = False

    def outside(path):
        path = os.path.abspath(os.fsdecode(path))
        if not any(path == root or path.startswith(root + os.sep) for root in writable):
            raise refuse(f"writing {path}")

    def audit(event, args):
        if busy[0]:
            return
        if event.startswith(INTROSPECTION):
            if not relaxed[0] and on_behalf_of_student(event, args):
                raise refuse(f"{event}{tuple(a for a in args if isinstance(a, (int, str)))[:2]}")
        elif event == "import" and args[0] in BLOCKED_IMPORTS:
            raise refuse(f"import {args[0]}")
        elif event == "open" and isinstance(args[0], (str, bytes)) and _writes(args):
            outside(args[0])
        elif event in PATH_CHANGES:
            for path in args[:2] if event in ("os.rename", "os.symlink", "os.link") else args[:1]:
                if isinstance(path, (str, bytes)):
                    outside(path)
        elif event.startswith(BLOCKED_EVENTS):
            raise refuse(f"{event}{tuple(a for a in args if isinstance(a, (int, str)))}")

    def set_profile(function):
        busy[0] = True
        sys.setprofile(function)
        busy[0] = False

    def verify(where: str):
        broken = fingerprint.changes()
        broken += [f"the name {k}" for k, v in setup_names.items() if namespace.get(k, _MISSING) is not v]
        if sys.getprofile() is not profile or sys.gettrace() is not None:
            broken.append("the profiler or tracer")
        if torch._C._len_torch_function_stack() or torch._C._len_torch_dispatch_stack():
            broken.append("torch's function/dispatch modes")
        if len(os.listdir("/proc/self/task")) > threads:
            broken.append("the number of threads (it started one)")
        if broken:
            what = f"changing {', '.join(broken[:6])} {where}"
            if what not in seen:
                seen.append(what)
        if seen:
            raise Tampered(f"grading stopped: the submission tried {seen[0]}")

    def too_much():
        what = f"printing more than {job['limits']['output_chars']:,} characters"
        if what not in seen:
            seen.append(what)
        raise Tampered(f"grading stopped: the submission tried {what}")

    def returned(value) -> str | None:
        """What is wrong with a value a blank returns, if anything: only tensors, numbers,
        tuples or lists of them, and torch modules (no Tensor subclass with its own rules)."""
        if type(value) in (tuple, list):
            return next(filter(None, map(returned, value)), None)
        if type(value) in plain or issubclass(type(value), nn.Module):
            return None
        return f"a blank returned a {type(value).__name__}: the grader accepts tensors, numbers, " \
               "tuples or lists of them, and torch modules"

    def profile(frame, event, arg):
        """After every return from the student's code: is everything the tests use intact?"""
        if event != "return":
            return
        busy[0] = True
        try:
            if not frame.f_code.co_filename.startswith(STUDENT):
                return
            try:  # noted, not raised: the next statement of the test fails on it
                verify(f"while {frame.f_code.co_name} ran")
            except Tampered:
                pass
            problem = returned(arg) if frame.f_code in blank_codes else None
            if problem and problem not in seen:
                seen.append(problem)
        finally:
            busy[0] = False

    # From here on the student's code may run: disarm subprocesses, freeze, limit, audit.
    spawner = sys.modules.pop("_posixsubprocess", None)
    for module in list(sys.modules.values()):
        if spawner is not None and getattr(module, "_posixsubprocess", None) is spawner:
            module._posixsubprocess = None
    fingerprint = Fingerprint()
    threads = len(os.listdir("/proc/self/task"))
    _limit(job["limits"])
    sys.addaudithook(audit)

    for unit in job["units"]:
        namespace = dict(base)
        out, err = (CappedText(OUTPUT_KEPT, job["limits"]["output_chars"], too_much) for _ in range(2))
        seen.clear()
        failure = None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            set_profile(profile)
            try:
                with torch._C.DisableTorchFunction():
                    exec(_compiled(unit["student"], f"{STUDENT} {unit['label']}>"), namespace)
                    verify("while your cell's definitions ran")
                    blank_codes = {getattr(namespace[n], "__code__", None) for n in BLANK_NAMES}
                    for statement in ast.parse(unit["test"]).body:
                        exec(_compiled(statement, f"<{unit['grade_id']}>", unit["test"]), namespace)
                        verify("during the test")
            except BaseException as caught:  # anything the cell raises fails it, SystemExit too
                failure = caught
        send(grade_id=unit["grade_id"], passed=failure is None and not seen)
        set_profile(None)
        relaxed[0] = True  # the verdict is out: what follows only words the feedback
        error = None
        if failure is not None:
            lines = traceback.format_exception(type(failure), failure, failure.__traceback__)
            lines = [line for line in lines if not line.lstrip().startswith('File "/')]
            error = {"ename": type(failure).__name__, "evalue": str(failure)[:2000],
                     "traceback": [line[:2000] for line in lines[-30:]]}
        relaxed[0] = False
        send(grade_id=unit["grade_id"], stdout=out.getvalue(), stderr=err.getvalue(), error=error,
             blocked=seen[:20])
    channel.close()


if __name__ == "__main__":
    main()
