"""The package's folders import one way only: entry points -> experiments (results -> figures
-> grids -> its own modules) -> replay -> algorithms -> policies, runs -> envs -> common; each
folder's __init__ says what it may import."""
import ast
import os

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "onpolicy_flows")
BASE = {"common"}
ALGORITHM = BASE | {"envs", "runs", "policies"}
REPLAY = ALGORITHM | {"trpo_mpi", "acktr", "ppo", "replay"}
EXPERIMENTS = REPLAY | {"experiments"}
MAY_IMPORT = {
    "common": BASE,
    "envs": BASE | {"envs"},
    "runs": BASE | {"envs", "runs"},
    "policies": BASE | {"policies"},
    "trpo_mpi": ALGORITHM | {"trpo_mpi"},
    "acktr": ALGORITHM | {"acktr"},
    "ppo": ALGORITHM | {"ppo"},
    "replay": REPLAY,
    "experiments": EXPERIMENTS,
    "experiments.figures": EXPERIMENTS | {"experiments.grids", "experiments.figures"},
    "experiments.grids": EXPERIMENTS | {"experiments.grids"},
    "experiments.results": EXPERIMENTS | {"experiments.figures", "experiments.grids",
                                          "experiments.results"},
}


def _folder(module: str) -> str:
    """'experiments.grids.harvest' -> 'experiments.grids'; 'common.mpi' -> 'common'."""
    parts = module.split(".")
    if parts[0] == "experiments" and len(parts) > 1 and parts[1] in ("figures", "grids",
                                                                     "results"):
        return ".".join(parts[:2])
    return parts[0]


def _package_imports(path: str):
    """Every onpolicy_flows module the file imports, without the prefix ("run" for the entry
    points)."""
    with open(path) as file:
        tree = ast.parse(file.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            # `from onpolicy_flows.experiments import episodes` may import a module
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "run":
                yield "run"
            elif name.startswith("onpolicy_flows.") and name != "onpolicy_flows.__version__":
                yield name[len("onpolicy_flows."):]


def _modules():
    for directory, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                module = os.path.relpath(path, PACKAGE)[:-len(".py")].replace(os.sep, ".")
                yield module, path


@pytest.mark.parametrize("module,path", sorted(_modules()))
def test_imports_point_down_the_layers(module, path):
    if "." not in module:  # the package's own __init__
        return
    allowed = MAY_IMPORT[_folder(module)]
    wrong = sorted(imported for imported in set(_package_imports(path))
                   if _folder(imported) not in allowed)
    assert wrong == [], f"{module} imports {wrong} above its layer"


def test_every_folder_says_what_it_is_for_and_may_import():
    for folder in MAY_IMPORT:
        init = os.path.join(PACKAGE, *folder.split("."), "__init__.py")
        with open(init) as file:
            docstring = ast.get_docstring(ast.parse(file.read()))
        assert docstring and "import" in docstring, folder
