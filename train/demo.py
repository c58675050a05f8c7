"""`python -m train demo`: the demo grid on a CPU in a few minutes, with no downloads, then its report.

The grid is experiments/demo.toml: a synthetic world of shapes and textures in ImageNet layout
(`world.py`), curated into fine (12) and coarse (4, by WordNet) label sets with curate's recipes; a tiny
CNN pretrained on each at two sizes with three seeds, scored by k-NN on the fine labels and by a linear
probe on new shape-texture combinations. The report prints mean ± std over the seeds and draws the
figures into OUTPUT_DIR/figures/.
"""

from __future__ import annotations

from pathlib import Path

from train.config import DemoConfig, GridConfig, ReportConfig, check

DEMO = Path(__file__).resolve().parents[1] / "experiments" / "demo.toml"


def run(config: DemoConfig, given: frozenset[str] | None = None) -> dict:
    from train import grid, report

    check(config)
    result = grid.run(GridConfig(file=config.experiment or DEMO, output_dir=config.output_dir, quiet=config.quiet))
    figures = report.run(ReportConfig(folder=config.output_dir, quiet=config.quiet))["figures"]
    return {**result, "figures": figures}
