"""Resume restores exactly what was saved: every variable of the checkpointed objects equals
its value when the checkpoint was written, the noise streams restart from the documented
seed, and progress.csv rows logged before the checkpoint are kept byte for byte."""
import os

import numpy as np
import pytest
import tensorflow as tf

from onpolicy_flows.acktr import ACKTRConfig
from onpolicy_flows.acktr import learn as learn_acktr
from onpolicy_flows.common.seeding import resumed_seed
from onpolicy_flows.policies import PolicyConfig
from onpolicy_flows.runs import checkpoints as checkpoints_module
from onpolicy_flows.trpo_mpi import TRPOConfig
from onpolicy_flows.trpo_mpi import learn as learn_trpo

SAVED_AT = 2  # the latest checkpoint when the first run dies in its 3rd iteration


class _Stop(Exception):
    """Ends a run at a chosen point, as a kill would (no final checkpoint)."""


def _state(objects) -> dict:
    """Every variable of the checkpointed objects, by object name and position."""
    state = {}
    for name, owner in sorted(objects.items()):
        variables = owner.variables if isinstance(owner, tf.Module) else [owner]
        for index, variable in enumerate(variables):
            state[f"{name}/{index}:{variable.name}"] = variable.numpy().copy()
    return state


def _first_run_killed_after(iterations, learn, config, monkeypatch):
    """Trains (checkpointing every iteration) until `iterations` iterations are logged, then
    dies before that iteration's checkpoint; returns the state as saved at SAVED_AT."""
    saved = {}
    real_save = checkpoints_module.RunCheckpoints.save

    def save(checkpoints, iteration):
        if iteration == iterations:
            raise _Stop()
        real_save(checkpoints, iteration)
        saved[iteration] = _state(checkpoints.objects)

    monkeypatch.setattr(checkpoints_module.RunCheckpoints, "save", save)
    with pytest.raises(_Stop):
        learn(config)
    monkeypatch.setattr(checkpoints_module.RunCheckpoints, "save", real_save)
    return saved[SAVED_AT]


def _state_when_resumed(learn, config, run_dir, monkeypatch):
    """The learner's checkpointed state, and its noise generators' states, at the first
    iteration of the resumed run (before it changes anything)."""
    found = {}
    real_restore = checkpoints_module.RunCheckpoints.restore

    def restore(checkpoints, path):
        real_restore(checkpoints, path)
        found["objects"] = checkpoints.objects

    monkeypatch.setattr(checkpoints_module.RunCheckpoints, "restore", restore)
    from onpolicy_flows.runs import training
    real_loop = training._loop

    def loop(learner, *args):
        found["state"] = _state(found["objects"])
        found["noise"] = learner.policy.noise.state.numpy().copy()
        found["learner"] = learner
        raise _Stop()

    monkeypatch.setattr(training, "_loop", loop)
    with pytest.raises(_Stop):
        learn(config, run_dir=run_dir, resume=True)
    monkeypatch.setattr(training, "_loop", real_loop)
    return found


def _check_resume(tmp_path, monkeypatch, learn, config):
    saved = _first_run_killed_after(3, learn, config, monkeypatch)
    (run_dir,) = [entry.path for entry in os.scandir(tmp_path) if entry.is_dir()]
    with open(os.path.join(run_dir, "progress.csv")) as file:
        lines_before = file.read().splitlines()
    assert len(lines_before) == 1 + 3
    found = _state_when_resumed(learn, config, run_dir, monkeypatch)
    assert found["state"].keys() == saved.keys()
    moved = 0
    for key, value in saved.items():
        np.testing.assert_array_equal(found["state"][key], value, err_msg=key)
        moved += not np.array_equal(value, 0)
    assert moved > 10  # a real state, not zeros everywhere
    learner = found["learner"]
    rank_seed = learner.seed
    expected_noise = tf.random.Generator.from_seed(resumed_seed(rank_seed, SAVED_AT),
                                                   alg="philox").state.numpy()
    np.testing.assert_array_equal(found["noise"], expected_noise)
    with open(os.path.join(run_dir, "progress.csv")) as file:
        lines_after = file.read().splitlines()
    assert lines_after == lines_before[:1 + SAVED_AT]  # rows up to the checkpoint, untouched
    return found


def test_trpo_resume_restores_every_saved_variable(tmp_path, monkeypatch):
    config = TRPOConfig(env="Pendulum-v1", timesteps_per_batch=256, num_timesteps=2048,
                        save_every=1, policy=PolicyConfig(policy="gaussian"),
                        logdir=str(tmp_path))
    found = _check_resume(tmp_path, monkeypatch, learn_trpo, config)
    keys = " ".join(found["state"])
    for part in ("policy/", "value_function/", "vf_optimizer/", "obs_normalizer/",
                 "progress/"):
        assert part in keys
    assert int(found["learner"].progress.iteration) == SAVED_AT


def test_acktr_resume_restores_kfac_state_step_size_and_filter(tmp_path, monkeypatch):
    config = ACKTRConfig(env="InvertedPendulum-v4", timesteps_per_batch=300,
                         num_timesteps=10_000, save_every=1, logdir=str(tmp_path),
                         policy=PolicyConfig(policy="gaussian", hidden_sizes=(16, 16),
                                             mean_init_scale=0.1))
    found = _check_resume(tmp_path, monkeypatch, learn_acktr, config)
    learner = found["learner"]
    assert int(learner.policy_optimizer.updates.numpy()) == SAVED_AT
    assert np.abs(learner.policy_optimizer.velocities[0].numpy()).max() > 0
    assert np.abs(learner.policy_optimizer.grad_blocks[0].factor.numpy()).max() > 0
    assert int(learner.obs_filter.count.numpy()) > 0
    # the filter's working copy (what the next rollout uses) is the restored one
    np.testing.assert_array_equal(learner.obs_filter._mean, learner.obs_filter.mean.numpy())
