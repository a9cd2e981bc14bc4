"""The loop every learner runs under (`runs.training._loop`), on a stand-in learner: a stop
request is honoured after the iteration in which it arrives, a dropped batch included."""
import os
import signal
from types import SimpleNamespace

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
