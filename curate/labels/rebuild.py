"""`curate rebuild`: run again the recipe a label manifest records, and write what it gives now.

A manifest records its recipe, parameters, tree rule and base list; written back in the label-set language
(`coarsen --depth 3 --tree first-name`), they make it again. After a merge in which both branches changed a
manifest (git cannot merge Parquet), keep one side's file and rebuild it, so its rows are the ones the
merged code gives for that side's recipe.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from curate.errors import BadRecipe
from curate.labels.classlists import BUILTIN_LISTS, ClassList, load_class_list
from curate.labels.labelset import LabelSet
from curate.labels.manifest import read_labels, write_labels
from curate.labels.presets import labels_named
from curate.labels.textform import diff_labels
from curate.wordnet.hierarchy import Hierarchy
from curate.wordnet.wnid import WNID_PATTERN

COARSEN = {"down-up": "depth", "up-down": "lift", "balanced": "classes"}  # recipe -> the coarsen option it takes


@dataclass(frozen=True)
class Rebuilt:
    spec: str  # the recipe run, in the label-set language
    base: str  # the name of its base list (a sample's pool)
    labels: LabelSet
    content_hash: str
    changed: int  # classes whose label differs from what the file held


def recorded_spec(labels: LabelSet, path: Path) -> str:
    """The recipe `labels` records, as the label-set language writes it (without its base, or a sample's pool)."""
    under = labels.params.get("under")
    return recipe_spec(labels, path) + (f" --under {under}" if under else "")


def recipe_spec(labels: LabelSet, path: Path) -> str:
    """`recorded_spec` without the subtree the recipe was restricted to."""
    params = labels.params
    if labels.recipe == "identity":
        return "identity"
    if labels.recipe in COARSEN:
        return f"coarsen --{COARSEN[labels.recipe]} {params[COARSEN[labels.recipe]]} --tree {labels.tree_rule}"
    if labels.recipe == "exclude":
        custom = params["targets"].removeprefix("custom: ")
        targets = custom.split() if custom != params["targets"] else []
        return "exclude " + (" ".join(f"--synset {wnid}" for wnid in targets) or f"--targets {params['targets']}")
    if labels.recipe == "sample":
        return f"sample --classes {params['classes']} --seed {params['seed']}"
    if labels.recipe == "n-by-k":
        superclasses = f" --superclasses {params['superclasses']}" if "superclasses" in params else ""
        return (f"coarsen --depth {params['depth']} --subclasses {params['subclasses']}{superclasses} "
                f"--seed {params['seed']} --tree {labels.tree_rule}")
    if labels.recipe == "split":
        seed = f" --seed {params['seed']}" if "seed" in params else ""
        tiers = f" --depth {params['depth']} --sizes {params['sizes']}" if "sizes" in params else ""
        return f"split {params['method']} --part {params['part']}{seed}{tiers}"
    if labels.recipe == "breeds":
        form = params.get("benchmark") or (f"--level {params['level']} --subclasses {params['subclasses']}"
                                           + (f" --ancestor {params['ancestor']}" if "ancestor" in params else ""))
        unbalanced = "" if params["balanced"] else " --unbalanced"
        return f"breeds {form}{unbalanced} --split {params['split']} --seed {params['seed']} --part {params['part']}"
    if labels.recipe == "extend" and "min_images" not in params:
        branches = " ".join(f"--branch {wnid}" for wnid in WNID_PATTERN.findall(params["branches"]))
        pool = shlex.quote(str(class_list_path(params["pool"], path)))
        keep = " --keep-base-order" if params.get("keep_base_order") else ""
        return f"extend --add {params['add']} {branches} --pool {pool} --seed {params['seed']}{keep}"
    why = {"extend": "`curate extend --images` counted the images of an index, which it does not record",
           "restrict": "`curate images restrict` took the classes of an image index, which it does not record",
           "import": "`curate import` read a file you brought, which it does not hold (only its name and sha256)"}
    raise BadRecipe(f"{path} cannot be rebuilt from what it records: "
                    + why.get(labels.recipe, f"its recipe {labels.recipe!r} is none of curate's")
                    + "; run the command that made it again.")


def class_list_path(name: str, path: Path) -> str | Path:
    """Where a class list a manifest names is: built in, or a file beside the manifest."""
    if name in BUILTIN_LISTS:
        return name
    beside = path.parent / name
    if not beside.is_file():
        raise BadRecipe(f"{path} was made from the class list {name}, which is neither built in nor beside it "
                        f"in {path.parent}: put it there to rebuild.")
    return beside


def recorded_base(labels: LabelSet, path: Path) -> ClassList:
    """The base list (a sample's pool) a manifest was made from, checked against the hash it records."""
    base = load_class_list(str(class_list_path(labels.base_name, path)))
    if labels.base_hash and base.content_hash != labels.base_hash:
        raise BadRecipe(f"The class list {labels.base_name} is not the one {path} was made from (its hash differs "
                        "from the one the manifest records), so a rebuild would label other classes.")
    return base


def rebuild_manifest(hierarchy: Hierarchy, path: Path) -> Rebuilt:
    """Run the recipe the manifest at `path` records with the code of today, and write the result over it."""
    old = read_labels(path)
    spec = recorded_spec(old, path)
    base = recorded_base(old, path)
    if old.recipe == "sample":
        spec += f" --pool {shlex.quote(str(class_list_path(base.name, path)))}"
    new = labels_named(spec, hierarchy, base)
    digest = write_labels(new, path)
    return Rebuilt(spec, base.name, new, digest, len(diff_labels(old, new).changed))
