"""The published results we compare against (reference_results.json beside this module).

An entry is either a number (value +- std at a step budget) or a claim (an ordering of
policies, best first, with the quote it rests on). Entries name tasks as their source does;
they apply to every gymnasium version of that task ("Hopper-v3" and "Hopper" both match our
Hopper-v4; "*" matches every task).
"""
import json
import os
import re
from dataclasses import dataclass
from typing import List, Optional

REFERENCE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "reference_results.json")


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

    @property
    def is_number(self) -> bool:
        return self.value is not None

    def applies_to(self, env: str, algorithm: str) -> bool:
        """True for this algorithm on any version of this task (or on every task, env "*")."""
        return self.algorithm == algorithm and (
            self.env == "*" or task_name(self.env) == task_name(env))


def task_name(env_id: str) -> str:
    """The task without its version: 'Hopper-v4' -> 'Hopper'."""
    return re.sub(r"-v\d+$", "", env_id)


def load_reference_results(path: str = REFERENCE_FILE) -> List[ReferenceResult]:
    with open(path) as file:
        return [ReferenceResult(**entry) for entry in json.load(file)["results"]]


def references_for(env: str, algorithm: str,
                   references: List[ReferenceResult]) -> List[ReferenceResult]:
    return [reference for reference in references if reference.applies_to(env, algorithm)]
