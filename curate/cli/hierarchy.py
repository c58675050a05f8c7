"""`curate levels`: nested label sets, coarse to fine, as one level manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from curate.cli.common import QUIET_OPTION, App, check_output, say
from curate.cli.output import JSON_OPTION, print_rows
from curate.labels.classlists import BUILTIN_LISTS, DEFAULT_BASE
from curate.wording import plural

app = App()


@app.command()
def levels(
    specs: Optional[list[str]] = typer.Argument(None, metavar="[SPEC]...", help="The levels, coarse to fine, each a label set: a preset (down-up-9, coarse-127, in1k, ...), identity, a recipe's command line in quotes (\"coarsen --depth 3\") or a label manifest (.parquet)."),
    depths: Optional[str] = typer.Option(None, "--depths", help="Bottom-up cuts at these depths as the first levels: 3..15 (every depth from 3 to 15) or 3,6,9."),
    base: str = typer.Option(DEFAULT_BASE, "--base", help=f"The classes of recipes without their own --base: {', '.join(BUILTIN_LISTS)}, a text file of wnids or a label manifest."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the level manifest here (Parquet); without it, list the levels."),
    quiet: bool = QUIET_OPTION,
    as_json: bool = JSON_OPTION,
):
    """Label every class at each level of nested label sets, coarse to fine, in one file: a column of labels per
    level and the parent of each label at the level above, for training one head per level (python -m train
    pretrain --hierarchy) and for hierarchical evaluation (mistake severity).

    Every level must label the same classes, and the levels must nest: the classes of one label lie under one
    label of the level before. A level that does not is named with two of its classes.

    Examples:
    $ curate levels down-up-9 coarse-127 in1k -o levels-9-127-1000.parquet
    $ curate levels --depths 3..15   # the 13 bottom-up cuts, 9 to 918 labels
    $ curate levels "coarsen --depth 3" "coarsen --depth 6" identity
    """
    from curate.labels.classlists import load_class_list
    from curate.labels.levels import level_rows, levels_named, write_levels
    from curate.wordnet.snapshot import load_hierarchy

    check_output(output, base, *(spec for spec in specs or () if spec.endswith(".parquet")))
    made = levels_named(list(specs or ()), load_hierarchy(), load_class_list(base), depths)
    rows = level_rows(made)
    if output is None:
        print_rows(rows, as_json=as_json, title=f"{plural(len(rows), 'level')} over {plural(len(made.classes), 'class')}")
        return
    digest = write_levels(made, output)
    typer.echo(str(output))
    say(f"{plural(len(rows), 'level')} over {plural(len(made.classes), 'class')} ({' / '.join(str(r.labels) for r in rows)} labels), "
        f"{digest[:19]}…", quiet)
