"""The loop every learner runs under (`runs.training._loop`), on a stand-in learner: a stop
request is honoured after the iteration in which it arrives, a dropped batch included; a
repeat at once is the same request, a later one interrupts."""
import os
import signal
from types import SimpleNamespace

import pytest

from onpolicy_flows.runs import training
from onpolicy_flows.runs.progress import Progress


class DroppingLearner:
    """Drops every batch (iterate -> None, as TRPO's `--non-positive-fisher drop-batch`),
    and receives SIGINT during its first iteration."""

    def __init__(self):
        self.config = SimpleNamespace(num_timesteps=1000, save_every=1)
        self.progress = Progress()
        self.logger = SimpleNamespace(add_display_row=lambda *args: None,
                                      log=lambda message: self.messages.append(message))
        self.messages = []
        self.calls = 0

    def iterate(self):
        self.calls += 1
        if self.calls == 1:
            os.kill(os.getpid(), signal.SIGINT)
        assert self.calls < 5, "the stop request was ignored"
        return None


def test_a_stop_request_ends_the_loop_even_when_every_batch_is_dropped():
    learner = DroppingLearner()
    saved = []
    checkpoints = SimpleNamespace(save=saved.append)
    history = training._loop(learner, checkpoints, "run", started=0.0)
    assert history == [] and learner.calls == 1
    assert saved == [0]  # the state (the filter took the batch) is kept
    assert learner.messages == ["stopped at iteration 0; continue with --resume run"]


def test_a_repeat_within_a_second_is_the_same_stop_request_a_later_one_interrupts(
        monkeypatch):
    """A scheduler's SIGTERM may reach a trainer twice at once (directly and through
    run.reproduce): that must still stop it after its iteration, with a checkpoint; a second
    signal later (a second Ctrl-C) stops it at once."""
    clock = [100.0]
    monkeypatch.setattr(training.time, "monotonic", lambda: clock[0])
    with training._StopRequest() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        clock[0] += 0.2
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested
        clock[0] += 5.0
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
