"""Markdown tables of final returns, with the published references beside ours."""
from typing import Sequence

from onpolicy_flows.experiments.figures.curves import FinalReturn
from onpolicy_flows.experiments.reference import ReferenceResult

HEADER = ("| algorithm | env | policy | timesteps | return (mean +- std) | runs | source |\n"
          "|---|---|---|---:|---:|---:|---|")


def final_returns_table(finals: Sequence[FinalReturn],
                        references: Sequence[ReferenceResult] = ()) -> str:
    """One row per (algorithm, env, policy) group, then one per reference number; keys of
    `finals` are curves.GroupKey."""
    rows = [f"| {final.key.algorithm} | {final.key.env} | {final.key.policy} | "
            f"{final.timesteps:.0f} | {format_mean_std(final.mean, final.std)} | "
            f"{final.num_runs} | ours |" for final in finals]
    rows += [f"| {reference.algorithm} | {reference.env} | {reference.policy} | "
             f"{reference.timesteps} | {format_mean_std(reference.value, reference.std)} | 1 | "
             f"{reference.source}{std_over_text(reference.std_over)} |"
             for reference in references if reference.is_number]
    return "\n".join([HEADER, *rows])


def claims_list(references: Sequence[ReferenceResult]) -> str:
    """The qualitative claims among `references`, one markdown bullet each."""
    return "\n".join(
        f"- {reference.algorithm} on {reference.env}{budget_text(reference.timesteps)}: "
        f"**{reference.claim}**: \"{reference.quote}\" ({reference.source})"
        for reference in references if reference.claim is not None)


def std_over_text(std_over) -> str:
    return f" (std over {std_over})" if std_over else ""


def budget_text(timesteps) -> str:
    return f" at {timesteps:.0e} steps" if timesteps else ""


def format_mean_std(mean: float, std) -> str:
    """'350.0 +- 50.0', or '350.0' when the std is unknown (None)."""
    return f"{mean:.1f}" if std is None else f"{mean:.1f} +- {std:.1f}"
