"""`curate coarsen` through the CLI: the paper's counts, the balanced sets, determinism, bad input."""

import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from curate.labels.manifest import read_labels

PAPER_DEPTH_COUNTS = {
    17: 999, 16: 977, 15: 918, 14: 877, 13: 820, 12: 753, 11: 694, 10: 596, 9: 486,
    8: 345, 7: 206, 6: 79, 5: 36, 4: 17, 3: 9, 2: 5, 1: 2, 0: 1,
}


def coarsened(curate_cli, tmp_path, *options):
    out = tmp_path / "labels.parquet"
    result = curate_cli("coarsen", *options, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(out)
    return read_labels(out)


@pytest.mark.parametrize("depth,count", sorted(PAPER_DEPTH_COUNTS.items()))
def test_depth_cut_counts_match_the_paper(curate_cli, tmp_path, depth, count):
    labels = coarsened(curate_cli, tmp_path, "--depth", depth)
    assert len(labels.label_wnids) == count
    assert len(labels.rows) == 1000
    assert labels.recipe == "down-up" and labels.params == {"depth": depth}


@pytest.mark.parametrize("lifts,count", [(1, 127), (2, 10), (3, 2)])
def test_lift_counts_match_the_paper(curate_cli, tmp_path, lifts, count):
    assert len(coarsened(curate_cli, tmp_path, "--lift", lifts).label_wnids) == count


def test_one_lift_merges_all_mammals_and_birds(curate_cli, tmp_path):
    labels = coarsened(curate_cli, tmp_path, "--lift", "1")
    groups = labels.members()
    assert len(groups["n01861778"]) == 218  # mammal
    assert len(groups["n01503061"]) == 59  # bird
    by_class = {row.wnid: row.label_name for row in labels.rows}
    assert by_class["n02085620"] == "mammal"  # Chihuahua


def test_balanced_sets_are_exact_and_nested(curate_cli, tmp_path):
    sets = {}
    for count in (127, 262, 491):
        sets[count] = coarsened(curate_cli, tmp_path, "--classes", count)
        assert len(sets[count].label_wnids) == count
        assert "not from the paper" in sets[count].source

    def refines(fine, coarse):
        coarse_of = {row.wnid: row.label_wnid for row in coarse.rows}
        parents = {}
        for row in fine.rows:
            parents.setdefault(row.label_wnid, set()).add(coarse_of[row.wnid])
        return all(len(p) == 1 for p in parents.values())

    assert refines(sets[262], sets[127]) and refines(sets[491], sets[262])
    assert not refines(sets[127], sets[262])


def test_summary_names_the_largest_clusters(curate_cli):
    result = curate_cli("coarsen", "--depth", "3")
    assert result.exit_code == 0
    assert result.stderr == "9 labels over 1,000 classes: down-up depth=3, tree first-name\n"  # in a pipe: TSV below
    assert "0\tn00003553\twhole\t946\ttench, goldfish, great white shark" in result.stdout.splitlines()


def test_manifest_rows_are_sorted_with_dense_labels(curate_cli, tmp_path):
    labels = coarsened(curate_cli, tmp_path, "--depth", "6")
    assert [row.wnid for row in labels.rows] == sorted(row.wnid for row in labels.rows)
    assert labels.tree_rule == "first-name" and labels.wordnet_version == "3.0"
    assert labels.base_name == "ilsvrc2012"


def test_other_tree_rule_gives_another_tree(curate_cli, tmp_path):
    first_name = coarsened(curate_cli, tmp_path, "--depth", "6")
    first_offset = coarsened(curate_cli, tmp_path, "--depth", "6", "--tree", "first-offset")
    assert first_offset.tree_rule == "first-offset"
    assert first_name.label_wnids != first_offset.label_wnids


def test_base_from_text_file_and_from_manifest(curate_cli, tmp_path):
    listing = tmp_path / "dogs.txt"
    listing.write_text("# three dogs\nn02085620\nn02085782  Japanese spaniel\n\nn02086240\n")
    labels = coarsened(curate_cli, tmp_path, "--lift", "1", "--base", listing)
    assert [row.wnid for row in labels.rows] == ["n02085620", "n02085782", "n02086240"]
    assert labels.base_name == "dogs.txt"
    coarse = tmp_path / "c.parquet"
    assert curate_cli("coarsen", "--depth", "3", "-o", coarse).exit_code == 0
    again = coarsened(curate_cli, tmp_path, "--depth", "3", "--base", coarse)
    assert len(again.rows) == 1000


def test_content_hash_is_the_same_under_any_hash_seed(tmp_path):
    hashes = set()
    for seed in "0123":
        out = tmp_path / f"seed{seed}.parquet"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-m", "curate", "coarsen", "--classes", "262", "-o", out, "-q"], env=env, check=True)
        hashes.add(pq.read_schema(out).metadata[b"curate.content_hash"])
    assert len(hashes) == 1


BAD_INPUTS = [
    (["--depth", "-1"], "Error: --depth must be 0 or more (0 is the root, entity), not -1."),
    (["--depth", "3", "--lift", "1"], "Error: Choose exactly one of --depth, --lift or --classes (got --depth and --lift)."),
    ([], "Error: Choose exactly one of --depth, --lift or --classes (got none)."),
    (["--lift", "0"], "Error: --lift must be 1 or more, not 0."),
    (["--classes", "0"], "Error: --classes must be between 1 and the 1000 classes of the base list, not 0."),
    (["--classes", "1001"], "Error: --classes must be between 1 and the 1000 classes of the base list, not 1001."),
    (["--classes", "100"], "Error: --classes is 100, below the 127 classes of the one-lift set that balanced "
     "refinement starts from: use --lift or --depth for coarser sets."),
    (["--depth", "3", "--base", "nowhere.txt"], "Error: nowhere.txt is neither a built-in class list "
     "(ilsvrc2012, imagenet22k, imagenet12k, imagenet21k-p-fall11, imagenet21k-p-winter21, imagenet22k-ms, "
     "imagenet21k-goog) nor an existing file."),
]


@pytest.mark.parametrize("options,message", BAD_INPUTS)
def test_bad_options_give_one_sentence(curate_cli, tmp_path, options, message):
    out = tmp_path / "out.parquet"
    result = curate_cli("coarsen", *options, "-o", out)
    assert result.exit_code == 1
    assert result.stderr.strip() == message
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "content,message",
    [
        ("n0144076\n", "Error: 'n0144076' on line 1 of base.txt is not a WordNet 3.0 noun id: ids look like n01440764."),
        ("n01440764\nv01440764\n", "Error: 'v01440764' on line 2 of base.txt is not a WordNet 3.0 noun id: ids look like n01440764."),
        ("n99999999\n", "Error: n99999999 is not a noun synset of WordNet 3.0 (WordNet 3.1 and Open English WordNet "
         "number synsets differently; ImageNet ids are 3.0 offsets)."),
        ("# nothing\n\n", "Error: base.txt lists no wnids."),
        ("n01440764\nn01440764\n", "Error: n01440764 is listed twice in base.txt, on lines 1 and 2."),
    ],
)
def test_bad_base_lists(curate_cli, tmp_path, content, message):
    base = tmp_path / "base.txt"
    base.write_text(content)
    out = tmp_path / "out.parquet"
    result = curate_cli("coarsen", "--depth", "3", "--base", base, "-o", out)
    assert (result.exit_code, result.stderr.strip()) == (1, message)
    assert not out.exists()


def test_output_in_a_missing_folder(curate_cli, tmp_path):
    out = tmp_path / "missing" / "out.parquet"
    result = curate_cli("coarsen", "--depth", "3", "-o", out)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: Cannot write {out}: the folder {out.parent} does not exist."


def test_invalid_tree_rule_lists_the_valid_ones(curate_cli):
    result = curate_cli("coarsen", "--depth", "3", "--tree", "random")
    assert result.exit_code == 2
    assert "first-name" in result.stderr and "first-offset" in result.stderr
