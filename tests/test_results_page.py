"""The results page from synthetic harvested results: completeness, verdicts, variant rows,
final-return table and figures."""
import os

import numpy as np
import pytest
from fake_runs import fast_bootstrap, member_config, write_fake_result, write_fake_run  # noqa: F401

from onpolicy_flows.experiments.grids.grid import load_grid
from onpolicy_flows.experiments.results.harvested import load_member_result
from onpolicy_flows.experiments.results.page import write_results_page

pytestmark = pytest.mark.usefixtures("fast_bootstrap")


@pytest.fixture
def results_root(tmp_path):
    """Hopper-v4 in fig3_trpo (flow ends at 3000 + seed, Gaussian at 1000 + seed) and the
    truncation grid's Hopper flow runs (ending at 2000)."""
    root = str(tmp_path / "results")
    fig3 = load_grid("fig3_trpo")
    for member in fig3.members(policies=["gaussian", "flow"]):
        if member.env == "Hopper-v4":
            base = 3000.0 if member.policy == "flow" else 1000.0
            write_fake_result(root, "fig3_trpo", member, base + member.seed)
    for member in load_grid("truncation").members(policies=["flow"]):
        if member.env == "Hopper-v4":
            write_fake_result(root, "truncation", member, 2000.0)
    return root


def test_page_shows_completeness_verdicts_variants_and_figures(results_root, tmp_path):
    page_path = str(tmp_path / "docs" / "results.md")
    written = write_results_page(results_root, page_path, str(tmp_path / "docs" / "results"))
    page = open(page_path).read()
    assert written[0] == page_path and all(os.path.getsize(path) > 0 for path in written)
    assert "![fig3_trpo](results/fig3_trpo.png)" in page
    # 66 runs missing: none of them measured on its task and class, 2000 s each by default
    assert "| fig3_trpo | 6 / 72 | 66 (36h40m) | 0 |" in page
    # envs_per_rank's 3 Hopper flows at the 1000 s of the flow's runs there (1 ms a step)
    assert "| envs_per_rank | 0 / 3 | 3 (50m00s) | 0 |" in page
    # the original code's 18 TRPO runs: none of its own finished, so the port's rates (no
    # slowdown measured): 6 on Hopper at 1000 s, 12 elsewhere at the default 2000 s
    assert "| original_code | 0 / 18 | 18 (8h20m) | 0 |" in page
    # with original_code_acktr (6 ACKTR runs at 1500 s) and acktr_entropy_original (4 at 150 s)
    assert "and 28 of the original code, about 11h00m" in page
    # final returns: the mean of the last 5 of 100 episodes rising linearly to 3000 + seed,
    # i.e. (3000 + seed) * 97 / 99; Hopper's flow beats the Gaussian in every seed pair
    assert ("| 1 | fig3_trpo | &nbsp;&nbsp;Hopper-v4 alone | 1e6 | flow vs gaussian | 3 / 3 | "
            "2940 / 981 | 1.00 [1.00, 1.00], p = 0.050 | reproduced |") in page
    assert ("| truncation | --no-bootstrap-truncation | Hopper-v4 | flow | 3 / 3 | "
            "1960 / 2940 | 0.00 [0.00, 0.00], p = 0.050 | variant ends lower |") in page
    hopper_flow = next(line for line in page.splitlines()
                       if line.startswith("| Hopper-v4 | flow | 3 | 2940 ["))
    assert hopper_flow.endswith("| 16m40s | 1913 (trpo gaussian, Hopper-v2) |")
    assert "| total_variance |" not in page  # no Figure 1 statistics in this results folder


def test_a_quantile_figure_with_one_policy_still_unfinished(tmp_path):
    """Fig. 6 while only a Gaussian draw has finished: the page and its figure are written."""
    root = str(tmp_path / "results")
    member = load_grid("fig6_kl").members(policies=["gaussian"])[0]
    write_fake_result(root, "fig6_kl", member, 1500.0)
    page_path = str(tmp_path / "docs" / "results.md")
    written = write_results_page(root, page_path, str(tmp_path / "docs" / "results"))
    assert any(path.endswith("fig6_kl.png") for path in written)
    assert "![fig6_kl](results/fig6_kl.png)" in open(page_path).read()


def test_figure_6_sets_the_papers_words_beside_its_verdict(tmp_path):
    """Three draws a policy on Reacher-v4, the flow ahead in each: the grid's section quotes
    the paper and gives the claim's verdict on it."""
    root = str(tmp_path / "results")
    members = load_grid("fig6_kl_reacher").members()
    for policy, final in (("flow", -4.0), ("gaussian", -9.0)):
        for member in [member for member in members if member.policy == policy][:3]:
            write_fake_result(root, "fig6_kl_reacher", member, final)
    page_path = str(tmp_path / "docs" / "results.md")
    write_results_page(root, page_path, str(tmp_path / "docs" / "results"))
    section = open(page_path).read().split("### fig6_kl_reacher")[1].split("###")[0]
    assert "| Reacher-v4 | flow | 3 |" in section
    assert "TRPO, 1e6 steps per run, the paper's budget." in section
    assert "TRPO, 1e6 steps per run; the paper does not state its budget." in \
        open(page_path).read().split("### fig3_trpo")[1]
    assert "TRPO, 2e6 steps per run; the paper ran 1e7 steps." in \
        open(page_path).read().split("### fig4_humanoid")[1]
    assert ('The paper (Tang & Agrawal, Sec. 5.2 and Fig. 6 (30 settings, log10 max_kl in '
            '[-3, -2])): "normalizing flows policy is generally much more robust to such '
            'hyper-parameters, importantly to epsilon." This grid\'s check: **reproduced**, '
            'fig6_kl_reacher: '
            'flow > gaussian, P = 1.00 [1.00, 1.00], p = 0.050, runs 3 vs 3.') in section


def test_a_task_that_contradicts_an_open_claim_is_named_among_the_disagreements(tmp_path):
    """Walker2d's flow below the Gaussian in all 3 seeds: claim 1 stays open over its six
    tasks, but the page names the task where the ordering is reversed."""
    root = str(tmp_path / "results")
    for member in load_grid("fig3_trpo").members(policies=["gaussian", "flow"]):
        if member.env == "Walker2d-v4":
            base = 1000.0 if member.policy == "flow" else 3000.0
            write_fake_result(root, "fig3_trpo", member, base + member.seed)
    page_path = str(tmp_path / "docs" / "results.md")
    write_results_page(root, page_path, str(tmp_path / "docs" / "results"))
    disagreements = open(page_path).read().split(
        "## Where the results disagree with the paper")[1].split("###")[0]
    assert "No claim is contradicted by the runs so far." in disagreements
    assert ("- **flow > gmm-K2, gmm-K5, gaussian** (trpo, Walker2d-v4 alone): fig3_trpo: "
            "flow > gaussian, P = 0.00 [0.00, 0.00], p = 0.050, runs 3 vs 3") in disagreements


def test_trpo_tables_give_final_episode_lengths_and_iterations_without_a_step(tmp_path):
    root = str(tmp_path / "results")
    for member in load_grid("fig3_trpo").members(policies=["gaussian", "flow"]):
        if member.env == "Hopper-v4":
            accepted = [1, 0, 1, 1] if member.policy == "flow" else [1, 1, 1, 1]
            if member.seed == 2 and member.policy == "flow":
                accepted = [0, 0, 1, 1]  # the flow's mean: (25% + 25% + 50%) / 3
            write_fake_run(os.path.join(root, "fig3_trpo", member.name),
                           member_config(member.flags), np.linspace(0.25, 1.0, 4) *
                           member.num_timesteps, [[(100.0, 1000)] * 1000],
                           step_accepted=accepted)
    page_path = str(tmp_path / "results.md")
    write_results_page(root, page_path, str(tmp_path / "figures"))
    lines = open(page_path).read().splitlines()
    assert any("| IQM [95% CI] | final episode length | policy steps skipped | wall-clock "
               "per run |" in line for line in lines)
    row = {policy: next(line for line in lines if line.startswith(f"| Hopper-v4 | {policy} | 3 |"))
           for policy in ("gaussian", "flow")}
    assert "| 1000 | 0% |" in row["gaussian"] and "| 1000 | 33% |" in row["flow"]
    assert "| Walker2d-v4 | flow | 0 | - | - | - |" in "\n".join(lines)


def test_batches_dropped_without_a_row_count_as_skipped_steps(tmp_path):
    """--non-positive-fisher drop-batch: 8 rows (one of them without a step) over 2 streams
    of 20 episodes of 256 steps (512 steps a batch per stream of 512 x 2 envs per rank):
    10 batches collected, 2 dropped, so 3 of 10 brought no step; the same run counting its
    rows alone would say 1 of 8."""
    member = next(iter(load_grid("original_trpo").members(policies=["flow"])))
    config = dict(member_config(member.flags), timesteps_per_batch=1024, envs_per_rank=2)
    episodes = [[(1.0, 256)] * 20] * 2
    for rule, expected in (("drop-batch", 0.3), ("skip-step", 1 / 8)):
        path = write_fake_run(str(tmp_path / rule), dict(config, non_positive_fisher=rule),
                              [member.num_timesteps] * 8, episodes,
                              step_accepted=[1, 1, 0, 1, 1, 1, 1, 1])
        assert load_member_result(path, member).skipped_steps == pytest.approx(expected)


def test_the_original_codes_runs_are_set_beside_the_ports(tmp_path):
    """original_code's Walker2d Gaussian (1000 + seed, a constant logged entropy, 10% more
    env steps than it counted) against the port's --original runs (just above: consistent)
    and the port's defaults (3000 + seed: port higher)."""
    root = str(tmp_path / "results")
    for grid, base in (("fig3_trpo", 3000.0), ("original_trpo", 1000.5)):
        for member in load_grid(grid).members(policies=["gaussian"]):
            if member.env == "Walker2d-v4":
                write_fake_result(root, grid, member, base + member.seed)
    for member in load_grid("original_code").members(policies=["gaussian"]):
        if member.env == "Walker2d-v4":
            returns = np.minimum(np.linspace(0.0, 1100.0, 110), 1000.0) + member.seed
            run_dir = write_fake_run(os.path.join(root, "original_code", member.name),
                                     member_config(member.flags), [member.num_timesteps],
                                     [[(r, 10_000) for r in returns]])
            with open(os.path.join(run_dir, "progress.csv"), "w") as file:
                file.write(f"EpRewMean,TimestepsSoFar,TimeElapsed,entropy\n"
                           f"0.0,{member.num_timesteps},1.0,8.51363\n")
    page_path = str(tmp_path / "docs" / "results.md")
    write_results_page(root, page_path, str(tmp_path / "docs" / "results"))
    page = open(page_path).read()
    parity = page.split("## Parity with the original code")[1].split("\n## ")[0]
    consistent, higher = (next(line for line in parity.splitlines()
                               if line.startswith(f"| trpo | Walker2d-v4 | gaussian | {grid} |"))
                          for grid in ("original_trpo", "fig3_trpo"))
    assert "| 3 / 3 |" in consistent and consistent.endswith("| consistent |")
    assert higher.endswith("| port higher |") and "p = 0.050" in higher
    assert ("(grid original_code, Walker2d-v4) log, in every one of their 3 iterations, the "
            "entropy of a Gaussian with std 1 in every action dimension, (d/2)(1 + log 2 pi), "
            "to within 1.2e-06 nats") in page
    assert "these runs took 1,100,000 env steps on average" in page


def test_entropy_per_iteration_of_the_original_beside_the_ports_on_its_scale(tmp_path):
    """Both log 3 iterations on Ant-v4 (action dimension 8): the port's flow entropy is shown
    (8/2) log 2 pi lower, on the original's scale; the figure is written."""
    root = str(tmp_path / "results")
    for grid, entropies in (("acktr_entropy_original", (4.0, 5.0, 6.0)),
                            ("acktr_entropy", (11.35, 12.35, 13.35))):
        for member in load_grid(grid).members(seeds=[0]):
            if member.env != "Ant-v4":
                continue
            run_dir = write_fake_result(root, grid, member, 100.0)
            with open(os.path.join(run_dir, "progress.csv"), "w") as file:
                file.write("EpRewMean,TimestepsSoFar,TimeElapsed,entropy\n" + "".join(
                    f"0.0,{member.num_timesteps},1.0,{value}\n" for value in entropies))
    page_path = str(tmp_path / "docs" / "results.md")
    written = write_results_page(root, page_path, str(tmp_path / "docs" / "results"))
    page = open(page_path).read()
    assert any(path.endswith("entropy_per_iteration.png") for path in written)
    section = page.split("### Entropy per iteration")[1].split("\n## ")[0]
    shift = 4 * np.log(2 * np.pi)
    assert "| Ant-v4 | flow | acktr_entropy_original | 1 | 4.00 | - | - | - | 6.00 (2) |" \
        in section
    parity = page.split("## Parity with the original code")[1].split("\n### ")[0]
    assert parity.count("| acktr | Ant-v4 | flow | acktr_entropy |") == 1  # --original alone
    assert (f"| Ant-v4 | flow | acktr_entropy | 1 | {11.35 - shift:.2f} | - | - | - | "
            f"{13.35 - shift:.2f} (2) |") in section
