"""The one metric: monitor episodes on the env-step axis, binned, and the final-return window,
on synthetic monitor files with known answers."""
import numpy as np
from fake_runs import write_fake_run

from onpolicy_flows.experiments import episodes


def test_streams_are_placed_on_the_total_step_axis(tmp_path):
    streams = [[(1.0, 10), (2.0, 30)], [(5.0, 20)]]
    run_dir = write_fake_run(str(tmp_path / "run"), {}, episodes=streams)
    loaded = episodes.load_episodes(run_dir)
    np.testing.assert_array_equal(loaded.ends, [20, 40, 80])  # cumulative length x 2 streams
    np.testing.assert_array_equal(loaded.returns, [1.0, 5.0, 2.0])
    np.testing.assert_array_equal(loaded.lengths, [10, 20, 30])


def test_bins_average_the_episodes_ending_in_them_and_carry_over_empty_ones():
    run = episodes.Episodes(ends=np.array([10.0, 20.0, 30.0, 65.0, 120.0]),
                            returns=np.array([1.0, 3.0, 5.0, 7.0, 100.0]))
    values = episodes.binned_returns(run, budget=100.0, num_bins=4)  # bins of 25 steps
    np.testing.assert_allclose(values, [2.0, 5.0, 7.0, 7.0])  # the 120-step episode is past it
    np.testing.assert_allclose(episodes.bin_centres(100.0, 4), [12.5, 37.5, 62.5, 87.5])
    late = episodes.Episodes(ends=np.array([60.0]), returns=np.array([4.0]))
    assert np.isnan(episodes.binned_returns(late, 100.0, 4)[:2]).all()


def test_final_return_is_the_mean_over_the_last_five_percent_of_steps():
    ends = np.arange(1, 101) * 10.0  # an episode every 10 steps up to 1000
    run = episodes.Episodes(ends=ends, returns=ends / 10.0)
    # the window (950, 1000] holds the episodes ending at 960 ... 1000: returns 96 ... 100
    assert episodes.final_return(run, budget=1000.0) == 98.0
    assert np.isnan(episodes.final_return(run, budget=1e6))


def test_final_length_is_the_mean_length_of_the_final_window_s_episodes(tmp_path):
    # ten 100-step episodes (ending at 100 ... 1000), then fifty 2-step ones (1002 ... 1100)
    stream = [(1.0, 100)] * 10 + [(-1.0, 2)] * 50
    run = episodes.load_episodes(write_fake_run(str(tmp_path / "run"), {}, episodes=[stream]))
    assert episodes.final_length(run, budget=1100.0) == 2.0  # (1045, 1100]: 28 short ones
    assert episodes.final_length(run, budget=1000.0) == 100.0  # (950, 1000]: one long one
    assert np.isnan(episodes.final_length(episodes.Episodes(run.ends, run.returns), 1100.0))


def test_two_runs_of_different_lengths_share_one_grid():
    short = episodes.Episodes(np.array([100.0, 400.0]), np.array([1.0, 2.0]))
    long = episodes.Episodes(np.linspace(10.0, 1000.0, 50), np.ones(50))
    assert episodes.binned_returns(short, 1000.0).shape == \
        episodes.binned_returns(long, 1000.0).shape == (episodes.NUM_BINS,)
