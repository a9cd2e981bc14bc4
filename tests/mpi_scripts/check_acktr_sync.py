"""Run under `mpirun -np N`: three ACKTR iterations on InvertedPendulum-v4; every rank writes
a JSON file with its parameters, its observation filter, what it collected and the logged rows."""
import sys

import numpy as np
from check_trpo_sync import write_result

from onpolicy_flows.acktr import ACKTRConfig, ACKTRLearner
from onpolicy_flows.common import mpi
from onpolicy_flows.common.flat_params import flatten
from onpolicy_flows.policies import PolicyConfig


def main(policy: str):
    config = ACKTRConfig(env="InvertedPendulum-v4", seed=3, timesteps_per_batch=400,
                         policy=PolicyConfig(policy=policy, hidden_sizes=(16, 16),
                                             mean_init_scale=0.1, num_layers=1))
    learner = ACKTRLearner(config, run_dir=None)
    first_actions = []
    original_collect = learner.collector.collect

    def collect(min_steps):
        episodes = original_collect(min_steps)
        first_actions.append(episodes[0].actions[:5].tolist())
        return episodes

    learner.collector.collect = collect
    rows = [learner.iterate() for _ in range(3)]
    parameters = np.concatenate([flatten(learner.policy.trainable_variables).numpy(),
                                 flatten(learner.value_function.trainable_variables).numpy()])
    write_result(dict(rank=mpi.rank(), parameters=parameters.tolist(),
                      filter_mean=learner.obs_filter.mean.numpy().tolist(),
                      filter_count=int(learner.obs_filter.count.numpy()),
                      first_actions=first_actions,
                      timesteps=rows[-1]["TimestepsSoFar"], episodes=rows[-1]["EpisodesSoFar"],
                      kl=rows[-1]["KL"]))
    learner.close()


if __name__ == "__main__":
    main(sys.argv[1])
