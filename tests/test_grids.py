"""Every grid file loads and expands into the members the figures and the live runs expect."""
import json
import os
import re

import numpy as np
import pytest

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.experiments.grids import grid as grids
from onpolicy_flows.experiments.runs import policy_label

GRID_NAMES = ("fig3_trpo", "fig5_acktr", "fig4_humanoid", "fig4_humanoid_mujoco", "fig6_kl",
              "fisher_score", "truncation", "ppo", "acktr_kfac_before", "layer_norm_hessian",
              "gmm_log_density")


def test_every_grid_file_loads_with_unique_member_names():
    assert set(grids.grid_names()) >= set(GRID_NAMES)
    for name, grid in grids.load_all_grids().items():
        members = grid.all_members()
        assert members and len({member.name for member in members}) == len(members), name
        for member in members:
            assert member.name.startswith(
                f"{grid.algorithm}-{member.env}-{member.policy}-seed{member.seed}")
            assert member.num_timesteps == grid.num_timesteps
        if grid.compare_with:
            assert grids.load_grid(grid.compare_with).algorithm == grid.algorithm


def test_fig3_members_are_named_as_the_live_runs():
    grid = grids.load_grid("fig3_trpo")
    names = [member.name for member in grid.members()]
    assert len(names) == 6 * 4 * 3
    assert names[:2] == ["trpo-Hopper-v4-gaussian-seed0", "trpo-Hopper-v4-flow-seed0"]
    assert "trpo-Hopper-v4-gmm-K2-seed1" in names
    assert len(grid.members(seeds=[3, 4])) == 6 * 4 * 2
    assert len(grid.members(policies=["gaussian", "flow"])) == 6 * 2 * 3
    with pytest.raises(UserError):
        grid.members(seeds=[9])
    walker = grid.members(policies=["flow"], envs=["Walker2d-v4"])
    assert [m.name for m in walker] == [f"trpo-Walker2d-v4-flow-seed{seed}" for seed in range(3)]
    with pytest.raises(UserError, match="no task Walker2d-v2"):
        grid.members(envs=["Walker2d-v2"])


def test_member_flags_and_command_line_arguments():
    member = grids.load_grid("fig3_trpo").members(seeds=[1], policies=["gmm-K5"])[0]
    assert member.arguments() == ["--env", "Hopper-v4", "--policy", "gmm", "--num-components",
                                  "5", "--seed", "1", "--num-timesteps", "1000000"]
    truncation = grids.load_grid("truncation").members()[0]
    assert "--no-bootstrap-truncation" in truncation.arguments()
    fisher = grids.load_grid("fisher_score").members()[0].arguments()
    assert fisher[fisher.index("--fisher") + 1] == "score"
    assert grids.load_grid("fig4_humanoid").members()[0].num_timesteps == 2_000_000
    assert grids.load_grid("acktr_kfac_before").frozen


def test_policy_labels_round_trip():
    for label in ("gaussian", "flow", "gmm-K2", "gmm-K5"):
        flags = grids.policy_flags(label)
        assert policy_label(dict(dict(num_components=2), **flags)) == label
    with pytest.raises(UserError):
        grids.policy_flags("beta")


def test_fig6_draws_share_max_kl_and_seed_across_policies_and_are_reproducible():
    grid = grids.load_grid("fig6_kl")
    members = grid.members()
    assert len(members) >= 20
    by_policy = {policy: [(m.max_kl, m.seed) for m in members if m.policy == policy]
                 for policy in grid.policies}
    assert by_policy["gaussian"] == by_policy["flow"]
    log10 = np.log10([max_kl for max_kl, _ in by_policy["flow"]])
    assert np.all((log10 >= -3) & (log10 <= -2)) and len(set(log10)) == len(log10)
    assert members[0].name.endswith(f"-seed{members[0].seed}-maxkl{members[0].max_kl:.6f}")
    assert [m.name for m in grids.load_grid("fig6_kl").members()] == [m.name for m in members]


def test_the_first_draws_of_figure_6_are_both_policies_of_each_draw():
    grid = grids.load_grid("fig6_kl_reacher")
    first = grid.members(draws=10)
    assert first == grid.members()[:20]
    assert len({member.max_kl for member in first}) == 10
    assert [m.max_kl for m in first if m.policy == "flow"] == \
        [m.max_kl for m in first if m.policy == "gaussian"]
    assert [m.policy for m in grid.members(policies=["flow"], draws=3)] == ["flow"] * 3
    for draws in (0, 31):
        with pytest.raises(UserError, match="has 30 max_kl draws: choose 1 to 30"):
            grid.members(draws=draws)
    with pytest.raises(UserError, match="no max_kl draws"):
        grids.load_grid("fig3_trpo").members(draws=2)


def test_a_variant_of_a_figure_6_grid_runs_the_same_draws():
    """original_kl_reacher (and any other variant with max_kl draws) is compared draw by
    draw with the grid it varies: same max_kl, seed and policies, in the same order."""
    variants = [grid for grid in grids.load_all_grids().values()
                if grid.max_kl_draws and grid.compare_with]
    assert "original_kl_reacher" in [grid.name for grid in variants]
    for grid in variants:
        draws = lambda g: [(m.env, m.policy, m.seed, m.max_kl) for m in g.all_members()]  # noqa
        assert draws(grid) == draws(grids.load_grid(grid.compare_with))


def test_unknown_grid_and_unknown_keys_are_user_errors(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="fig3_trpo"):
        grids.load_grid("fig99")
    (tmp_path / "bad.json").write_text('{"algorithm": "trpo", "colour": "red"}')
    monkeypatch.setattr(grids, "GRIDS_DIR", str(tmp_path))
    with pytest.raises(UserError, match="colour"):
        grids.load_grid("bad")


def test_every_grid_is_listed_in_the_reproducing_page():
    path = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "reproducing.md")
    with open(path) as page:
        text = page.read()
    assert [name for name in grids.grid_names() if f"| `{name}` |" not in text] == []


def test_flow_size_labels_name_their_flags_and_come_back_from_config_json():
    for label, flags in (("flow-K2", dict(policy="flow", num_layers=2)),
                         ("flow-l7", dict(policy="flow", num_units=7)),
                         ("flow-K6-l5", dict(policy="flow", num_layers=6, num_units=5))):
        assert grids.policy_flags(label) == flags
        assert policy_label({**dict(num_layers=4, num_units=3), **flags}) == label
    assert policy_label(dict(policy="flow", num_layers=4, num_units=3)) == "flow"
    ablation = grids.load_grid("fig7_flow_ablation")
    arguments = [m.arguments() for m in ablation.members() if m.policy == "flow-K2"][0]
    assert arguments[:6] == ["--env", "Reacher-v4", "--policy", "flow", "--num-layers", "2"]
    with pytest.raises(UserError, match="flow-K<n>"):
        grids.policy_flags("flow-X3")


def test_a_reused_policy_names_the_grid_that_trains_the_same_commands(tmp_path, monkeypatch):
    """fig7's default flow is fig3_trpo's (same names and flags); reusing a member another
    grid runs with other flags or not at all, a policy the grid does not declare, or from a
    grid that does not train its own runs (itself, frozen, reusing in turn) is refused."""
    fig7 = grids.load_grid("fig7_flow_ablation")
    reused = [member for member in fig7.all_members() if member.reused_from]
    assert {member.policy for member in reused} == {"flow"} and len(reused) == 10
    fig3 = {member.name: member for member in grids.load_grid("fig3_trpo").all_members()}
    assert all(fig3[member.name].flags == member.flags for member in reused)
    monkeypatch.setattr(grids, "GRIDS_DIR", str(tmp_path))
    base = dict(description="", algorithm="trpo", envs=["Hopper-v4"], policies=["flow"],
                seeds=[0], num_timesteps=1000)

    def write(name, **changes):
        (tmp_path / f"{name}.json").write_text(json.dumps(dict(base, **changes)))
    write("base")
    write("same", reuse={"flow": "base"})
    assert grids.load_grid("same").members()[0].reused_from == "base"
    refusals = {"longer": (dict(num_timesteps=2000, reuse={"flow": "base"}),
                           "does not run trpo-Hopper-v4-flow-seed0 (or not with the same"),
                "more_seeds": (dict(seeds=[0, 1], reuse={"flow": "base"}),
                               "does not run trpo-Hopper-v4-flow-seed1"),
                "undeclared": (dict(reuse={"gaussian": "base"}), "does not declare"),
                "itself": (dict(reuse={"flow": "itself"}), "does not train its own runs"),
                "chained": (dict(reuse={"flow": "same"}), "does not train its own runs"),
                "from_frozen": (dict(reuse={"flow": "frozen"}), "does not train its own")}
    write("frozen", frozen=True)
    for name, (changes, message) in refusals.items():
        write(name, **changes)
        with pytest.raises(UserError, match=re.escape(message)):
            grids.load_grid(name)
