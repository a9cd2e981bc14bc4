"""Run under `mpirun -np N`: three PPO iterations on Pendulum-v1 with two environments per
rank; every rank writes a JSON file with its parameters, its normalisers' statistics, what
it collected and the logged rows."""
import sys

from check_trpo_sync import write_result

from onpolicy_flows.common import mpi
from onpolicy_flows.policies import PolicyConfig
from onpolicy_flows.ppo import PPOConfig, PPOLearner


def main(policy: str):
    config = PPOConfig(env="Pendulum-v1", seed=3, timesteps_per_batch=256, envs_per_rank=2,
                       num_minibatches=4, epochs=2, num_timesteps=3 * 256,
                       policy=PolicyConfig(policy=policy, hidden_sizes=(16, 16),
                                           num_layers=1))
    learner = PPOLearner(config, run_dir=None)
    first_actions = []
    original_collect = learner.collector.collect

    def collect():
        segment = original_collect()
        first_actions.append(segment.actions[:, :5].tolist())
        return segment

    learner.collector.collect = collect
    rows = [learner.iterate() for _ in range(3)]
    returns_rms = learner.return_normalizer.returns_rms
    write_result(dict(rank=mpi.rank(), parameters=learner.optimizer.params.get().tolist(),
                      adam_moment=learner.optimizer.first_moment.numpy().tolist(),
                      obs_mean=learner.obs_normalizer.mean.numpy().tolist(),
                      obs_count=float(learner.obs_normalizer.count),
                      returns_std=returns_rms.std.numpy().tolist(),
                      returns_count=float(returns_rms.count),
                      first_actions=first_actions,
                      timesteps=rows[-1]["TimestepsSoFar"], approxkl=rows[-1]["approxkl"]))
    learner.close()


if __name__ == "__main__":
    main(sys.argv[1])
