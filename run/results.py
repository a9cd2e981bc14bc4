"""Writes docs/results.md and its figures (docs/results/*.png) from results/ alone: learning
curves per task with bootstrap bands and the published numbers, final returns, the verdict on
each of the paper's claims, and what is still missing.

  python -m run.results
  python -m run.results --results-root results --page docs/results.md --figures docs/results"""
import argparse

from onpolicy_flows.experiments.grids.harvest import size_warning
from onpolicy_flows.experiments.results.page import write_results_page
from onpolicy_flows.runs.cli import add_verbose_flag, main_guard


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results-root", default="results", help="the harvested runs")
    parser.add_argument("--page", default="docs/results.md", help="the page to write")
    parser.add_argument("--figures", default="docs/results", help="where its PNGs go")
    add_verbose_flag(parser)
    args = parser.parse_args()
    for path in write_results_page(args.results_root, args.page, args.figures):
        print(f"wrote {path}")
    warning = size_warning(args.results_root)
    if warning:
        print(warning)


if __name__ == "__main__":
    main_guard(main)
