"""`curate show` and `curate diff`: a manifest as class lines, the semantic diff, and bad files."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest


def test_show_prints_one_sorted_line_per_class(curate_cli, depth3):
    result = curate_cli("show", depth3)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "# recipe: down-up depth=3",
        "# tree rule: first-name; WordNet 3.0; base: ilsvrc2012",
        "# 1000 of 1000 classes kept under 9 labels",
    ]
    class_lines = lines[3:]
    assert len(class_lines) == 1000 and class_lines == sorted(class_lines)
    assert "n02085620  Chihuahua  ->  n00003553  whole" in class_lines


def test_show_names_why_a_class_was_removed(curate_cli, tmp_path):
    out = tmp_path / "771.parquet"
    assert curate_cli("exclude", "-o", out).exit_code == 0
    assert "n02085620  Chihuahua  -x  removed: under n02084071 dog" in curate_cli("show", out).stdout.splitlines()


def test_diff_names_moved_classes_and_labels(curate_cli, tmp_path, depth3):
    finer = tmp_path / "depth4.parquet"
    assert curate_cli("coarsen", "--depth", "4", "-o", finer).exit_code == 0
    result = curate_cli("diff", depth3, finer)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[:2] == ["--- down-up depth=3 (9 labels)", "+++ down-up depth=4 (17 labels)"]
    assert "n02085620 Chihuahua: whole → living thing" in lines
    assert "label created: n00004258 living thing" in lines
    assert lines[-1].endswith("labels 9 → 17")


def test_diff_of_a_manifest_with_itself_changes_nothing(curate_cli, depth3):
    assert curate_cli("diff", depth3, depth3).stdout.splitlines()[2:] == [
        "0 classes changed label; 0 labels created, 0 dropped; labels 9 → 9"
    ]


def bad_manifests(path, tmp_path, rewrite):
    """name -> (a bad file made from the manifest at `path`, the sentence for it)."""
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"x": [1]}), plain)
    text = tmp_path / "text.parquet"
    text.write_text("not parquet")
    return {
        "plain parquet": (plain, f"{plain} is a Parquet file but not a curate manifest (it has no curate metadata)."),
        "not parquet": (text, f"{text} is not a Parquet file (or it is damaged)."),
        "column dropped": (no_label := rewrite(path, tmp_path / "no_label.parquet", lambda t: t.drop_columns(["label"])),
                           f"{no_label} lacks the column label."),
        "row twice": (twice := rewrite(path, tmp_path / "twice.parquet", lambda t: pa.concat_tables([t.slice(0, t.num_rows - 1), t.slice(0, 1)])),
                      f"{twice} lists wnid n01440764 more than once."),
        "rows edited": (edited := rewrite(path, tmp_path / "edited.parquet",
                                          lambda t: t.set_column(1, "name", pa.array(["x"] * t.num_rows))),
                        f"{edited} was changed after curate wrote it: its rows do not match its content hash."),
        "absent": (tmp_path / "absent.parquet", f"{tmp_path / 'absent.parquet'} does not exist."),
    }


CASES = ["plain parquet", "not parquet", "column dropped", "row twice", "rows edited", "absent"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["show", "diff"])
def test_a_bad_manifest_gives_one_sentence(curate_cli, tmp_path, depth3, rewrite, case, command):
    path, sentence = bad_manifests(depth3, tmp_path, rewrite)[case]
    result = curate_cli(*(["show", path] if command == "show" else ["diff", depth3, path]))
    assert (result.exit_code, result.stderr.strip(), result.stdout) == (1, f"Error: {sentence}", "")


@pytest.mark.parametrize("where", ["before the command", "after the command"])
def test_verbose_shows_the_traceback(curate_cli, tmp_path, where):
    from curate.errors import BadManifest

    argv = ["show", tmp_path / "absent.parquet"]
    with pytest.raises(BadManifest):
        curate_cli(*(["--verbose", *argv] if where == "before the command" else [*argv, "--verbose"]))


def test_verbose_after_a_double_dash_is_not_an_option():
    from curate.cli import verbose_first

    assert verbose_first(["show", "x", "--", "--verbose"]) == ["show", "x", "--", "--verbose"]
    assert verbose_first(["images", "index", "--verbose", "-o", "y"]) == ["--verbose", "images", "index", "-o", "y"]


def test_version(curate_cli):
    from curate import __version__

    result = curate_cli("--version")
    assert (result.exit_code, result.stdout) == (0, f"curate {__version__}\n")
