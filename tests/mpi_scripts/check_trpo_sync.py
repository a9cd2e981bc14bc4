"""Run under `mpirun -np N`: two TRPO iterations on Reacher-v4 (two action dimensions: no
flow coupling sees an all-zero input); every rank prints a JSON line with its policy and
value-function parameters and its rank-averaged KLs of both steps."""
import json
import os
import sys

from onpolicy_flows.common import mpi
from onpolicy_flows.policies import PolicyConfig
from onpolicy_flows.trpo_mpi import TRPOConfig, TRPOLearner


def main(policy: str):
    config = TRPOConfig(env="Reacher-v4", seed=5, timesteps_per_batch=256, num_timesteps=512,
                        policy=PolicyConfig(policy=policy))
    learner = TRPOLearner(config, run_dir=None)
    first_actions = learner.collector.collect().actions[0, :5].tolist()
    rows = [learner.iterate() for _ in range(2)]
    write_result(dict(rank=mpi.rank(), first_actions=first_actions,
                          policy_params=learner.objective.params.get().tolist(),
                          vf_params=learner.vf_optimizer.params.get().tolist(),
                          meankls=[row["meankl"] for row in rows],
                      timesteps=int(learner.progress.timesteps)))
    learner.close()


def write_result(result: dict) -> None:
    """Each rank writes its own file (interleaved stdout lines from ranks would mix)."""
    with open(os.path.join(os.environ["MPI_TEST_OUT"], f"rank{mpi.rank()}.json"), "w") as file:
        json.dump(result, file)


if __name__ == "__main__":
    main(sys.argv[1])

