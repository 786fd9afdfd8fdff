"""Worker processes that take one job at a time from the scheduler and can be stopped at any moment.

A pool is a set of processes of one kind (CPU solvers, or model solvers on a GPU each). Every worker
builds its state once (`init(arg, slot)`: the solvers, a model), then answers jobs with
`handle(state, job)`. Jobs go to one idle worker at a time, so the scheduler always knows which job
each worker holds; answers from every pool arrive on one queue. Unlike concurrent.futures, stopping
a pool terminates its processes instead of waiting for queued work, and a worker whose scheduler
died exits by itself.

`InlinePool` has the same interface and runs its one worker on a thread of the calling process (no
start-up cost): the CPU pool of a one-worker run, and a model worker on a CPU.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

READY, DONE, FAILED = "ready", "done", "failed"


def _worker_main(name: str, slot: int, init: Callable, handle: Callable, arg: Any, env: dict[str, str],
                 inbox, events) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the scheduler's to handle; it stops us
    os.environ.update(env)
    parent = os.getppid()
    try:
        state = init(arg, slot)
    except BaseException as e:  # noqa: BLE001 -- reported to the scheduler, which names it
        events.put((name, slot, FAILED, _describe(e)))
        return
    events.put((name, slot, READY, state_info(state)))
    while True:
        try:
            job = inbox.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:  # the scheduler is gone: nobody will read our answers
                return
            continue
        if job is None:
            return
        try:
            events.put((name, slot, DONE, handle(state, job)))
        except BaseException as e:  # noqa: BLE001
            events.put((name, slot, FAILED, _describe(e)))
            return


def _describe(e: BaseException) -> str:
    from arcforge.errors import ArcError

    return str(e) if isinstance(e, ArcError) else f"{type(e).__name__}: {e}"


def state_info(state: Any) -> Any:
    """What a worker reports once built: its state's `info()` if it has one."""
    return state.info() if hasattr(state, "info") else None


class ProcessPool:
    """`n` worker processes named `name`; worker i gets the environment `envs[i]` (e.g. its GPU)."""

    def __init__(self, name: str, n: int, init: Callable, handle: Callable, arg: Any, events,
                 envs: list[dict[str, str]] | None = None, start_method: str = "spawn"):
        self.ctx = mp.get_context(start_method)
        self.name, self.events = name, events
        self.spec = (init, handle, arg, envs or [{}] * n)
        self.inboxes, self.procs = [None] * n, [None] * n
        for i in range(n):
            self._start(i)
        self.busy: dict[int, Any] = {}  # slot -> the job it holds

    def _start(self, slot: int) -> None:
        init, handle, arg, envs = self.spec
        self.inboxes[slot] = self.ctx.Queue()
        self.procs[slot] = self.ctx.Process(target=_worker_main, daemon=True, args=(
            self.name, slot, init, handle, arg, envs[slot], self.inboxes[slot], self.events))
        self.procs[slot].start()

    def restart(self, slot: int) -> Any:
        """Terminate the worker in `slot` (stuck past its job's deadline) and start a fresh one in its
        place; returns the job it held. The new worker announces itself with READY like the first."""
        p = self.procs[slot]
        p.terminate()
        p.join(2.0)
        if p.is_alive():
            p.kill()
            p.join()
        self.inboxes[slot].cancel_join_thread()
        self.inboxes[slot].close()
        self._start(slot)
        return self.busy.pop(slot, None)

    def __len__(self) -> int:
        return len(self.procs)

    def idle(self) -> list[int]:
        return [i for i in range(len(self.procs)) if i not in self.busy and self.procs[i].is_alive()]

    def send(self, slot: int, job: Any) -> None:
        self.busy[slot] = job
        self.inboxes[slot].put(job)

    def answered(self, slot: int) -> Any:
        return self.busy.pop(slot, None)

    def stop(self, grace: float = 1.0) -> None:
        """Ask every worker to finish, then terminate whatever has not within `grace` seconds (a worker
        in the middle of a job is terminated at once: its job is lost, and a resumed run redoes it)."""
        for i, p in enumerate(self.procs):
            if p.is_alive():
                if i in self.busy:
                    p.terminate()
                else:
                    self.inboxes[i].put(None)
        end = time.monotonic() + grace
        for p in self.procs:
            p.join(max(0.0, end - time.monotonic()))
            if p.is_alive():
                p.terminate()
                p.join(1.0)
            if p.is_alive():
                p.kill()
                p.join()
        for q in self.inboxes:
            q.cancel_join_thread()
            q.close()


class InlinePool:
    """One worker in this process, on a thread of its own: no start-up cost, and the scheduler stays
    free to hand the other pools work while it runs (torch and numpy release the GIL in their kernels).
    Its state is built in the calling thread, so a failure there surfaces at once."""

    def __init__(self, name: str, init: Callable, handle: Callable, arg: Any, events):
        self.name, self.events, self.handle = name, events, handle
        self.busy: dict[int, Any] = {}
        self.state = init(arg, 0)
        self.jobs: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, name=f"arcforge-{name}", daemon=True)
        self.thread.start()
        events.put((name, 0, READY, state_info(self.state)))

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                self.events.put((self.name, 0, DONE, self.handle(self.state, job)))
            except BaseException as e:  # noqa: BLE001 -- reported to the scheduler, which names it
                self.events.put((self.name, 0, FAILED, _describe(e)))
                return

    def __len__(self) -> int:
        return 1

    def idle(self) -> list[int]:
        return [] if self.busy or not self.thread.is_alive() else [0]

    def send(self, slot: int, job: Any) -> None:
        self.busy[slot] = job
        self.jobs.put(job)

    def answered(self, slot: int) -> Any:
        return self.busy.pop(slot, None)

    def stop(self, grace: float = 1.0) -> None:
        """Ask the thread to finish; one busy with a job is left to end with the process (a daemon)."""
        self.jobs.put(None)
        self.thread.join(grace if not self.busy else 0.0)
