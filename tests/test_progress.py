"""Progress lines: what a log or a notebook cell shows of long work, and --quiet."""

import io

from arcforge.progress import QUIET, Progress, clock


class Clock:
    """time.monotonic under the test's control."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_clock_writes_hours_minutes_seconds():
    assert [clock(s) for s in (0, 59.6, 90, 4000)] == ["0s", "1m00s", "1m30s", "1h06m40s"]


def test_a_log_gets_one_line_a_minute_with_rate_and_time_left_and_a_last_line(monkeypatch):
    t = Clock()
    monkeypatch.setattr("arcforge.progress.time.monotonic", t)
    out = io.StringIO()  # not a terminal
    with Progress("solve", 100, "task", stream=out) as p:
        for i in range(50):
            t.now += 3.0  # one task every 3 s: a minute holds 20
            p.update(1, solved=i // 2)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # at 60 s and 120 s, and the last line at close (150 s)
    assert lines[0] == "solve 20/100 tasks (20%), 3 s/task, 4m00s left, solved=9"
    assert lines[-1] == "solve 50/100 tasks (50%), 3 s/task, 2m30s left, solved=24"


def test_finished_work_says_how_long_it_took_and_a_resumed_count_starts_where_it_was(monkeypatch):
    t = Clock()
    monkeypatch.setattr("arcforge.progress.time.monotonic", t)
    out = io.StringIO()
    with Progress("train", 40, "step", initial=30, stream=out) as p:
        t.now += 5.0
        p.update(10)
    assert out.getvalue() == "train 40/40 steps (100%), 2 steps/s, done in 5s\n"


def test_quiet_says_nothing(monkeypatch):
    out = io.StringIO()
    with Progress("solve", 3, "task", stream=out, every_s=0, enabled=False) as p:
        p.update(3)
    monkeypatch.setenv(QUIET, "1")  # what --quiet sets for this process and its workers
    with Progress("solve", 3, "task", stream=out, every_s=0) as p:
        p.update(3)
    assert out.getvalue() == ""


def test_the_last_line_is_not_said_twice_and_resumed_work_is_not_in_the_rate(monkeypatch):
    t = Clock()
    monkeypatch.setattr("arcforge.progress.time.monotonic", t)
    out = io.StringIO()
    with Progress("train", 100, "step", stream=out, every_s=60) as p:
        t.now += 60.0
        p.restart(50)  # a checkpoint at step 50 found: those steps took no time of this run
        t.now += 60.0
        p.update(10)  # its minute line, then close() has nothing new to say
    assert out.getvalue() == "train 60/100 steps (60%), 6 s/step, 4m00s left\n"
