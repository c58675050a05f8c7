"""`curate find`, `path`, `tree`: explore the WordNet 3.0 noun hierarchy, and which ImageNet classes lie where."""

from __future__ import annotations

from typing import Optional

import typer

from curate.cli.common import App
from curate.cli.labels import TREE_OPTION, TreeRule
from curate.cli.output import JSON_OPTION, print_rows

app = App()


@app.command()
def find(
    words: list[str] = typer.Argument(..., help="Words a lemma (or else the gloss) must hold, e.g. crane."),
    as_json: bool = JSON_OPTION,
):
    """Find synsets by lemma or gloss: wnid, name, depth, whether ILSVRC-2012 and ImageNet-22k classes.

    Synsets with every word in a lemma come first, then those with every word in their gloss.

    Example:
    $ curate find whooping crane
    """
    from curate.explore import find as find_synsets
    from curate.wordnet.snapshot import load_definitions, load_hierarchy

    query = " ".join(words)
    rows = find_synsets(load_hierarchy().tree(), load_definitions(), query)
    print_rows(rows, as_json=as_json, title=f"Synsets for {query!r}")


@app.command()
def path(
    wnid: str = typer.Argument(..., help="A WordNet 3.0 noun id, e.g. n02084071 (dog)."),
    tree: TreeRule = TREE_OPTION,
    as_json: bool = JSON_OPTION,
):
    """Print a synset's path from the root along the tree rule, then every one of its hypernym paths.

    Example:
    $ curate path n02084071
    """
    from curate.explore import paths
    from curate.wordnet.snapshot import load_hierarchy

    answer = paths(load_hierarchy().tree(tree.value), wnid)
    print_rows(answer.rows(), answer, as_json=as_json, title=f"Paths to {answer.wnid} {answer.name}")


@app.command("tree")
def tree_command(
    wnid: str = typer.Argument(..., help="The synset at the top, e.g. n02084071 (dog)."),
    depth: Optional[int] = typer.Option(None, "--depth", "-d", min=0, help="Levels below the synset to show (all without)."),
    tree: TreeRule = TREE_OPTION,
    as_json: bool = JSON_OPTION,
):
    """Print the subtree under a synset, with how many ILSVRC-2012 and ImageNet-22k classes lie under each node.

    A node's counts include itself and everything under it along the tree rule.

    Example:
    $ curate tree n02084071 --depth 1
    """
    from curate.explore import subtree
    from curate.wordnet.snapshot import load_hierarchy

    rows = subtree(load_hierarchy().tree(tree.value), wnid, depth)
    print_rows(rows, as_json=as_json, title=f"Under {rows[0].wnid} {rows[0].name}")
