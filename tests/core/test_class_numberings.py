"""The class numberings curate holds against the lists timm ships (read from the installed wheel, never copied):
what `--classes imagenet1k|imagenet22k` numbers, and the ILSVRC-2012 descriptions Hugging Face labels are
named by, computed from curate's own WordNet snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from curate.labels.classlists import class_numbering, descriptions


def timm_list(name: str) -> list[str]:
    timm = pytest.importorskip("timm")
    return (Path(timm.__file__).parent / "data" / "_info" / name).read_text().split("\n")[:-1]


@pytest.mark.parametrize("numbering, timm_file", [("imagenet1k", "imagenet_synsets.txt"),
                                                  ("imagenet22k", "imagenet22k_synsets.txt")])
def test_numberings_by_name_are_timms(numbering, timm_file):
    assert list(class_numbering(numbering).wnids) == timm_list(timm_file)


def test_imagenet22k_is_neither_googles_21843_nor_microsofts_1k_first_order():
    """Two other 21k orders are in the wild: a checkpoint's 21,843 (two more synsets) or 21,842 (the 1000 ILSVRC
    classes first) outputs number other lists, and `--classes FILE` is the way to name them."""
    ours = list(class_numbering("imagenet22k").wnids)
    google, microsoft = timm_list("imagenet21k_goog_synsets.txt"), timm_list("imagenet22k_ms_synsets.txt")
    assert (len(ours), len(google), len(microsoft)) == (21_841, 21_843, 21_842)
    assert sorted(set(google) - set(ours)) == ["n03931044", "n09859684"] and google == sorted(google)
    assert microsoft[:1000] == list(class_numbering("imagenet1k").wnids) and microsoft != sorted(microsoft)


def test_descriptions_are_the_devkits_words_as_timm_ships_them():
    described = dict(line.split("\t") for line in timm_list("imagenet_synset_to_lemma.txt"))
    wnids = class_numbering("imagenet22k").wnids
    assert descriptions(wnids) == [described[wnid] for wnid in wnids]


def test_a_classes_file_keeps_its_order(tmp_path):
    (tmp_path / "mine.txt").write_text("n02085620\nn01440764  # tench\n\nn01443537\n")
    numbering = class_numbering(str(tmp_path / "mine.txt"))
    assert (numbering.name, numbering.wnids) == ("mine.txt", ("n02085620", "n01440764", "n01443537"))
