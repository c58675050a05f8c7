"""exclude (with each built-in target set), extend, sample, split and the presets, through the CLI."""

import itertools
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.fileformat import PREFIX, write_table
from curate.images.rows import IMAGES
from curate.labels import recipes
from curate.labels.classlists import TARGET_FILES, builtin_list, target_set
from curate.labels.manifest import read_labels


def made(curate_cli, tmp_path, *args):
    out = tmp_path / "out.parquet"
    result = curate_cli(*args, "-o", out)
    assert result.exit_code == 0, result.stderr
    return read_labels(out)


def assert_no_nesting(hierarchy, wnids):
    nodes = {hierarchy.node(w) for w in wnids}
    for node in nodes:
        assert hierarchy.dag_ancestors(node) & nodes == {node}, hierarchy.wnid(node)


def test_pascal_removed_keeps_771_and_says_why(curate_cli, tmp_path):
    labels = made(curate_cli, tmp_path, "exclude")
    assert len(labels.kept) == 771 and len(labels.rows) == 1000
    reason = {row.wnid: row.reason for row in labels.rows}
    assert reason["n02085620"] == "removed: under n02084071 dog"  # Chihuahua
    assert reason["n02403003"] is None and reason["n02415577"] is None  # ox and bighorn stay
    assert labels.params == {"targets": "pascal-voc"}


def test_exclude_custom_synsets(curate_cli, tmp_path):
    labels = made(curate_cli, tmp_path, "exclude", "--synset", "n02084071")
    assert len(labels.kept) == 1000 - 118  # the 118 dog breeds
    listing = tmp_path / "targets.txt"
    listing.write_text("n02084071\n")
    assert made(curate_cli, tmp_path, "exclude", "--synsets-file", listing).kept == labels.kept



@pytest.mark.parametrize("name,categories", [("coco", 80), ("cifar10", 10), ("cifar100", 100)])
def test_each_category_maps_to_wordnet_30_synsets(hierarchy, name, categories):
    assert len(target_set(name)) == categories
    rows = [line.split("\t") for line in TARGET_FILES[name].read_text().splitlines() if not line.startswith("#")]
    for category, wnid, synset, *why in rows:
        assert hierarchy.names[hierarchy.node(wnid)] == synset, (category, wnid)


@pytest.mark.parametrize(
    "name,category,wnids",
    [
        ("coco", "cow", ("n02402425",)),  # cattle.n.01, not LVIS's beef.n.01
        ("coco", "mouse", ("n03793489",)),  # the computer device
        ("coco", "tv", ("n04405907", "n04404412")),  # the set, and ILSVRC's television synset
        ("coco", "teddy bear", ("n04399382",)),
        ("cifar100", "mouse", ("n02330245",)),  # the rodent
        ("cifar10", "automobile", ("n02958343",)),
    ],
)
def test_hand_checked_choices(name, category, wnids):
    assert target_set(name)[category] == wnids


# Removed and kept ILSVRC-2012 classes checked by hand, with the reason each removed one records.
EXCLUDED = {
    "coco": (290, {
        "n02403003": "removed: under n02402425 cattle",  # ox: COCO's cows are cattle of any sex
        "n04404412": "removed: under n04404412 television",
        "n07697537": "removed: under n07695965 sandwich, n07697537 hotdog",
        "n04254680": "removed: under n02778669 ball",  # soccer ball
        "n04399382": "removed: under n04399382 teddy",
    }, ["n03000134", "n02415577", "n04039381", "n11939491", "n03782006"]),  # chainlink fence, bighorn, racket, daisy, monitor
    "cifar10": (212, {
        "n02085620": "removed: under n02084071 dog",  # Chihuahua
        "n02123045": "removed: under n02121620 cat",  # tabby
        "n03095699": "removed: under n04194289 ship",  # container ship
        "n03930630": "removed: under n04490091 truck",  # pickup
    }, ["n03000134", "n02403003", "n02951358", "n02129604"]),  # chainlink fence, ox, canoe, tiger
    "cifar100": (169, {
        "n01440764": "removed: under n02512053 fish",  # tench: aquarium_fish maps to fish.n.01
        "n09193705": "removed: under n09359803 mountain",  # alp
        "n03085013": "removed: under n03085013 computer keyboard",
        "n07579787": "removed: under n07579787 plate",
    }, ["n03000134", "n02085620", "n02123045", "n04505470"]),  # chainlink fence, Chihuahua, tabby, typewriter keyboard
}


@pytest.mark.parametrize("name", EXCLUDED)
def test_exclude_builtin_targets(curate_cli, tmp_path, name):
    count, removed, kept = EXCLUDED[name]
    labels = made(curate_cli, tmp_path, "exclude", "--targets", name)
    reason = {row.wnid: row.reason for row in labels.rows}
    assert len(labels.rows) == 1000 and 1000 - len(labels.kept) == count
    assert {wnid: reason[wnid] for wnid in removed} == removed
    assert [reason[wnid] for wnid in kept] == [None] * len(kept)
    assert labels.params == {"targets": name}


@pytest.mark.parametrize(
    "args,message",
    [
        (["exclude", "--targets", "voc"], "Error: Unknown target set 'voc': choose one of pascal-voc, coco, cifar10, cifar100, or give --synset."),
        (["exclude", "--synset", "v02084071"], "Error: 'v02084071' is not a WordNet 3.0 noun id: ids look like n01440764."),
        (["extend", "--add", "100000"], "Error: --add is 100000, more than can be added: 7250 pool synsets are eligible "
         "under these branches, and 5744 of them can be added without nesting."),
        (["extend", "--add", "5", "--branches", "x"], "Error: Unknown branch set 'x': choose one of pascal-voc, or give --branch."),
        (["sample", "--classes", "0"], "Error: --classes must be between 1 and the 21841 classes of imagenet22k, not 0."),
        (["split", "random", "--part", "c"], "Error: The random split has the parts a and b, not 'c'."),
    ],
)
def test_bad_recipe_input(curate_cli, tmp_path, args, message):
    out = tmp_path / "out.parquet"
    result = curate_cli(*args, "-o", out)
    assert (result.exit_code, result.stderr.strip()) == (1, message)
    assert list(tmp_path.iterdir()) == []


def test_seed_must_be_an_integer(curate_cli):
    result = curate_cli("sample", "--classes", "3", "--seed", "one")
    assert result.exit_code == 2
    assert "Invalid value for '--seed': 'one' is not a valid int." in re.sub(r"[│╭╮╰╯─\s]+", " ", result.stderr)


def test_oquab_extension_keeps_the_base_and_never_nests(curate_cli, tmp_path, hierarchy, ilsvrc):
    labels = made(curate_cli, tmp_path, "extend", "--add", "512")
    assert len(labels.kept) == 1512
    added = [row for row in labels.rows if row.reason]
    assert len(added) == 512 and set(ilsvrc.wnids) <= {row.wnid for row in labels.rows}
    assert {row.reason.split()[2] for row in added} == {"n03405725", "n02370806", "n04524313", "n00007846", "n00017222"}
    assert_no_nesting(hierarchy, [row.wnid for row in labels.rows])
    assert made(curate_cli, tmp_path, "extend", "--add", "512").rows == labels.rows


def test_extend_can_keep_the_base_labels_first_in_base_order(curate_cli, tmp_path, ilsvrc):
    out = tmp_path / "out.parquet"
    assert curate_cli("extend", "--add", "512", "--keep-base-order", "-o", out).exit_code == 0
    table = pq.read_table(out)
    label_of = dict(zip(table.column("wnid").to_pylist(), table.column("label").to_pylist()))
    assert [label_of[wnid] for wnid in ilsvrc.wnids] == list(range(1000))
    added = sorted(set(label_of) - set(ilsvrc.wnids))
    assert [label_of[wnid] for wnid in added] == list(range(1000, 1512))
    assert table.schema.metadata[PREFIX.encode() + b"label_order"] == b"recipe"
    labels = read_labels(out)
    assert labels.params["keep_base_order"] is True and labels.label_wnids[:1000] == list(ilsvrc.wnids)
    plain = made(curate_cli, tmp_path, "extend", "--add", "512")
    assert plain.rows == labels.rows and plain.label_wnids == sorted(label_of)  # the same classes, in wnid order


def test_keep_base_order_follows_a_text_bases_own_order_not_wnid_order(curate_cli, tmp_path):
    base = tmp_path / "base.txt"  # descending wnids: sorting would reverse them
    base.write_text("n04399382  # teddy bear\nn02085620\nn01443537\nn01440764\n")
    first = made(curate_cli, tmp_path, "extend", "--base", base, "--add", "3", "--branch", "n03405725", "--keep-base-order")
    added = sorted(row.wnid for row in first.rows if row.reason)
    assert first.label_wnids == ["n04399382", "n02085620", "n01443537", "n01440764", *added]
    again = tmp_path / "again.parquet"  # a manifest base keeps its label order: the 7 labels stay 0..6
    assert curate_cli("extend", "--base", tmp_path / "out.parquet", "--add", "2", "--branch", "n03405725",
                      "--keep-base-order", "-o", again).exit_code == 0
    assert read_labels(again).label_wnids[:7] == first.label_wnids


def test_restricting_a_set_in_base_order_keeps_that_order(hierarchy, ilsvrc):
    labels = recipes.extend(hierarchy, ilsvrc, builtin_list("imagenet22k"), ["n03405725"], 3, keep_base_order=True)
    added = labels.label_wnids[1000:]
    restricted = recipes.restrict(labels, dict.fromkeys([*ilsvrc.wnids[1:], *added], 1), "x", "", "index", "")
    assert restricted.label_wnids == [*ilsvrc.wnids[1:], *added]  # the tench has no images: every label moves up one


def test_extend_skips_synsets_with_too_few_images(curate_cli, tmp_path):
    plain = made(curate_cli, tmp_path, "extend", "--add", "3", "--branch", "n03405725")
    chosen = [row.wnid for row in plain.rows if row.reason]
    index = tmp_path / "index.parquet"
    paths = [f"{chosen[0]}/{i}.JPEG" for i in range(5)] + [f"{chosen[1]}/{i}.JPEG" for i in range(2)]
    table = pa.table({"path": paths, "wnid": [p[:9] for p in paths], "split": ["train"] * 7}).append_column(
        "size", pa.array([1] * 7, pa.int64())).append_column("archive", pa.nulls(7, pa.string())).append_column(
        "offset", pa.nulls(7, pa.int64()))
    write_table(table, index, IMAGES, {"root": "/data"})
    one = made(curate_cli, tmp_path, "extend", "--add", "1", "--branch", "n03405725", "--images", index, "--min-images", "3")
    assert [row.wnid for row in one.rows if row.reason] == [chosen[0]]
    assert one.params["min_images"] == 3


def test_random_1000_from_22k_is_seeded_and_unnested(curate_cli, tmp_path, hierarchy):
    labels = made(curate_cli, tmp_path, "sample", "--classes", "1000", "--seed", "0")
    assert len(labels.kept) == 1000 and labels.base_name == "imagenet22k"
    assert_no_nesting(hierarchy, [row.wnid for row in labels.rows])
    other = made(curate_cli, tmp_path, "sample", "--classes", "1000", "--seed", "1")
    assert {r.wnid for r in other.rows} != {r.wnid for r in labels.rows}


def test_sample_from_a_base_list_nests_by_count(curate_cli, tmp_path):
    small = {r.wnid for r in made(curate_cli, tmp_path, "sample", "--pool", "ilsvrc2012", "--classes", "50").rows}
    large = {r.wnid for r in made(curate_cli, tmp_path, "sample", "--pool", "ilsvrc2012", "--classes", "125").rows}
    assert len(small) == 50 and len(large) == 125 and small < large


def ranges(*spans):
    return set(itertools.chain.from_iterable(range(a, b + 1) for a, b in spans))


def test_natural_manmade_matches_yosinski(curate_cli, tmp_path, ilsvrc):
    natural = made(curate_cli, tmp_path, "split", "natural-manmade", "--part", "natural")
    manmade = made(curate_cli, tmp_path, "split", "natural-manmade", "--part", "manmade")
    index = {wnid: i for i, wnid in enumerate(ilsvrc.wnids)}
    assert {index[r.wnid] for r in natural.kept} == ranges((0, 397), (936, 958), (970, 970), (972, 998))
    assert {index[r.wnid] for r in manmade.kept} == ranges((398, 935), (959, 969), (971, 971), (999, 999))
    assert (len(natural.kept), len(manmade.kept)) == (449, 551)
    assert {r.reason for r in natural.rows if r.label_wnid is None} == {"removed: in part manmade"}


def test_random_halves_partition_the_base(curate_cli, tmp_path):
    a = {r.wnid for r in made(curate_cli, tmp_path, "split", "random", "--part", "a").kept}
    b = {r.wnid for r in made(curate_cli, tmp_path, "split", "random", "--part", "b").kept}
    assert len(a) == len(b) == 500 and not a & b
    a1 = {r.wnid for r in made(curate_cli, tmp_path, "split", "random", "--part", "a", "--seed", "1").kept}
    assert a1 != a


OUTPUT_OPTIONS = {"output", "quiet", "as_json"}


@pytest.mark.parametrize("name", ["coarsen", "exclude", "extend", "sample", "split", "import"])
def test_a_recipe_commands_options_are_its_library_functions_parameters(name):
    """The command and the label-set language (`labels_named`) call one function: the command's arguments and
    options are its parameters, by name and in order, each option `--name` and with the library's default."""
    import inspect
    from enum import Enum

    import typer

    from curate.cli import app
    from curate.labels.commands import COMMANDS

    command = typer.main.get_command(app).commands[name]
    cli = [param for param in command.params if param.name not in OUTPUT_OPTIONS]
    library = list(inspect.signature(COMMANDS[name]).parameters.values())[1:]
    assert [param.name for param in cli] == [param.name for param in library]
    for param, declared in zip(cli, library):
        if declared.kind is declared.KEYWORD_ONLY:
            assert "--" + declared.name.replace("_", "-") in param.opts, param.name
        else:
            assert param.param_type_name == "argument", param.name
        assert param.required == (declared.default is declared.empty), param.name
        if not param.required:
            default = param.default.value if isinstance(param.default, Enum) else param.default
            if param.multiple:  # a repeatable option given no default holds None or ()
                default = tuple(default or ())
            assert default == declared.default, param.name
