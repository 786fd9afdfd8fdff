"""Progress of long work (solve, train, the tasknet's training) in a form a person can read.

In a terminal it is a tqdm bar with the rate and the time left. Anywhere else (a log file, a
notebook cell, CI) a bar would be thousands of carriage returns, so it is one line a minute and a
last line at the end, each with the count, the rate and the time left:

    solve 37/100 tasks (37%), 2.44 s/task, 2m34s left, solved=12

`--quiet` sets ARCFORGE_QUIET, read here, so worker processes stay quiet too.
"""

from __future__ import annotations

import os
import sys
import time

QUIET = "ARCFORGE_QUIET"


def clock(seconds: float) -> str:
    """90 -> '1m30s', 4000 -> '1h06m40s'."""
    s = int(round(seconds))
    h, m = s // 3600, s // 60 % 60
    return f"{h}h{m:02d}m{s % 60:02d}s" if h else f"{m}m{s % 60:02d}s" if m else f"{s}s"


class Progress:
    """Counts `total` units of work from `initial`; `update(n, **post)` adds n and shows `post`
    beside the count (solved tasks, loss, ...). Use as a context manager, or call close()."""

    def __init__(self, desc: str, total: int | None, unit: str = "it", initial: int = 0, enabled: bool = True,
                 stream=None, every_s: float = 60.0, position: int | None = None):
        self.desc, self.total, self.unit, self.n = desc, total, unit, initial
        self.enabled = enabled and not os.environ.get(QUIET)
        self.stream = stream or sys.stderr
        self.every_s, self.post = every_s, {}
        self.start = self.last = time.monotonic()
        self.first = self.said = initial  # said: the count the last line showed
        self.bar = None
        if self.enabled and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True,
                            file=self.stream, position=position, leave=position in (None, 0))

    def set_total(self, total: int) -> None:
        self.total = total
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()

    def restart(self, n: int) -> None:
        """Work resumed at `n` done earlier: counted, but not in the rate or the time left."""
        self.n = self.first = self.said = n
        self.start = time.monotonic()
        if self.bar is not None:
            self.bar.reset(total=self.total)
            self.bar.update(n)

    def update(self, n: int = 1, **post) -> None:
        self.n += n
        self.post.update(post)
        if self.bar is not None:
            if post:
                self.bar.set_postfix(self.post, refresh=False)
            self.bar.update(n)
        elif self.enabled and time.monotonic() - self.last >= self.every_s:
            self.say()

    def line(self) -> str:
        """The count, the share, the rate, the time left and the extra values, on one line."""
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = (self.n - self.first) / elapsed
        parts = [f"{self.desc} {self.n}/{self.total} {self.unit}s" if self.total else f"{self.desc} {self.n} {self.unit}s"]
        if self.total:
            parts[0] += f" ({self.n / self.total:.0%})"
        slow = 0 < rate < 1  # seconds per unit reads better than a fraction of a unit per second
        parts.append(f"{elapsed / (self.n - self.first):.3g} s/{self.unit}" if slow else f"{rate:.3g} {self.unit}s/s")
        if self.total and rate > 0 and self.n < self.total:
            parts.append(f"{clock((self.total - self.n) / rate)} left")
        elif self.n >= (self.total or float("inf")):
            parts.append(f"done in {clock(elapsed)}")
        parts += [f"{k}={v}" for k, v in self.post.items()]
        return ", ".join(parts)

    def say(self) -> None:
        print(self.line(), file=self.stream, flush=True)
        self.last, self.said = time.monotonic(), self.n

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.enabled and self.n != self.said:  # the last line, unless the count's line just went out
            self.say()
        self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def quiet_env(quiet: bool) -> None:
    """No progress bars under --quiet (arcforge's and the model loaders'); into a log, none of the loaders'."""
    if quiet:  # transformers' own bars too (read when it is imported, also by workers)
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
        os.environ[QUIET] = "1"  # arcforge's own progress, in this process and its workers
    elif not sys.stderr.isatty():  # a log or a notebook: arcforge's lines, not the model loaders' bars
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
