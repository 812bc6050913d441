"""Independent tasks on Ray: a local Ray started in-process, or a running cluster by address.

    for done in run_tasks(grade_student, [(folder,) for folder in students], address=None):
        print(done.index, done.value if done.error is None else done.error)

`run_tasks(fn, args, ...)` runs `fn(*args[i])` for every i as one Ray task each and yields a
`TaskDone(index, value, error)` as each finishes (in finishing order). `fn` must be importable
on the workers (a module-level function of an installed package). A task whose worker
process dies (killed, out of memory, a lost node) is retried up to `max_retries` times; an
exception raised by `fn` is not retried and comes back as `error`. `on_tick()` is called
about every `tick_s` seconds while tasks run (progress displays). Leaving the loop early
(or Ctrl-C) cancels the tasks still running.

`address=None` starts a local Ray on this machine's cores (`num_cpus` to use fewer) and
stops it at the end; `address="host:port"` (or "auto") joins a running cluster started
with `ray start --head`, where every node has this package installed and sees the same
paths. Ray comes with the `sweep` extra: `pip install 'iql-lib[sweep]'`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from iql_lib.errors import UserError

SWEEP_EXTRA = "pip install 'iql-lib[sweep]'"


@dataclass(frozen=True)
class TaskDone:
    index: int             # position in `args`
    value: Any = None      # what fn returned
    error: BaseException | None = None


def _ray():
    try:
        import ray
    except ImportError:
        raise UserError(f"running on Ray needs the ray package: {SWEEP_EXTRA}") from None
    return ray


def connect(address: str | None = None, num_cpus: int | None = None) -> dict:
    """Start a local Ray (address None) or join the cluster at `address`; returns its resources."""
    import logging

    ray = _ray()
    if address is None:
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)
    else:
        if num_cpus is not None:
            raise ValueError("--num-cpus sizes a local Ray; a cluster's size is set by its `ray start`")
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError) as err:
            raise UserError(f"cannot join the Ray cluster at {address}: {str(err).splitlines()[0]} "
                               f"(is `ray start --head` running there? a cluster with token "
                               f"authentication also needs RAY_AUTH_MODE=token and its token)") from None
    return ray.cluster_resources()


def run_tasks(fn: Callable, args: list[tuple], *, address: str | None = None, num_cpus: int | None = None,
              cpus_per_task: float = 1, max_retries: int = 3, names: list[str] | None = None,
              on_tick: Callable[[], None] | None = None, tick_s: float = 1.0) -> Iterator[TaskDone]:
    """Run `fn(*a)` for each `a` in `args` as Ray tasks; yield each as it finishes (see above)."""
    ray = _ray()
    connect(address, num_cpus)
    pending = []
    try:
        remote = ray.remote(fn)
        refs = {}
        for i, a in enumerate(args):
            options = dict(num_cpus=cpus_per_task, max_retries=max_retries)
            if names is not None:
                options["name"] = names[i]
            refs[remote.options(**options).remote(*a)] = i
        pending = list(refs)
        last_tick = time.monotonic()
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=tick_s)
            for ref in done:
                try:
                    yield TaskDone(refs[ref], value=ray.get(ref))
                except ray.exceptions.RayTaskError as err:  # fn raised: its own exception
                    yield TaskDone(refs[ref], error=err.as_instanceof_cause())
                except ray.exceptions.RayError as err:      # retries used up, or cancelled
                    yield TaskDone(refs[ref], error=err)
            if on_tick is not None and time.monotonic() - last_tick >= tick_s:
                on_tick()
                last_tick = time.monotonic()
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        ray.shutdown()
