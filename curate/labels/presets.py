"""The one table of named manifests that `curate build` writes into manifests/.

Adding a label set to the repository means adding one row here; `curate build`, `curate recipes`, the
freshness check and the tests all iterate this table, and each row's label count is checked on every build.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from curate.errors import BadManifest, BadRecipe, StaleManifests
from curate.fileio import check_folder_writable
from curate.labels import recipes
from curate.labels.classlists import BRANCH_SETS, PASCAL_VOC, builtin_list
from curate.labels.labelset import LabelSet
from curate.labels.manifest import read_labels, write_labels
from curate.labels.textform import sidecar_text, write_sidecar
from curate.progress import Progress, no_progress, track
from curate.wordnet.hierarchy import DEFAULT_TREE_RULE, Hierarchy


@dataclass(frozen=True)
class Preset:
    name: str
    label_count: int  # the number of labels the recipe must produce
    describe: str
    recipe: Callable[[Hierarchy], LabelSet]

    def build(self, hierarchy: Hierarchy) -> LabelSet:
        """The preset's label set, checked to have the label count this table promises."""
        labels = self.recipe(hierarchy)
        if labels.label_count != self.label_count:
            raise BadRecipe(
                f"The preset {self.name} promises {self.label_count} labels, but its recipe "
                f"({labels.describe()}) gives {labels.label_count}."
            )
        return labels


def in1k():
    return builtin_list("ilsvrc2012")


def coarse(**options) -> Callable[[Hierarchy], LabelSet]:
    return lambda hierarchy: recipes.coarsen(hierarchy.tree(DEFAULT_TREE_RULE), in1k(), **options)


def half(method: str, part: str) -> Callable[[Hierarchy], LabelSet]:
    return lambda hierarchy: recipes.split(hierarchy, in1k(), method, part, seed=0 if method == "random" else None)


def pascal_removed(hierarchy: Hierarchy) -> LabelSet:
    return recipes.exclude(hierarchy, in1k(), list(PASCAL_VOC.values()), "pascal-voc")


def oquab_extension(hierarchy: Hierarchy) -> LabelSet:
    branches = list(BRANCH_SETS["pascal-voc"].values())
    return recipes.extend(hierarchy, in1k(), builtin_list("imagenet22k"), branches, 512)


PRESETS = (
    Preset("in1k", 1000, "the 1000 ILSVRC-2012 classes, identity labels", lambda hierarchy: recipes.identity(hierarchy, in1k())),
    Preset("down-up-918", 918, "bottom-up cut at depth 15 (Huh et al.)", coarse(depth=15)),
    Preset("down-up-753", 753, "bottom-up cut at depth 12 (Huh et al.)", coarse(depth=12)),
    Preset("down-up-486", 486, "bottom-up cut at depth 9 (Huh et al.)", coarse(depth=9)),
    Preset("down-up-79", 79, "bottom-up cut at depth 6 (Huh et al.)", coarse(depth=6)),
    Preset("down-up-9", 9, "bottom-up cut at depth 3 (Huh et al.)", coarse(depth=3)),
    Preset("coarse-127", 127, "top-down, one lift (Huh et al.)", coarse(lift=1)),
    Preset("coarse-262", 262, "balanced refinement of coarse-127 (curate's own)", coarse(classes=262)),
    Preset("coarse-491", 491, "balanced refinement of coarse-127 (curate's own; nests in coarse-262)", coarse(classes=491)),
    Preset("pascal-removed-771", 771, "ILSVRC-2012 minus classes under the 20 PASCAL VOC synsets (Huh et al.)", pascal_removed),
    Preset("oquab-1512", 1512, "ILSVRC-2012 + 512 22k classes under branches overlapping PASCAL VOC (Oquab et al.)", oquab_extension),
    Preset(
        "random-1000", 1000, "1000 random 22k classes, none nested in another, seed 0 (Oquab et al.'s PRE-1000R)",
        lambda hierarchy: recipes.sample(hierarchy, builtin_list("imagenet22k"), 1000, seed=0),
    ),
    Preset("natural-449", 449, "the natural half of Yosinski et al.'s split", half("natural-manmade", "natural")),
    Preset("manmade-551", 551, "the man-made half of Yosinski et al.'s split", half("natural-manmade", "manmade")),
    Preset("random-half-a", 500, "random half a of ILSVRC-2012, seed 0", half("random", "a")),
    Preset("random-half-b", 500, "random half b of ILSVRC-2012, seed 0", half("random", "b")),
)


def build_presets(hierarchy: Hierarchy, out: Path, progress: Progress = no_progress) -> list[Path]:
    """Write every preset as OUT/NAME.parquet with its text sidecar OUT/NAME.txt; return the paths. Every
    preset is built (and its label count checked) before the first file is written."""
    check_folder_writable(out)
    built = [(preset, preset.build(hierarchy)) for preset in track(PRESETS, "Building presets", progress)]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for preset, labels in built:
        write_labels(labels, out / f"{preset.name}.parquet")
        write_sidecar(labels, out / f"{preset.name}.txt")
        written += [out / f"{preset.name}.parquet", out / f"{preset.name}.txt"]
    return written


def stale_presets(hierarchy: Hierarchy, out: Path, progress: Progress = no_progress) -> list[str]:
    """The files under OUT that a fresh build would write differently (by content, not bytes), or that are
    missing."""
    check_folder_writable(out)
    stale = []
    for preset in track(PRESETS, "Building presets", progress):
        labels = preset.build(hierarchy)
        manifest, sidecar = out / f"{preset.name}.parquet", out / f"{preset.name}.txt"
        try:
            if read_labels(manifest) != labels:
                stale.append(str(manifest))
        except BadManifest:
            stale.append(str(manifest))
        if not sidecar.is_file() or sidecar.read_text() != sidecar_text(labels):
            stale.append(str(sidecar))
    return stale


def check_presets(hierarchy: Hierarchy, out: Path, progress: Progress = no_progress) -> None:
    """Raise StaleManifests, naming the files, unless OUT holds what a fresh build writes."""
    stale = stale_presets(hierarchy, out, progress)
    if stale:
        raise StaleManifests(
            f"{len(stale)} files are not what `curate build` writes ({', '.join(stale)}): run `curate build --out {out}`."
        )
