"""`python -m train demo`: the demo grid on a CPU in a few minutes, with no downloads, under each grouping of
its world, then the report of each.

The grid is experiments/demo.toml: a synthetic world of shapes and textures in ImageNet layout
(`world.py`), curated into fine (12) and coarse (4, by WordNet) label sets with curate's recipes; a tiny
CNN pretrained on each at two sizes with three seeds, scored by k-NN on the fine labels and by a linear
probe on new shape-texture combinations. The world's grouping says which combinations a coarse label
merges; the demo runs the grid once per grouping (`world.GROUPINGS`), in OUTPUT_DIR/<grouping>/ from the file
with its [data] grouping set to that one (kept there as experiment.toml, the file that grid ran). Each
report prints mean ± std over the seeds and draws the figures into OUTPUT_DIR/<grouping>/figures/.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from curate.fileio import atomic_path, make_folder
from train.config import DemoConfig, GridConfig, ReportConfig, check
from train.errors import TrainError
from train.experiment import read_experiment
from train.world import DEFAULT_GROUPING, GROUPINGS

DEMO = Path(__file__).resolve().parents[1] / "experiments" / "demo.toml"
GROUPING_LINE = re.compile(r"^grouping\s*=.*$", re.M)


def run(config: DemoConfig, given: frozenset[str] | None = None) -> dict:
    from train import grid, report
    from train.runs import check_folder

    check(config)
    source = Path(config.experiment or DEMO)
    read_experiment(source)  # every mistake in the file is found before anything is written
    check_folder(config.output_dir)
    files = {grouping: with_grouping(source, grouping) for grouping in GROUPINGS}
    results = {}
    for grouping, text in files.items():
        folder = Path(config.output_dir) / grouping
        make_folder(folder)
        with atomic_path(folder / "experiment.toml") as tmp:
            tmp.write_text(text)
        if not config.quiet:
            print(f"demo: the world's grouping {grouping!r}, in {folder}", file=sys.stderr)
        result = grid.run(GridConfig(file=folder / "experiment.toml", output_dir=folder, quiet=config.quiet))
        figures = report.run(ReportConfig(folder=folder, quiet=config.quiet))["figures"]
        results[grouping] = {**result, "figures": figures}
    return results


def with_grouping(source: Path, grouping: str) -> str:
    """The experiment file `source` with its world's grouping (its one `grouping = ...` line) set to `grouping`."""
    text, found = GROUPING_LINE.subn(f'grouping = "{grouping}"', source.read_text())
    if found != 1:
        raise TrainError(f"{source} must give its world's grouping once, in [data] "
                         f"(grouping = \"{DEFAULT_GROUPING}\"): the demo runs it under each grouping in turn.")
    return text
