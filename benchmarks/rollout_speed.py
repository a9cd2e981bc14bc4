"""Steps per second on one core: raw env stepping vs our rollout collection vs the whole TRPO
loop, per policy class, measured side by side in one process.

    python benchmarks/rollout_speed.py --env Hopper-v4 --policies gaussian gmm flow
"""
import argparse
import io
import time

import numpy as np

from onpolicy_flows.common.seeding import configure_tensorflow_threads
from onpolicy_flows.envs.factory import make_env
from onpolicy_flows.envs.rollout import SegmentCollector
from onpolicy_flows.policies import POLICY_CLASSES, PolicyConfig
from onpolicy_flows.policies.base import CompiledActor
from onpolicy_flows.trpo_mpi import TRPOConfig, TRPOLearner


def raw_env_steps_per_second(env_id: str, steps: int) -> float:
    """Random actions drawn beforehand, so only env.step and resets are timed."""
    env = make_env(env_id, seed=0)
    actions = np.stack([env.action_space.sample() for _ in range(steps)])
    env.reset()
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed


def learner_for(env_id: str, policy: str, batch: int, iterations: int) -> TRPOLearner:
    config = TRPOConfig(env=env_id, timesteps_per_batch=batch,
                        num_timesteps=batch * iterations, policy=PolicyConfig(policy=policy))
    learner = TRPOLearner(config, run_dir=None)
    learner.logger.stdout = io.StringIO()  # keep the benchmark's own table readable
    return learner


def rollout_steps_per_second(learner: TRPOLearner, steps: int) -> float:
    """Collection with the learner's compiled actor, after one warm-up segment."""
    collector = SegmentCollector([learner.env], CompiledActor(learner.policy), steps)
    collector.collect()
    start = time.perf_counter()
    collector.collect()
    return steps / (time.perf_counter() - start)


def training_steps_per_second(learner: TRPOLearner, iterations: int) -> float:
    """Whole TRPO iterations (collect, advantages, policy step, value fit, log), timed after a
    first iteration that traces the compiled functions."""
    learner.iterate()
    start = time.perf_counter()
    for _ in range(iterations):
        learner.iterate()
    return iterations * learner.config.timesteps_per_batch / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="Hopper-v4")
    parser.add_argument("--policies", nargs="+", default=list(POLICY_CLASSES),
                        choices=POLICY_CLASSES)
    parser.add_argument("--steps", type=int, default=5000, help="steps per rollout timing")
    parser.add_argument("--iterations", type=int, default=5, help="TRPO iterations timed")
    args = parser.parse_args()
    configure_tensorflow_threads(1)
    raw = raw_env_steps_per_second(args.env, args.steps)
    print(f"{args.env}: raw env stepping {raw:8.0f} steps/s (random actions)")
    print(f"{'policy':<10} {'rollout/s':>10} {'x raw':>7} {'training/s':>11} {'x raw':>7}")
    for policy in args.policies:
        learner = learner_for(args.env, policy, 1024, args.iterations + 1)
        rollout = rollout_steps_per_second(learner, args.steps)
        training = training_steps_per_second(learner, args.iterations)
        learner.close()
        print(f"{policy:<10} {rollout:10.0f} {rollout / raw:7.2f} {training:11.0f} "
              f"{training / raw:7.2f}", flush=True)


if __name__ == "__main__":
    main()
