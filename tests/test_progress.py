"""Run counters and the estimate of the time left."""
import pytest

from onpolicy_flows.common.durations import format_duration
from onpolicy_flows.runs import progress as progress_module
from onpolicy_flows.runs.progress import Progress


def test_time_left_comes_from_recent_iterations_and_skips_the_first(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(progress_module.time, "time", lambda: clock[0])
    progress = Progress()
    progress.start_clock()
    clock[0] += 30.0  # a slow first iteration (tracing and compilation)
    progress.finish_iteration(1000)
    assert progress.seconds_left(10_000) is None
    for _ in range(3):
        clock[0] += 2.0  # then 2 s per 1000 steps
        progress.finish_iteration(1000)
    assert int(progress.timesteps) == 4000
    assert float(progress.elapsed_seconds) == pytest.approx(36.0)
    assert progress.seconds_left(10_000) == pytest.approx(12.0)
    assert progress.seconds_left(3000) == 0
    for _ in range(7):  # the window now holds 10 iterations, the first one among them
        clock[0] += 2.0
        progress.finish_iteration(1000)
    assert progress.seconds_left(12_000) == pytest.approx(2.0)


def test_time_left_over_iterations_that_count_no_steps(monkeypatch):
    """--timestep-count finished-episodes: an iteration whose episode runs on counts 0 steps;
    the estimate is the window's seconds over the window's steps."""
    clock = [0.0]
    monkeypatch.setattr(progress_module.time, "time", lambda: clock[0])
    progress = Progress()
    progress.start_clock()
    clock[0] += 30.0
    progress.finish_iteration(1000)  # the first: left out of the estimate
    clock[0] += 1.0
    progress.finish_iteration(0)
    assert progress.seconds_left(10_000) is None  # no step counted since the first
    for seconds, steps in ((2.0, 2000), (1.0, 0), (1.0, 1000)):
        clock[0] += seconds
        progress.finish_iteration(steps)
    assert int(progress.timesteps) == 4000
    assert progress.seconds_left(10_000) == pytest.approx(6000 * 5.0 / 3000)


def test_durations_read_as_hours_minutes_seconds():
    assert format_duration(None) == "?"
    assert format_duration(42.4) == "42s"
    assert format_duration(185) == "3m05s"
    assert format_duration(3725) == "1h02m"
