"""Harvest: the right files copied, large CSVs xz-compressed and read back unchanged (and the
gzipped ones of earlier harvests too), progress numbers to 9 significant digits, and the size
of the repository's results folder."""
import gzip
import lzma
import os

import numpy as np
from fake_runs import write_fake_run

from onpolicy_flows.experiments import compressed, episodes
from onpolicy_flows.experiments.grids import harvest
from onpolicy_flows.experiments.runs import read_progress, timesteps_done

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fake_finished_run(tmp_path, episodes_per_stream=100):
    config = dict(env="Hopper-v4", seed=0, num_timesteps=3000, policy=dict(policy="flow"))
    streams = [[(float(i), 10) for i in range(episodes_per_stream)]] * 2
    return write_fake_run(str(tmp_path / "live" / "run"), config, [1000, 2000, 3000], streams,
                          checkpoint=True)


def test_harvest_copies_config_progress_and_monitors_only(tmp_path):
    run_dir = fake_finished_run(tmp_path)
    destination = str(tmp_path / "results" / "grid" / "member")
    written = harvest.harvest_run(run_dir, destination)
    assert sorted(os.path.basename(path) for path in written) == [
        "config.json", "monitor.0.csv", "monitor.1.csv", "progress.csv"]
    assert harvest.is_harvested(destination, 3000)
    assert not harvest.is_harvested(destination, 4000)
    assert not [name for name in os.listdir(tmp_path / "results" / "grid")
                if name.startswith(".harvest")]


def test_large_csvs_are_compressed_and_read_back_transparently(tmp_path):
    run_dir = fake_finished_run(tmp_path, episodes_per_stream=20000)
    assert os.path.getsize(os.path.join(run_dir, "monitor.0.csv")) > \
        compressed.COMPRESS_ABOVE_BYTES
    destination = str(tmp_path / "member")
    harvest.harvest_run(run_dir, destination)
    assert sorted(os.listdir(destination)) == [
        "config.json", "monitor.0.csv.xz", "monitor.1.csv.xz", "progress.csv"]
    with lzma.open(os.path.join(destination, "monitor.0.csv.xz"), "rt") as packed, \
            open(os.path.join(run_dir, "monitor.0.csv")) as plain:
        assert packed.read() == plain.read()
    original, harvested = episodes.load_episodes(run_dir), episodes.load_episodes(destination)
    np.testing.assert_array_equal(original.ends, harvested.ends)
    np.testing.assert_array_equal(original.returns, harvested.returns)
    harvest.harvest_run(run_dir, destination)  # a second harvest replaces the first
    assert len(os.listdir(destination)) == 4


def test_compressed_progress_reads_like_the_plain_one_in_either_form(tmp_path):
    run_dir = fake_finished_run(tmp_path)
    packed = compressed.store(os.path.join(run_dir, "progress.csv"), str(tmp_path), 0)
    assert packed.endswith("progress.csv.xz")
    for suffix, data in ((".xz", open(packed, "rb").read()),
                         (".gz", gzip.compress(open(os.path.join(run_dir, "progress.csv"),
                                                    "rb").read()))):
        folder = tmp_path / f"packed{suffix}"
        os.makedirs(folder)
        (folder / f"progress.csv{suffix}").write_bytes(data)
        assert timesteps_done(str(folder)) == 3000
        assert read_progress(str(folder)).keys() == read_progress(run_dir).keys()
    assert compressed.plain_name(packed) == "progress.csv"


def test_progress_numbers_keep_nine_significant_digits_which_float32_survives():
    """float32 values written with 17 digits come back bit for bit from 9; text cells, empty
    cells and the header stay as they were."""
    values = np.random.default_rng(0).normal(size=200).astype(np.float32) * 1e3
    text = "entropy,name,EpRewMean\n" + "".join(
        f"{float(value)!r},abc,\n" for value in values)
    rounded = harvest.with_float_digits(text)
    lines = rounded.splitlines()
    assert lines[0] == "entropy,name,EpRewMean" and lines[1].endswith(",abc,")
    back = np.array([float(line.split(",")[0]) for line in lines[1:]], dtype=np.float32)
    np.testing.assert_array_equal(back, values)
    assert len(rounded) < len(text)
    assert harvest.with_float_digits("a,b\n1024.0,0.1234567891234\n") == \
        "a,b\n1024,0.123456789\n"


def test_size_warning_past_the_limit(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"x" * 2000)
    assert harvest.size_warning(str(tmp_path), limit=10_000) is None
    assert "MB" in harvest.size_warning(str(tmp_path), limit=1000)


def test_the_repository_results_folder_stays_under_50_mb():
    assert harvest.size_warning(os.path.join(REPO_ROOT, "results")) is None
