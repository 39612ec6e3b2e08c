"""Print the final stage of a tuned study: each variant at the learning rate its tuning stage chose.

    python train.py -m experiment=ablation_autoencoder protocol=tune      # the tuning stage (val split)
    python scripts/final_stage.py logs/multirun/<that sweep> --metric val/psnr
    # prints: python train.py -m experiment=ablation_autoencoder protocol=final norm=batch ... protocol.lr=0.002 && ...

The choice per variant (mean over the tuning seeds; ties to the smaller learning rate) is printed as
a table on stderr, with a warning where the best learning rate is at the edge of the grid and the tuning
runs that extend the grid one step beyond it. The
protocol: docs/ablations-protocol.md.
"""

from __future__ import annotations

import argparse
import sys

from stylenorm.protocol import best_lr
from stylenorm.protocol.stages import extension_commands, final_stage_command, tuning_runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="the tuning sweep's folder (Hydra's multirun dir) or a folder above it")
    parser.add_argument("--metric", default="val/psnr", help="the metric tuned on (default val/psnr)")
    parser.add_argument("--lower-is-better", action="store_true", help="for losses, e.g. --metric val/total")
    parser.add_argument("--last-k", type=int, default=3, help="score = mean of the last k validations (3)")
    parser.add_argument(
        "--drop", action="append", default=[], metavar="KEY",
        help="leave KEY's override out of the final stage, e.g. data.batch_size when tuning ran at one batch size",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        runs = tuning_runs(args.folder, args.metric, args.last_k)
        # "incomplete" is a run with no result.json: still training, or killed without a word (SIGKILL, power).
        # Its partial score would mark its rate as tried and worse, and hide an edge from the extension step.
        left_out = runs["status"].isin(["interrupted", "crashed", "skipped", "incomplete"])
        best = best_lr(runs[~left_out], higher_is_better=not args.lower_is_better)
    except (FileNotFoundError, ValueError) as error:
        print(f"final_stage: {error}", file=sys.stderr)
        return 2
    if left_out.any():  # an unfinished run's score is not comparable; a skipped one is counted where it ran
        print(
            f"note: {int(left_out.sum())} run(s) left out (interrupted, crashed, skipped or incomplete):",
            file=sys.stderr,
        )
        print(runs.loc[left_out, ["run", "status"]].to_string(index=False), file=sys.stderr)
    print(best.drop(columns=["tried"]).to_string(index=False), file=sys.stderr)
    for row in best[best["at_edge"]].itertuples(index=False):
        print(
            f"warning: {row.variant or '(one variant)'}: best lr {row.lr:g} is at the edge of {row.tried}",
            file=sys.stderr,
        )
    if extend := extension_commands(best, runs[~left_out], args.folder):
        print("to try one step beyond each edge (then run this script again):", file=sys.stderr)
        print("\n".join(extend), file=sys.stderr)
    print(final_stage_command(best, runs, args.drop))
    return 0


if __name__ == "__main__":
    sys.exit(main())
