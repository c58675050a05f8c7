"""The embedded snapshot against NLTK, and the installer of NLTK's WordNet."""

import os
import subprocess
import sys
from dataclasses import replace

import pytest

from curate.wordnet import nltk_backend, snapshot
from curate.errors import SnapshotMismatch, WordNetMissing


def test_snapshot_equals_nltk_for_every_noun_synset(nltk_synsets):
    synsets = nltk_synsets
    assert len(synsets) == snapshot.NOUN_SYNSET_COUNT == 82_115
    snapshot.compare_snapshot(synsets)  # raises on any difference
    dog = next(s for s in synsets if s.name == "dog.n.01")
    assert (dog.offset, dog.lemmas[0]) == (2084071, "dog")


def test_snapshot_check_fails_on_a_changed_snapshot(nltk_synsets, tmp_path):
    synsets = snapshot.read_snapshot()
    changed = [replace(s, hypernyms=()) if s.name == "dog.n.01" else s for s in synsets]
    path = tmp_path / "snapshot.zip"
    snapshot.write_snapshot(changed, path)
    with pytest.raises(SnapshotMismatch, match="differs from NLTK's WordNet in 1 synsets \\(first: n02084071\\)"):
        snapshot.compare_snapshot(nltk_synsets, path)


def test_snapshot_is_byte_stable(tmp_path):
    path = tmp_path / "again.zip"
    snapshot.write_snapshot(snapshot.read_snapshot(), path)
    assert path.read_bytes() == snapshot.SNAPSHOT_PATH.read_bytes()


def test_hierarchy_loads_every_noun(hierarchy):
    assert len(hierarchy) == 82_115
    assert hierarchy.lemma(hierarchy.node("n02085620")) == "Chihuahua"


@pytest.mark.skipif(not (nltk_backend.DEBIAN_WORDNET / "data.noun").is_file(), reason="Debian's wordnet-base is not installed")
def test_install_copies_debian_wordnet_that_nltk_then_reads(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    data = home / "nltk_data"
    script = (
        "import sys; from pathlib import Path; from curate.wordnet.nltk_backend import install_wordnet, nltk_wordnet;"
        "print(install_wordnet(Path(sys.argv[1]))); print(nltk_wordnet(Path(sys.argv[1])).synset('dog.n.01').offset())"
    )
    env = {**os.environ, "HOME": str(home), "NLTK_DATA": ""}
    out = subprocess.run([sys.executable, "-c", script, data], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() in (["debian", "2084071"], ["download", "2084071"])
    lexnames = (data / "corpora" / "wordnet" / "lexnames").read_text().splitlines()
    assert len(lexnames) == 45 and lexnames[3] == "03\tnoun.Tops\t1"
    assert not (data / "corpora" / "wordnet" / "data.noun").is_symlink()


def test_install_without_internet_or_debian_says_what_to_do(monkeypatch, tmp_path):
    import nltk

    monkeypatch.setattr(nltk_backend, "DEBIAN_WORDNET", tmp_path / "absent")
    monkeypatch.setattr(nltk, "download", lambda *a, **k: (_ for _ in ()).throw(ValueError("offline")))
    with pytest.raises(WordNetMissing, match="apt-get install wordnet-base wordnet-sense-index"):
        nltk_backend.install_wordnet(tmp_path / "nltk_data")
    assert not (tmp_path / "nltk_data" / "corpora" / "wordnet").exists()


def test_snapshot_columns_read_rows_like_lists():
    columns = snapshot.read_columns(snapshot.SNAPSHOT_PATH, ("name", "hypernyms"))
    names, hypernyms = list(columns["name"]), columns["hypernyms"]
    assert len(names) == len(columns["name"]) == len(hypernyms) == 82_115
    assert [columns["name"][row] for row in (0, 1, 41_000, -2, -1)] == [names[row] for row in (0, 1, 41_000, -2, -1)]
    assert (names[0], names[-1]) == ("entity.n.01", "9/11.n.01")
    dog = names.index("dog.n.01")
    assert sorted(names[row] for row in hypernyms[dog]) == ["canine.n.02", "domestic_animal.n.01"]
    assert hypernyms[-1] == hypernyms[len(hypernyms) - 1]
