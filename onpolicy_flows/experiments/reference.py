"""The published results we compare against (reference_results.json beside this module).

An entry is either a number (value +- std at a step budget, with the `metric` it measures) or
a claim (in words, with the quote it rests on; `compare` and `checked_on` say how our runs
check it, see verdicts.py and claims.py). Entries name tasks as their source does; they apply
to every gymnasium version of that task ("Hopper-v3" and "Hopper" both match our Hopper-v4;
"*" matches every task); a claim about several tasks names them all, separated by commas.
"""
import json
import os
import re
from dataclasses import dataclass
from typing import List, Optional

REFERENCE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "reference_results.json")
TRAINING_RETURN = "training episode return"  # the metric our curves show


@dataclass(frozen=True)
class ReferenceResult:
    env: str
    algorithm: str
    policy: str
    timesteps: Optional[int]
    source: str
    value: Optional[float] = None
    std: Optional[float] = None
    std_over: Optional[str] = None
    claim: Optional[str] = None
    quote: Optional[str] = None
    metric: Optional[str] = None
    compare: Optional[str] = None
    checked_on: Optional[str] = None
    runs: Optional[int] = None  # the paper's runs behind a claim that no grid here runs
    substitute: Optional[str] = None  # the task here nearest to such a claim's task

    @property
    def is_number(self) -> bool:
        return self.value is not None

    @property
    def short_source(self) -> str:
        """The source up to its first comma or parenthesis, for legends."""
        return re.split(r"[,(]", self.source)[0].strip()

    @property
    def is_training_return(self) -> bool:
        """True for a number on our curves' metric (training-episode returns)."""
        return self.is_number and self.metric == TRAINING_RETURN

    def covers(self, env: str) -> bool:
        """True for any version of this entry's task, or of one of its tasks where it names
        several ("Humanoid, HumanoidFlagrun"); for every task with env "*"."""
        return self.env == "*" or task_name(env) in {
            task_name(task.strip()) for task in self.env.split(",")}

    def applies_to(self, env: str, algorithm: str) -> bool:
        """True for this algorithm on any version of this task (or on every task, env "*")."""
        return self.algorithm == algorithm and self.covers(env)


def task_name(env_id: str) -> str:
    """The task without its version, and for pybullet's ports of Roboschool's tasks without
    the port's suffix: 'Hopper-v4' -> 'Hopper', 'HumanoidBulletEnv-v0' -> 'Humanoid'."""
    return re.sub(r"(BulletEnv)?-v\d+$", "", env_id)


def load_reference_results(path: str = REFERENCE_FILE) -> List[ReferenceResult]:
    with open(path) as file:
        return [ReferenceResult(**entry) for entry in json.load(file)["results"]]


def references_for(env: str, algorithm: str,
                   references: List[ReferenceResult]) -> List[ReferenceResult]:
    return [reference for reference in references if reference.applies_to(env, algorithm)]
