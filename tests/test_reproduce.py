"""run.reproduce's decisions on fake run directories (no training): done, claimed, harvest,
busy, resume, restart, start; the commands; the runner harvesting what finished and reporting
what failed; two runners sharing a grid; a signal to the runner stopping its trainers."""
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import REPO_ROOT
from fake_runs import member_config, write_fake_run

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.experiments.grids import estimates, launching, reproduce
from onpolicy_flows.experiments.grids.grid import load_grid
from onpolicy_flows.experiments.results.harvested import load_grid_results

Action = reproduce.Action
HOUR_AGO = time.time() - 3600


@pytest.fixture
def setting(tmp_path):
    grid = load_grid("fisher_score")  # flow members on Hopper-v4 and Walker2d-v4
    paths = reproduce.GridPaths(grid.name, str(tmp_path / "logs"), str(tmp_path / "results"))
    return grid, paths


def fake_trainers(monkeypatch, train):
    """Every GridRunner trains with `train(command, log_path) -> exit status` instead."""
    monkeypatch.setattr(launching.Trainers, "run_logged",
                        lambda self, command, log_path: train(command, log_path))


def live_run(paths, member, steps, checkpoint=False, age=3600.0):
    run_dir = os.path.join(paths.member_dir(member), f"{member.name}-20260101-000000")
    write_fake_run(run_dir, member_config(member.flags), steps, [[(1.0, 10)]],
                   checkpoint=checkpoint)
    for name in os.listdir(run_dir):
        os.utime(os.path.join(run_dir, name), (time.time() - age,) * 2)
    return run_dir


def test_each_state_of_a_member_gets_its_action(setting):
    grid, paths = setting
    budget = grid.num_timesteps
    members = grid.all_members()
    assert reproduce.plan_member(paths, members[0]).action == Action.START
    live_run(paths, members[0], [1000, budget])
    assert reproduce.plan_member(paths, members[0]).action == Action.HARVEST
    live_run(paths, members[1], [1000], checkpoint=True)
    resume = reproduce.plan_member(paths, members[1])
    assert (resume.action, resume.timesteps_done, resume.steps_left) == \
        (Action.RESUME, 1000, budget - 1000)
    stale = live_run(paths, members[2], [1000])
    restart = reproduce.plan_member(paths, members[2])
    assert (restart.action, restart.run_dir, restart.steps_left) == \
        (Action.RESTART, stale, budget)
    live_run(paths, members[2], [1000], age=5.0)  # written just now: someone is training it
    assert reproduce.plan_member(paths, members[2]).action == Action.BUSY


def test_a_reused_member_is_left_to_the_grid_that_trains_it_and_read_from_there(tmp_path):
    """fig7's default flow: never trained by fig7 (its plan says which grid trains it), done
    once fig3_trpo has harvested it, and its result read from there."""
    grid = load_grid("fig7_flow_ablation")
    paths = reproduce.GridPaths(grid.name, str(tmp_path / "logs"), str(tmp_path / "results"))
    member = next(member for member in grid.members() if member.reused_from)
    plan = reproduce.plan_member(paths, member)
    assert plan.action == Action.REUSED and plan.action not in reproduce.TO_RUN
    assert (f"reused   {member.name}  (grid fig3_trpo trains it and has not harvested it "
            "yet: `python -m run.reproduce fig3_trpo`)") in reproduce.plan_report([plan], {}, 1)
    source = reproduce.GridPaths("fig3_trpo", paths.logs_root, paths.results_root)
    write_fake_run(source.result(member), member_config(member.flags),
                   [member.num_timesteps], [[(1.0, 10)] * 5])
    assert paths.result(member) == source.result(member)
    assert reproduce.plan_member(paths, member).action == Action.DONE
    read = load_grid_results(paths.results_root, grid)
    assert [result.member.name for result in read] == [member.name]
    assert not os.path.exists(os.path.join(paths.results_root, grid.name))  # nothing copied


def test_a_harvested_member_is_done_and_a_longer_budget_reopens_it(setting):
    grid, paths = setting
    member = grid.members()[0]
    run_dir = live_run(paths, member, [member.num_timesteps], checkpoint=True)
    reproduce.harvest_finished(paths, [reproduce.plan_member(paths, member)], lambda _: None)
    assert sorted(os.listdir(paths.result(member))) == [
        "config.json", "monitor.0.csv", "progress.csv"]
    assert reproduce.plan_member(paths, member).action == Action.DONE
    longer = member.__class__(member.name, member.algorithm, member.policy,
                              dict(member.flags, num_timesteps=2 * member.num_timesteps))
    plan = reproduce.plan_member(paths, longer)
    assert (plan.action, plan.run_dir) == (Action.RESUME, run_dir)


def test_several_run_directories_in_one_member_are_refused(setting):
    grid, paths = setting
    member = grid.members()[0]
    live_run(paths, member, [10])
    write_fake_run(os.path.join(paths.member_dir(member), "other"), {}, [10])
    with pytest.raises(UserError, match="2 run directories"):
        reproduce.plan_member(paths, member)


def test_commands_start_in_the_member_directory_or_resume_the_run(setting):
    grid, paths = setting
    member = grid.members()[0]
    start = reproduce.member_command(paths, reproduce.MemberPlan(member, Action.START, None, 0),
                                     ["srun", "-n", "1"])
    assert start[:3] == ["srun", "-n", "1"] and start[4:6] == ["-m", "run.trpo"]
    assert start[-2:] == ["--logdir", os.path.abspath(paths.member_dir(member))]
    assert start[start.index("--fisher") + 1] == "score"
    resume = reproduce.member_command(
        paths, reproduce.MemberPlan(member, Action.RESUME, "logs/x/run", 5), [])
    assert resume[-4:] == ["--resume", os.path.abspath("logs/x/run"), "--num-timesteps",
                           str(member.num_timesteps)]


def test_estimates_come_from_finished_results_else_the_class_else_the_default(setting,
                                                                            tmp_path):
    grid, paths = setting
    member = grid.members()[0]
    write_fake_run(str(tmp_path / "results" / "other" / "m"), member_config(member.flags),
                   [500_000, 1_000_000], seconds_per_step=1e-3)
    rates = estimates.seconds_per_step(paths.results_root)
    plan = reproduce.MemberPlan(member, Action.RESUME, "x", 250_000)
    assert plan.seconds_left(rates) == pytest.approx(750.0)
    default = estimates.DEFAULT_SECONDS_PER_MILLION_STEPS["trpo"]
    assert plan.seconds_left({}) == pytest.approx(0.75 * default)
    report = reproduce.plan_report([plan], rates, parallel=2)
    assert "1 resume" in report and "12m30s of training, about 6m15s at --parallel 2" in report
    wider = next(member for member in load_grid("fig7_flow_ablation").members()
                 if member.policy == "flow-l7")
    class_rates = {("trpo", wider.env, "flow"): 1e-3, ("trpo", wider.env, "flow-K2"): 2e-3}
    assert estimates.estimated_seconds(wider, 1e6, class_rates) == pytest.approx(1500.0)
    original = dict(member_config(member.flags), code="original")  # other code, not timed
    write_fake_run(str(tmp_path / "results" / "original" / "m"), original,
                   [1_000_000], seconds_per_step=9e-3)
    assert estimates.seconds_per_step(paths.results_root) == rates


def test_the_original_codes_rates_are_its_own_else_the_ports_times_its_slowdown(setting,
                                                                              tmp_path):
    """The port's TRPO at 1 ms a step on one task and 2 ms on another, the original code's at
    3 ms on the first: the original's rate there, and three times the port's on the other.
    The port's ACKTR at 1 ms with the original's at 5 ms on another task: ACKTR's own
    slowdown, 5, where the original's ACKTR has not run."""
    grid, paths = setting
    first, second = grid.members()[0], next(member for member in grid.members()
                                            if member.env != grid.members()[0].env)
    for name, member, rate in (("a", first, 1e-3), ("b", second, 2e-3)):
        write_fake_run(str(tmp_path / "results" / "port" / name), member_config(member.flags),
                       [1_000_000], seconds_per_step=rate)
    write_fake_run(str(tmp_path / "results" / "original" / "a"),
                   dict(member_config(first.flags), code="original"), [1_000_000],
                   seconds_per_step=3e-3)
    rates = estimates.original_code_rates(*estimates.measured_rates(paths.results_root))
    assert rates[(first.algorithm, first.env, first.policy)] == pytest.approx(3e-3)
    assert rates[(second.algorithm, second.env, second.policy)] == pytest.approx(6e-3)
    assert estimates.measured_rates(paths.results_root)[1] == {
        (first.algorithm, first.env, first.policy): pytest.approx(3e-3)}
    for name, flags, code, rate in (("c", second.flags, None, 1e-3),
                                    ("d", dict(first.flags, env="Ant-v4"), None, 1e-3),
                                    ("d", dict(first.flags, env="Ant-v4"), "original", 5e-3)):
        config = dict(member_config(flags, "acktr"), **({"code": code} if code else {}))
        write_fake_run(str(tmp_path / "results" / (code or "port") / f"acktr-{name}"), config,
                       [1_000_000], seconds_per_step=rate)
    rates = estimates.original_code_rates(*estimates.measured_rates(paths.results_root))
    assert rates[("acktr", second.env, second.policy)] == pytest.approx(5e-3)
    assert rates[(second.algorithm, second.env, second.policy)] == pytest.approx(6e-3)


def test_runner_harvests_finished_members_moves_stale_runs_and_reports_failures(
        setting, monkeypatch):
    grid, paths = setting
    good, bad, stale_member = grid.members()[:3]
    stale = live_run(paths, stale_member, [10])
    commands = []

    def fake_trainer(command, log_path):
        """Writes a finished run for `good` and the restarted member, fails for `bad`."""
        commands.append(command)
        member = next(m for m in (good, bad, stale_member)
                      if command[-1] == os.path.abspath(paths.member_dir(m)))
        if member is bad:
            return 3
        live_run(paths, member, [member.num_timesteps])
        return 0

    fake_trainers(monkeypatch, fake_trainer)
    plans = reproduce.plan_grid(paths, [good, bad, stale_member])
    assert [plan.action for plan in plans] == [Action.START, Action.START, Action.RESTART]
    lines = []
    failed = reproduce.GridRunner(paths, parallel=2, report=lines.append).run(plans)
    assert failed == [bad.name] and len(commands) == 3
    assert any(f"FAILED {bad.name} (exit status 3" in line and paths.log_file(bad) in line
               for line in lines)
    assert os.path.isdir(os.path.join(paths.abandoned_dir(stale_member),
                                      os.path.basename(stale)))
    assert [plan.action for plan in reproduce.plan_grid(paths, [good, bad, stale_member])] == \
        [Action.DONE, Action.START, Action.DONE]


def test_the_runner_reports_the_steps_of_a_member_in_training(setting, monkeypatch):
    """A member resumed at 1,000 steps logs 251,000 before it finishes: the progress lines
    give its steps out of the budget and, at the pace since its start, the time left."""
    grid, paths = setting
    member = grid.members()[0]
    live_run(paths, member, [1000], checkpoint=True)
    lines = []

    def fake_trainer(command, log_path):
        run_dir = reproduce.run_dirs_in(paths.member_dir(member))[0]
        write_fake_run(run_dir, member_config(member.flags), [1000, 251_000])
        time.sleep(0.5)
        live_run(paths, member, [1000, member.num_timesteps])
        return 0

    fake_trainers(monkeypatch, fake_trainer)
    plans = reproduce.plan_grid(paths, [member])
    assert plans[0].action == Action.RESUME
    runner = reproduce.GridRunner(paths, report=lines.append, progress_seconds=0.1)
    assert runner.run(plans) == [] and runner.training == {}
    progress = [line for line in lines if line.startswith(f"  {member.name}: ")]
    assert progress and all(f"of {member.num_timesteps:,} steps" in line for line in progress)
    assert any("251,000 of" in line and "(25%)" in line and "left at its pace" in line
               for line in progress)


def test_frozen_grids_are_refused():
    reproduce.refuse_frozen(load_grid("fig3_trpo"))
    with pytest.raises(UserError, match="frozen"):
        reproduce.refuse_frozen(load_grid("acktr_kfac_before"))


def test_a_member_another_process_claims_is_left_alone_until_its_claim_ends(setting):
    """The claim is an OS lock: held by a live process, gone with it."""
    grid, paths = setting
    member = grid.members()[0]
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from onpolicy_flows.experiments.grids.reproduce import claim\n"
         "with claim(sys.argv[1]) as held:\n"
         "    print(held, flush=True); time.sleep(60)", paths.member_dir(member)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "True"
        plan = reproduce.plan_member(paths, member)
        assert plan.action == Action.CLAIMED
        assert "claimed" in reproduce.plan_report([plan], {}, parallel=1)
        with reproduce.claim(paths.member_dir(member)) as held:
            assert not held
    finally:
        holder.kill()
        holder.wait()
    assert reproduce.plan_member(paths, member).action == Action.START


def test_two_runners_over_one_grid_train_each_member_once(setting, monkeypatch):
    """Both plan every member as "start"; each member is trained by whichever claims it
    first, and the other, finding it finished when it gets its claim, harvests nothing
    twice and trains nothing twice."""
    grid, paths = setting
    members = grid.members()[:4]
    trained = []
    lock = threading.Lock()

    def fake_trainer(command, log_path):
        member = next(m for m in members if command[-1] == os.path.abspath(paths.member_dir(m)))
        with lock:
            trained.append(member.name)
        time.sleep(0.2)
        live_run(paths, member, [member.num_timesteps])
        return 0

    fake_trainers(monkeypatch, fake_trainer)
    plans = reproduce.plan_grid(paths, members)
    runners = [reproduce.GridRunner(paths, parallel=1, report=lambda _: None)
               for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        failed = list(pool.map(lambda runner: runner.run(plans), runners))
    assert failed == [[], []]
    assert sorted(trained) == sorted(member.name for member in members)
    assert [plan.action for plan in reproduce.plan_grid(paths, members)] == [Action.DONE] * 4


def test_a_signal_to_the_runner_stops_its_trainer_and_starts_no_more(setting, tmp_path):
    """SIGTERM to the runner's process (as `kill` sends it) reaches the trainer, which runs in
    a session of its own; the next member never starts; the exit status says which signal."""
    grid, paths = setting
    first, second = grid.members()[:2]
    trainer = ("import signal, sys, time\n"
               "def stop(number, frame):\n"
               "    print('stopped by', number, flush=True)\n"
               "    sys.exit(0)\n"
               "signal.signal(signal.SIGTERM, stop)\n"
               "print('training', flush=True)\n"
               "time.sleep(60)\n")
    script = tmp_path / "runner.py"
    script.write_text(
        "import sys\n"
        "from onpolicy_flows.experiments.grids import reproduce\n"
        "from onpolicy_flows.experiments.grids.grid import load_grid\n"
        f"grid = load_grid({grid.name!r})\n"
        f"paths = reproduce.GridPaths(grid.name, {paths.logs_root!r}, {paths.results_root!r})\n"
        "plans = reproduce.plan_grid(paths, grid.members()[:2])\n"
        f"trainer = [sys.executable, '-c', {trainer!r}]\n"
        "runner = reproduce.GridRunner(paths, command=lambda paths, plan, launcher: trainer)\n"
        "runner.run_to_exit(plans)\n")
    runner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        while not (os.path.exists(paths.log_file(first))
                   and "training" in open(paths.log_file(first)).read()):
            assert time.time() < deadline and runner.poll() is None, runner.stdout.read()
            time.sleep(0.1)
        runner.send_signal(signal.SIGTERM)
        output, _ = runner.communicate(timeout=60)
    finally:
        runner.kill()
    assert runner.returncode == 128 + signal.SIGTERM, output
    assert "stopped by 15" in open(paths.log_file(first)).read()
    assert f"{second.name}: not started, a stop was requested" in output
    assert not os.path.exists(paths.log_file(second))
    assert "run the same command again" in output


def test_run_reproduce_starts_without_tensorflow(tmp_path):
    """Planning and launching need no TensorFlow: a dry run, with interpreter options before
    its -m, must end without having imported it (seconds of start-up for every command).
    A sitecustomize module reports what the process imported as it exits."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import atexit, sys\n"
        "atexit.register(lambda: print('tensorflow imported:', 'tensorflow' in sys.modules))\n")
    done = subprocess.run(
        [sys.executable, "-u", "-m", "run.reproduce", "fisher_score", "--dry-run",
         "--logs-root", str(tmp_path / "logs"), "--results-root", str(tmp_path / "results")],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(hook), REPO_ROOT, os.environ.get("PYTHONPATH", "")])))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trpo-Hopper-v4-flow-seed0" in done.stdout
    assert done.stdout.rstrip().endswith("tensorflow imported: False"), done.stdout[-500:]


def test_a_dry_run_of_figure_6s_first_draws_lists_both_policies_of_each(tmp_path):
    """--draws 2 reaches the grid: two draws, each with the Gaussian and the flow; a grid
    without draws is refused in one line."""
    command = [sys.executable, "-m", "run.reproduce", "--logs-root", str(tmp_path / "logs"),
               "--results-root", str(tmp_path / "results"), "--dry-run", "--draws", "2"]
    done = subprocess.run(command + ["fig6_kl_reacher"], capture_output=True, text=True,
                          timeout=300, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "4 members: 4 start" in done.stdout
    first_two_draws = [member.name for member in load_grid("fig6_kl_reacher").members()[:4]]
    assert all(f"start    {name}" in done.stdout for name in first_two_draws)
    refused = subprocess.run(command + ["fig3_trpo"], capture_output=True, text=True,
                             timeout=300, cwd=REPO_ROOT)
    assert refused.returncode != 0
    assert refused.stderr.strip() == "error: grid fig3_trpo has no max_kl draws to choose from"
