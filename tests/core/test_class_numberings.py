"""The class lists curate ships against the lists timm ships (read from the installed wheel, never copied here):
each built-in list and what `--classes NAME` numbers equal timm's file line for line; and the ILSVRC-2012
descriptions Hugging Face labels are named by, computed from curate's own WordNet snapshot."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from curate.labels.classlists import BUILTIN_LISTS, PROVENANCE, class_numbering, copied_from, descriptions, load_class_list


def timm_list(name: str) -> list[str]:
    timm = pytest.importorskip("timm")
    return (Path(timm.__file__).parent / "data" / "_info" / name).read_text().split("\n")[:-1]


# curate's list, the numbering `--classes` takes, timm's file, its classes: written out here, not read from curate
TIMM_LISTS = [
    ("ilsvrc2012", "imagenet1k", "imagenet_synsets.txt", 1000),
    ("imagenet22k", "imagenet22k", "imagenet22k_synsets.txt", 21_841),
    ("imagenet12k", "imagenet12k", "imagenet12k_synsets.txt", 11_821),
    ("imagenet21k-p-fall11", "imagenet21k-p-fall11", "imagenet21k_miil_synsets.txt", 11_221),
    ("imagenet21k-p-winter21", "imagenet21k-p-winter21", "imagenet21k_miil_w21_synsets.txt", 10_450),
    ("imagenet22k-ms", "imagenet22k-ms", "imagenet22k_ms_synsets.txt", 21_842),
    ("imagenet21k-goog", "imagenet21k-goog", "imagenet21k_goog_synsets.txt", 21_843),
]


@pytest.mark.parametrize("base, numbering, timm_file, count", TIMM_LISTS, ids=[row[0] for row in TIMM_LISTS])
def test_each_builtin_list_is_timms_line_for_line(base, numbering, timm_file, count):
    timms = timm_list(timm_file)
    assert len(timms) == count
    assert list(class_numbering(numbering).in_order) == timms  # label i: line i
    assert list(load_class_list(base).in_order) == timms
    assert list(load_class_list(base).wnids) == sorted(timms)  # as a base or pool: the set, sorted


def test_every_builtin_list_is_tested_against_timm():
    assert list(BUILTIN_LISTS) == [row[0] for row in TIMM_LISTS]


def test_the_provenance_file_records_each_copy_and_its_sha256():
    release, files = copied_from()
    assert release.startswith("timm ") and files == {f"{base}.txt": timm_file for base, _, timm_file, _ in TIMM_LISTS}
    for line in PROVENANCE.read_text().splitlines():
        if not line.startswith("#"):
            file, _, lines, digest = line.split("\t")
            data = (PROVENANCE.parent / file).read_bytes()
            assert (hashlib.sha256(data).hexdigest(), data.count(b"\n")) == (digest, int(lines))


def test_what_each_21k_and_22k_list_holds_beyond_the_fall_2011_release():
    """Google's 21,843 hold two synsets fall 2011 lacks; Microsoft's 21,842 hold teddy bear, the one ILSVRC-2012
    class fall 2011 lacks, and number the 1000 ILSVRC-2012 classes first; the 12k and 21K-P lists are subsets."""
    fall11 = set(class_numbering("imagenet22k").in_order)
    extra = {name: sorted(set(class_numbering(name).in_order) - fall11) for _, name, _, _ in TIMM_LISTS[2:]}
    assert extra == {"imagenet12k": [], "imagenet21k-p-fall11": [], "imagenet21k-p-winter21": [],
                     "imagenet22k-ms": ["n04399382"], "imagenet21k-goog": ["n03931044", "n09859684"]}
    microsoft = class_numbering("imagenet22k-ms").in_order
    assert microsoft[:1000] == class_numbering("imagenet1k").in_order and microsoft[1000:] == tuple(sorted(microsoft[1000:]))
    assert class_numbering("imagenet22k-ms").order == microsoft and class_numbering("imagenet12k").order == ()


def test_descriptions_are_the_devkits_words_as_timm_ships_them():
    described = dict(line.split("\t") for line in timm_list("imagenet_synset_to_lemma.txt"))
    wnids = class_numbering("imagenet22k").in_order
    assert descriptions(wnids) == [described[wnid] for wnid in wnids]


def test_a_classes_file_keeps_its_order(tmp_path):
    (tmp_path / "mine.txt").write_text("n02085620\nn01440764  # tench\n\nn01443537\n")
    numbering = class_numbering(str(tmp_path / "mine.txt"))
    assert (numbering.name, numbering.in_order) == ("mine.txt", ("n02085620", "n01440764", "n01443537"))
    assert numbering.wnids == ("n01440764", "n01443537", "n02085620")
