"""Claims checked against synthetic grid results with known orderings."""
import numpy as np
import pytest
from fake_runs import fast_bootstrap  # noqa: F401 (a fixture)

from onpolicy_flows.experiments.grids.grid import load_grid
from onpolicy_flows.experiments.reference import ReferenceResult, task_name
from onpolicy_flows.experiments.results import claims, page_claims
from onpolicy_flows.experiments.results.harvested import MemberResult
from onpolicy_flows.experiments.results.verdicts import NO_BIG_GAIN, ORDERING, Outcome

pytestmark = pytest.mark.usefixtures("fast_bootstrap")


def fake_results(grid, final_of, seeds=(0, 1, 2)):
    """MemberResults of `grid` whose final return is final_of(member)."""
    return [MemberResult(member, np.zeros(100), final_of(member), 60.0, "abc")
            for member in grid.all_members() if member.seed in seeds]


def claim(compare, env="*", algorithm="trpo", checked_on=claims.DEFAULT_SETTINGS):
    return ReferenceResult(env, algorithm, "", None, "paper", claim=compare, compare=compare,
                           checked_on=checked_on)


@pytest.fixture
def grid_results():
    fig3 = load_grid("fig3_trpo")
    ranks = {"flow": 3, "gmm-K5": 2, "gmm-K2": 1, "gaussian": 0}
    fig3_results = fake_results(fig3, lambda m: 100.0 * ranks[m.policy] + m.seed)
    truncation = load_grid("truncation")
    return {"fig3_trpo": (fig3, fig3_results),
            "truncation": (truncation, fake_results(truncation, lambda m: -1.0)),
            "fig4_humanoid": (load_grid("fig4_humanoid"), [])}


def test_parse_compare():
    assert claims.parse_compare("a, b > c") == (ORDERING, [("a", "c"), ("b", "c")])
    assert claims.parse_compare("flow ~ gaussian") == (NO_BIG_GAIN, [("flow", "gaussian")])
    assert claims.parse_compare("flow-K2, flow-l5 ~= flow") == (
        "~=", [("flow-K2", "flow"), ("flow-l5", "flow")])


def test_an_ordering_that_holds_is_reproduced_and_its_reverse_is_not(grid_results):
    held = claims.check_claim(claim("flow > gmm-K5, gaussian"), grid_results)
    assert [check.grid for check in held.checks] == ["fig3_trpo"] * 2  # Humanoid has no GMM
    assert all(len(check.per_task) == 6 and check.runs == (3, 3) for check in held.checks)
    assert held.outcome == Outcome.REPRODUCED
    humanoid = claims.check_claim(claim("flow > gaussian", env="Humanoid"), grid_results)
    assert humanoid.outcome == Outcome.INCONCLUSIVE  # its grid has no run yet
    reversed_ = claims.check_claim(claim("gaussian > flow", env="Hopper"), grid_results)
    assert reversed_.outcome == Outcome.NOT_REPRODUCED
    assert reversed_.checks[0].tasks == ("Hopper-v4",)
    assert reversed_.checks[0].means == (1.0, 301.0)


def test_the_aggregate_uses_the_seeds_that_finished_every_task(grid_results):
    fig3, results = grid_results["fig3_trpo"]
    missing_one = [result for result in results if not (
        result.member.env == "Ant-v4" and result.member.seed == 2)]
    matrix = claims.score_matrix(missing_one, fig3.envs, "flow")
    assert matrix.shape == (2, 6)
    pooled_twice = claims.score_matrix(missing_one + results, fig3.envs, "flow")
    assert pooled_twice.shape == (5, 6)  # seeds 0 and 1 twice, seed 2 once on every task


def test_a_check_no_seed_finished_everywhere_names_the_tasks_that_have_runs():
    humanoid = load_grid("fig4_humanoid")
    on_one_task = fake_results(humanoid, lambda m: 100.0 if m.policy == "flow" else 50.0)
    on_one_task = [result for result in on_one_task
                   if result.member.env == "HumanoidBulletEnv-v0"]
    verdict = claims.check_claim(claim("flow > gaussian", env="Humanoid, HumanoidFlagrun"),
                                 {"fig4_humanoid": (humanoid, on_one_task)})
    [check] = verdict.checks
    assert check.runs == (0, 0)
    text = page_claims.check_text(check)
    assert text.startswith("fig4_humanoid: flow > gaussian, P = -, runs 0 vs 0 (no seed")
    assert "HumanoidBulletEnv-v0 alone: P = 1.00 [1.00, 1.00], p = 0.050, runs 3 vs 3" in text
    assert "Flagrun" not in text  # no runs there to name
    assert "alone" not in page_claims.check_text(check.per_task[0])


def test_claims_no_grid_can_check_are_not_tested(grid_results):
    verdict = claims.check_claim(claim("flow > gaussian", env="Reacher",
                                       checked_on=claims.RANDOM_MAX_KL), grid_results)
    assert verdict.outcome == Outcome.NOT_TESTED and "Reacher" in verdict.note
    words_only = ReferenceResult("Hopper", "trpo", "flow", None, "paper", claim="robust")
    assert claims.check_claim(words_only, grid_results).outcome == Outcome.NOT_TESTED


def test_an_untested_claim_is_costed_on_its_substitute_task(grid_results):
    """60 runs of 5e6 steps, half Gaussian at the measured hour per 2e6 steps of TRPO on
    Humanoid-v4 (75 h), half flow, not run there, at the Gaussian's rate times the flow's
    median slowdown on fig3's tasks (x 1.5: 112.5 h)."""
    humanoid = load_grid("fig4_humanoid_mujoco")
    reference = ReferenceResult("SimpleHumanoid", "trpo", "", 5_000_000, "paper",
                                claim="robust", compare="flow > gaussian",
                                checked_on=claims.RANDOM_MAX_KL, runs=60,
                                substitute="Humanoid-v4")
    assert claims.check_claim(reference, grid_results).note.endswith(
        "SimpleHumanoid with random max_kl")  # nothing ran on Humanoid-v4 to measure
    fig3, fig3_results = grid_results["fig3_trpo"]
    slower_flow = [MemberResult(result.member, result.curve, result.final,
                                90.0 if result.member.policy == "flow" else 60.0, "abc")
                   for result in fig3_results]
    gaussian = next(member for member in humanoid.members() if member.policy == "gaussian")
    grid_results = dict(grid_results, fig3_trpo=(fig3, slower_flow), fig4_humanoid_mujoco=(
        humanoid, [MemberResult(gaussian, np.zeros(100), 500.0, 3600.0, "abc")]))
    verdict = claims.check_claim(reference, grid_results)
    assert verdict.outcome == Outcome.NOT_TESTED
    assert ("the paper's 60 runs of 5e6 steps would take about 187h30m of one core here on "
            "Humanoid-v4") in verdict.note
    assert "the flow, not run there, at the gaussian's rate x 1.50, their median ratio over " \
        "6 other tasks" in verdict.note
    original = claims.check_claim(reference, grid_results, claims.ORIGINAL_VIEW)
    assert "of one core" not in original.note


def test_variant_grids_are_compared_with_the_grid_they_vary(grid_results):
    truncation, results = grid_results["truncation"]
    checks = claims.compare_variant(truncation, results, grid_results["fig3_trpo"][1])
    assert [(check.tasks[0], check.better) for check in checks] == [
        ("Walker2d-v4", "gaussian"), ("Walker2d-v4", "flow"), ("Hopper-v4", "gaussian"),
        ("Hopper-v4", "flow")]
    assert all(check.outcome == Outcome.NOT_REPRODUCED for check in checks)  # variant lower


def test_as_the_original_ran_it_pools_the_original_grids_pair_by_pair(grid_results):
    """With --original the Gaussian falls below the flow on every task, the GMMs run only on
    Ant and HalfCheetah: each pair is checked on the tasks where both run, on the pooled
    --original grids; the defaults' verdict is unchanged."""
    original_trpo, original_gmm = load_grid("original_trpo"), load_grid("original_gmm")
    ranks = {"flow": 3, "gmm-K5": 2, "gmm-K2": 1, "gaussian": 0}
    flipped = {"flow": 0, "gaussian": 3}
    grid_results = dict(
        grid_results,
        original_trpo=(original_trpo, fake_results(
            original_trpo, lambda m: 100.0 * flipped[m.policy] + m.seed)),
        original_gmm=(original_gmm, fake_results(
            original_gmm, lambda m: 100.0 * ranks[m.policy] + m.seed)),
        original_humanoid=(load_grid("original_humanoid"), []))  # no GMM: not Figure 3's
    reference = claim("flow > gmm-K5, gaussian")
    defaults = claims.check_claim(reference, grid_results)
    original = claims.check_claim(reference, grid_results, claims.ORIGINAL_VIEW)
    assert defaults.outcome == Outcome.REPRODUCED
    assert [check.grid for check in original.checks] == ["original_gmm + original_trpo"] * 2
    over_gmm, over_gaussian = original.checks
    assert set(over_gmm.tasks) == {"HalfCheetah-v4", "Ant-v4"}  # where both run
    assert over_gmm.outcome == Outcome.NOT_REPRODUCED  # the flow's --original runs are low
    assert len(over_gaussian.tasks) == 6 and over_gaussian.outcome == Outcome.NOT_REPRODUCED
    assert original.outcome == Outcome.NOT_REPRODUCED
    acktr = claims.check_claim(claim("flow > gaussian", env="Ant", algorithm="acktr"),
                               grid_results, claims.ORIGINAL_VIEW)
    assert acktr.outcome == Outcome.NOT_TESTED and "--original" in acktr.note


def test_the_humanoid_claim_reads_pybullets_port_of_roboschool_and_mujocos_humanoid():
    assert task_name("HumanoidBulletEnv-v0") == "Humanoid"
    assert task_name("HumanoidFlagrunBulletEnv-v0") == "HumanoidFlagrun"
    grid_results = {name: (load_grid(name), []) for name in ("fig4_humanoid",
                                                              "fig4_humanoid_mujoco")}
    matched = claims.claim_grids(claim("flow > gaussian", env="Humanoid"), grid_results)
    assert [(grid.name, tasks) for grid, tasks, _ in matched] == [
        ("fig4_humanoid", ["HumanoidBulletEnv-v0"]),
        ("fig4_humanoid_mujoco", ["Humanoid-v4"])]
    both = claims.claim_grids(claim("flow > gaussian", env="Humanoid, HumanoidFlagrun"),
                              grid_results)
    assert [(grid.name, tasks) for grid, tasks, _ in both] == [
        ("fig4_humanoid", ["HumanoidBulletEnv-v0", "HumanoidFlagrunBulletEnv-v0"]),
        ("fig4_humanoid_mujoco", ["Humanoid-v4"])]


def test_original_grids_pool_only_with_others_of_their_budget(grid_results):
    """acktr_entropy (--original, 1e5 steps, flow only) never joins original_acktr's 1e6
    runs: no pair of policies is declared at its budget."""
    grid_results = {name: (load_grid(name), []) for name in ("acktr_entropy", "original_acktr")}
    checks = claims.original_checks(claim("flow > gaussian", env="Ant", algorithm="acktr"),
                                    grid_results)
    assert [check.grid for check in checks] == ["original_acktr"]


def test_the_original_view_of_figure_6_and_humanoid_claims_reads_their_original_grids():
    """Claim 7 as the original ran it reads original_kl_reacher's draws (the flow ahead in
    each), never fig6_kl_reacher's or the 1e6-step original grids'; claim 4 reads
    original_humanoid alone."""
    names = ("original_kl_reacher", "fig6_kl_reacher", "original_trpo", "original_humanoid")
    grids = {name: load_grid(name) for name in names}
    score = {"flow": -5.0, "gaussian": -100.0}
    grid_results = {name: (grid, fake_results(grid, lambda m: score[m.policy] + (m.max_kl or 0),
                                              seeds=grid.seeds))
                    for name, grid in grids.items() if name != "original_humanoid"}
    grid_results["original_humanoid"] = (grids["original_humanoid"], [])
    reacher = claim("flow > gaussian", env="Reacher", checked_on=claims.RANDOM_MAX_KL)
    verdict = claims.check_claim(reacher, grid_results, claims.ORIGINAL_VIEW)
    assert [check.grid for check in verdict.checks] == ["original_kl_reacher"]
    assert verdict.checks[0].runs == (30, 30) and verdict.outcome == Outcome.REPRODUCED
    humanoid = claims.check_claim(claim("flow > gaussian", env="Humanoid"), grid_results,
                                  claims.ORIGINAL_VIEW)
    assert [check.grid for check in humanoid.checks] == ["original_humanoid"]
    assert humanoid.outcome == Outcome.INCONCLUSIVE  # declared, no run yet
    del grid_results["original_kl_reacher"]
    untested = claims.check_claim(reacher, grid_results, claims.ORIGINAL_VIEW)
    assert untested.outcome == Outcome.NOT_TESTED
    assert untested.note == "no --original grid runs trpo on Reacher with random max_kl"


def test_substituted_checks_take_the_gaussian_from_the_variant_grid(grid_results):
    """fixed_std's Gaussian (below every fig3 policy) against fig3's flow and GMMs: only the
    pairs with the Gaussian change side; the others are not checked there."""
    fixed = load_grid("fixed_std")
    grid_results = dict(grid_results, fixed_std=(fixed, fake_results(fixed, lambda m: -50.0)))
    checks = claims.substituted_checks(claim("flow > gmm-K5, gaussian"), grid_results,
                                       "fixed_std")
    assert [(check.better, check.worse) for check in checks] == [("flow", "gaussian")]
    assert checks[0].grid == "fig3_trpo / fixed_std" and checks[0].means == (301.0, -50.0)
    assert checks[0].outcome == Outcome.REPRODUCED and len(checks[0].per_task) == 6


def test_the_fixed_std_summary_names_the_tasks_of_a_split_claim(grid_results):
    """Above the flow on Walker2d and Swimmer, below it elsewhere: inconclusive overall, and
    the summary says which tasks went which way."""
    fixed = load_grid("fixed_std")
    high = ("Walker2d-v4", "Swimmer-v4")
    grid_results = dict(grid_results, fixed_std=(fixed, fake_results(
        fixed, lambda m: 1000.0 + m.seed if m.env in high else -50.0 - m.seed)))
    checks = claims.substituted_checks(claim("flow > gaussian"), grid_results, "fixed_std")
    assert page_claims.claim_summary(1, checks) == (
        "claim 1 **inconclusive** (per task: reproduced on Hopper-v4, HalfCheetah-v4, Ant-v4, "
        "Reacher-v4; not reproduced on Walker2d-v4, Swimmer-v4)")
    ordered = claims.substituted_checks(claim("gmm-K2 > gaussian", env="Ant"), grid_results,
                                        "fixed_std")
    assert page_claims.claim_summary(2, ordered) == "claim 2 **reproduced**"


def test_the_tally_counts_each_outcome_of_the_claims(grid_results):
    verdicts = [claims.check_claim(claim(compare, env=env), grid_results)
                for compare, env in [("flow > gmm-K5", "*"), ("gaussian > flow", "Hopper"),
                                     ("flow > gaussian", "Humanoid")]]
    verdicts.append(claims.ClaimVerdict(claim("flow > gaussian"), [], Outcome.NOT_TESTED))
    assert page_claims.tally(verdicts) == ("1 reproduced, 1 not reproduced, 1 inconclusive, "
                                           "1 not tested")


def test_the_views_are_set_side_by_side_for_the_claims_both_decide():
    """Claims decided in both views are grouped by their pair of verdicts, in claim order;
    a claim open in either view is left out."""
    def verdicts(*outcomes):
        return [claims.ClaimVerdict(claim("flow > gaussian"), [], outcome)
                for outcome in outcomes]
    ours = verdicts(Outcome.NOT_REPRODUCED, Outcome.NOT_REPRODUCED, Outcome.INCONCLUSIVE,
                    Outcome.NOT_REPRODUCED, Outcome.REPRODUCED)
    theirs = verdicts(Outcome.REPRODUCED, Outcome.REPRODUCED, Outcome.REPRODUCED,
                      Outcome.NOT_REPRODUCED, Outcome.NOT_TESTED)
    assert page_claims.view_changes(ours, theirs) == (
        " Decided in both views of the table below: claims 1 and 2 not reproduced with the "
        "port's defaults but "
        "reproduced as the original code ran it; claim 4 not reproduced in both.")
    assert page_claims.view_changes(ours[2:3], theirs[2:3]) == ""


def test_the_original_codes_own_grids_are_a_view_of_their_own(grid_results):
    """original_code_acktr (the paper's code: flow and Gaussian ACKTR on Ant-v4) checks the
    ACKTR claim on Ant and nothing else; it joins neither the defaults' view nor the
    --original view, and the page sets its checks out with a summary in words."""
    acktr = load_grid("original_code_acktr")
    grid_results = dict(grid_results, original_code_acktr=(acktr, fake_results(
        acktr, lambda m: (-20.0 if m.policy == "flow" else 2000.0) + m.seed)))
    ant = claim("flow > gaussian", env="Ant", algorithm="acktr")
    own = claims.check_claim(ant, grid_results, claims.ORIGINAL_CODE_VIEW)
    assert [check.grid for check in own.checks] == ["original_code_acktr"]
    assert own.checks[0].runs == (3, 3) and own.outcome == Outcome.NOT_REPRODUCED
    for view in (claims.DEFAULTS_VIEW, claims.ORIGINAL_VIEW):
        assert claims.check_claim(ant, grid_results, view).outcome == Outcome.NOT_TESTED
    hopper = claims.check_claim(claim("flow > gaussian", env="Hopper", algorithm="acktr"),
                                grid_results, claims.ORIGINAL_CODE_VIEW)
    assert hopper.outcome == Outcome.NOT_TESTED and "grid of the original code runs" in hopper.note
    section = page_claims.original_code_section([hopper.reference, ant], grid_results)
    assert "| 2 | original_code_acktr | Ant-v4 | 1e6 | flow vs gaussian | 3 / 3 |" in section
    assert section.endswith("claim 2 **not reproduced**.")
    assert page_claims.original_code_section([hopper.reference], grid_results) == ""
