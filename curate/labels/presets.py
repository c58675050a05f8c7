"""The one table of named manifests that `curate build` writes into manifests/, and the one language that
names a label set (`labels_named`): a preset's name, `identity`, a recipe written as its curate command line,
or a manifest's path. Each preset is a row whose recipe is written in that language.

Adding a label set to the repository means adding one row here; `curate build`, `curate presets`, the
freshness check and the tests all iterate this table, and each row's label count is checked on every build.
"""

from __future__ import annotations

import inspect
import shlex
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from curate.errors import BadManifest, BadRecipe, CurateError, StaleManifests
from curate.fileio import check_folder_writable, new_folders, together
from curate.labels import recipes
from curate.labels.classlists import ClassList, builtin_list
from curate.labels.commands import COMMANDS
from curate.labels.labelset import LabelSet
from curate.labels.manifest import read_labels, write_labels
from curate.labels.textform import sidecar_text, write_sidecar
from curate.progress import Progress, no_progress, track
from curate.wording import plural, some
from curate.wordnet.hierarchy import Hierarchy

PRESET_BASE = "ilsvrc2012"  # the base list of every preset's recipe


@dataclass(frozen=True)
class Preset:
    name: str
    label_count: int  # the number of labels the recipe must produce
    about: str  # what it is, in a few words
    spec: str  # its recipe, in the words of `labels_named` (a curate command line, or identity)

    def build(self, hierarchy: Hierarchy) -> LabelSet:
        """The preset's label set, checked to have the label count this table promises."""
        labels = labels_named(self.spec, hierarchy, builtin_list(PRESET_BASE))
        if labels.label_count != self.label_count:
            raise BadRecipe(
                f"The preset {self.name} promises {self.label_count} labels, but its recipe "
                f"({labels.describe()}) gives {labels.label_count}."
            )
        return labels

    @property
    def command(self) -> str:
        """The preset's recipe as a user types it: `curate coarsen --depth 15`, or `identity`."""
        return f"curate {self.spec}" if self.spec.split()[0] in COMMANDS else self.spec


PRESETS = (
    Preset("in1k", 1000, "the 1000 ILSVRC-2012 classes, identity labels", "identity"),
    Preset("down-up-918", 918, "bottom-up cut at depth 15 (Huh et al.)", "coarsen --depth 15"),
    Preset("down-up-753", 753, "bottom-up cut at depth 12 (Huh et al.)", "coarsen --depth 12"),
    Preset("down-up-486", 486, "bottom-up cut at depth 9 (Huh et al.)", "coarsen --depth 9"),
    Preset("down-up-79", 79, "bottom-up cut at depth 6 (Huh et al.)", "coarsen --depth 6"),
    Preset("down-up-9", 9, "bottom-up cut at depth 3 (Huh et al.)", "coarsen --depth 3"),
    Preset("coarse-127", 127, "top-down, one lift (Huh et al.)", "coarsen --lift 1"),
    Preset("coarse-262", 262, "balanced refinement of coarse-127 (curate's own)", "coarsen --classes 262"),
    Preset("coarse-491", 491, "balanced refinement of coarse-127 (curate's own; nests in coarse-262)", "coarsen --classes 491"),
    Preset("pascal-removed-771", 771, "ILSVRC-2012 minus classes under the 20 PASCAL VOC synsets (Huh et al.)",
           "exclude --targets pascal-voc"),
    Preset("oquab-1512", 1512, "ILSVRC-2012 + 512 22k classes under branches overlapping PASCAL VOC (Oquab et al.)",
           "extend --add 512"),
    Preset("random-1000", 1000, "1000 random 22k classes, none nested in another, seed 0 (Oquab et al.'s PRE-1000R)",
           "sample --classes 1000 --seed 0"),
    Preset("natural-449", 449, "the natural half of Yosinski et al.'s split", "split natural-manmade --part natural"),
    Preset("manmade-551", 551, "the man-made half of Yosinski et al.'s split", "split natural-manmade --part manmade"),
    Preset("random-half-a", 500, "random half a of ILSVRC-2012, seed 0", "split random --part a --seed 0"),
    Preset("random-half-b", 500, "random half b of ILSVRC-2012, seed 0", "split random --part b --seed 0"),
    Preset("breeds-entity13", 13, "BREEDS ENTITY-13: 13 superclasses x 20 subclasses, source and target halves "
           "(Santurkar et al.)", "breeds entity13"),
    Preset("breeds-entity30", 30, "BREEDS ENTITY-30: 30 superclasses x 8 subclasses, source and target halves "
           "(Santurkar et al.)", "breeds entity30"),
    Preset("breeds-living17", 17, "BREEDS LIVING-17: 17 superclasses x 4 subclasses, source and target halves "
           "(Santurkar et al.)", "breeds living17"),
    Preset("breeds-nonliving26", 26, "BREEDS NONLIVING-26: 26 superclasses x 4 subclasses, source and target halves "
           "(Santurkar et al.)", "breeds nonliving26"),
)


@dataclass(frozen=True)
class PresetRow:
    """A preset as `curate presets` lists it."""

    file: str
    labels: int
    command: str
    what: str


def preset_rows() -> list[PresetRow]:
    return [PresetRow(f"{preset.name}.parquet", preset.label_count, preset.command, preset.about) for preset in PRESETS]


# --- the label-set language ----------------------------------------------------------------------------------


def labels_named(spec: str, hierarchy: Hierarchy, base: ClassList) -> LabelSet:
    """The label set `spec` names, one of:

    - a preset's name (`coarse-127`): that preset, over its own base list;
    - `identity`: every class of `base` its own label;
    - a recipe written as its curate command line without `curate` and without output options, long options
      only (`coarsen --lift 1`, `sample --classes 500 --seed 0`, `split natural-manmade --part natural`): a
      recipe without `--base` takes `base`; every other option has the command's name, meaning and default;
    - a path ending in .parquet: a label manifest.

    A mistake is one sentence that quotes `spec` and names the options as the spec writes them."""
    presets = {preset.name: preset for preset in PRESETS}
    words = spec.split()
    try:
        if spec in presets:
            return presets[spec].build(hierarchy)
        if spec == "identity":
            return recipes.identity(hierarchy, base)
        if words and words[0] in COMMANDS:  # before paths: a recipe may read a manifest (--base x.parquet)
            return named_recipe(spec, hierarchy, base)
        if spec.endswith(".parquet"):
            return read_labels(Path(spec))
    except CurateError as error:
        raise type(error)(f"The label set {spec!r}: {error}") from None
    raise BadRecipe(
        f"Unknown label set {spec!r}: give a preset ({', '.join(presets)}), identity, a recipe as its curate command "
        f"line ({', '.join(COMMANDS)}; e.g. `coarsen --lift 1`) or a label manifest (.parquet)."
    )


def named_recipe(spec: str, hierarchy: Hierarchy, base: ClassList) -> LabelSet:
    """The label set of a recipe written as its command line; its mistakes in the command line's words."""
    function = COMMANDS[spec.split()[0]]
    try:
        arguments, options = parse_recipe(spec)
        if "base" in inspect.signature(function).parameters:
            options.setdefault("base", base)
        return function(hierarchy, *arguments, **options)
    except CurateError as error:
        raise type(error)(error.worded(recipe_words(function))) from None


def option(name: str) -> str:
    """The command line's option for a recipe parameter: `per_class` -> --per-class."""
    return "--" + name.replace("_", "-")


def recipe_words(function) -> dict[str, str]:
    """A recipe command's parameters as its command line writes them (its options, its arguments' names)."""
    parameters = list(inspect.signature(function).parameters.values())[1:]
    return {p.name: option(p.name) if p.kind is p.KEYWORD_ONLY else p.name for p in parameters}


def value_kind(hint) -> str:
    """How a recipe parameter's value is written: flag (no value), many (repeated), int, or text."""
    kinds = {hint, *typing.get_args(hint)}
    if bool in kinds:
        return "flag"
    if int in kinds:
        return "int"
    if typing.get_origin(hint) is Sequence:
        return "many"
    return "text"


def parse_recipe(spec: str) -> tuple[list[str], dict]:
    """The arguments and options of the recipe command `spec` writes, for its function in COMMANDS;
    mistakes name its parameters."""
    try:
        name, *tokens = shlex.split(spec)
    except ValueError as error:
        raise BadRecipe(f"it does not split into words ({error}).") from None
    function = COMMANDS[name]
    parameters = list(inspect.signature(function).parameters.values())[1:]
    hints = typing.get_type_hints(function)
    takes = [p.name for p in parameters if p.kind is not p.KEYWORD_ONLY]
    by_option = {option(p.name): p.name for p in parameters if p.kind is p.KEYWORD_ONLY}
    arguments, options = [], {}
    tokens.reverse()
    while tokens:
        token = tokens.pop()
        if not token.startswith("-"):
            arguments.append(token)
            continue
        given, _, value = token.partition("=")
        if given not in by_option:
            raise BadRecipe(f"{name} has no option {given}: it takes {', '.join(by_option)}.")
        parameter = by_option[given]
        kind = value_kind(hints[parameter])
        if kind == "flag":
            if value:
                raise BadRecipe(f"`{parameter}` is a switch: it takes no value.")
            options[parameter] = True
            continue
        if not value:
            if not tokens:
                raise BadRecipe(f"`{parameter}` needs a value.")
            value = tokens.pop()
        if kind == "many":
            options.setdefault(parameter, []).append(value)
            continue
        if parameter in options:
            raise BadRecipe(f"`{parameter}` is given twice.")
        if kind == "int":
            try:
                value = int(value)
            except ValueError:
                raise BadRecipe(f"`{parameter}` takes a whole number, not {value!r}.") from None
        options[parameter] = value
    if len(arguments) > len(takes):
        takes_what = f"{plural(len(takes), 'argument')} ({', '.join(f'`{t}`' for t in takes)})" if takes else "no arguments"
        raise BadRecipe(f"{name} takes {takes_what}, not {' '.join(arguments)!r}.")
    required = [p.name for p in parameters if p.default is p.empty and (
        p.name in takes[len(arguments):] if p.kind is not p.KEYWORD_ONLY else p.name not in options)]
    if required:
        raise BadRecipe(f"{name} needs {' and '.join(f'`{parameter}`' for parameter in required)}.")
    return arguments, options


# --- building the table --------------------------------------------------------------------------------------


def build_presets(hierarchy: Hierarchy, out: Path, progress: Progress = no_progress) -> list[Path]:
    """Write every preset as OUT/NAME.parquet with its text sidecar OUT/NAME.txt; return the paths. Every
    preset is built (and its label count checked) before the first file is written, and every file is
    written before the first one replaces its old version."""
    check_folder_writable(out)
    built = [(preset, preset.build(hierarchy)) for preset in track(PRESETS, "Building presets", progress)]
    written = []
    with new_folders(out), together():  # all the files or none: a full disk leaves the old set as it was
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
            f"{plural(len(stale), 'file')} {'is' if len(stale) == 1 else 'are'} not what `curate build` writes ({some(stale)}): run `curate build -o {out}`."
        )
