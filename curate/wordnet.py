"""WordNet 3.0 nouns: the embedded snapshot, the NLTK backend that rebuilds it, and the NLTK data installer.

The snapshot holds, for every noun synset, its offset, NLTK name, lemma names, hypernym and instance-hypernym
offsets and definition. Loading it takes milliseconds; loading WordNet through NLTK takes seconds, so NLTK is
only needed to rebuild the snapshot and to check it.
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from curate.errors import BadWnid, SnapshotMismatch, WordNetMissing
from curate.fileio import atomic_path

WORDNET_VERSION = "3.0"
NOUN_SYNSET_COUNT = 82_115
SNAPSHOT_PATH = Path(__file__).parent / "data" / "wordnet-3.0-nouns.zip"
SNAPSHOT_COLUMNS = ("offset", "name", "lemmas", "hypernyms", "instance_hypernyms", "definition")
DEBIAN_WORDNET = Path("/usr/share/wordnet")
DEFAULT_NLTK_DATA = Path.home() / "nltk_data"

# The 45 lexicographer files of WordNet 3.0 (number, name, syntactic category). NLTK needs this `lexnames`
# file beside the database; Debian's packages do not ship it.
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
LEXNAME_CATEGORY = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}

WNID_PATTERN = re.compile(r"n\d{8}")


@dataclass(frozen=True)
class NounSynset:
    offset: int
    name: str
    lemmas: tuple[str, ...]
    hypernyms: tuple[int, ...]
    instance_hypernyms: tuple[int, ...]
    definition: str


def wnid(offset: int) -> str:
    """The ImageNet id of a noun offset: `n` + 8 digits."""
    return f"n{offset:08d}"


def parse_wnid(text: str) -> int:
    """The offset of a wnid; a sentence saying what is wrong when `text` is not shaped like one."""
    if not WNID_PATTERN.fullmatch(text):
        raise BadWnid(f"{text!r} is not a WordNet 3.0 noun id: ids look like n01440764.")
    return int(text[1:])


# --- the snapshot --------------------------------------------------------------------------------------
# A zip archive with one member per column, one line per synset, rows sorted by offset. Columns are read
# separately, so the hierarchy loads without the definitions, and nothing is parsed before it is asked for.


def write_snapshot(synsets: list[NounSynset], path: Path) -> None:
    rows = sorted(synsets, key=lambda s: s.offset)
    columns = {
        "offset": [f"{s.offset:08d}" for s in rows],
        "name": [s.name for s in rows],
        "lemmas": [" ".join(s.lemmas) for s in rows],
        "hypernyms": [" ".join(f"{h:08d}" for h in s.hypernyms) for s in rows],
        "instance_hypernyms": [" ".join(f"{h:08d}" for h in s.instance_hypernyms) for s in rows],
        "definition": [s.definition for s in rows],
    }
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w") as archive:
        for column, values in columns.items():
            if any("\n" in value for value in values):
                raise ValueError(f"a value of column {column} holds a newline")
            # A fixed date keeps the archive byte-stable.
            member = zipfile.ZipInfo(f"{column}.txt", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(member, "\n".join(values), zipfile.ZIP_DEFLATED, compresslevel=9)


def read_columns(path: Path, columns: tuple[str, ...]) -> dict[str, list[str]]:
    """The raw text values of some snapshot columns."""
    with zipfile.ZipFile(path) as archive:
        return {column: archive.read(f"{column}.txt").decode().split("\n") for column in columns}


def read_snapshot(path: Path = SNAPSHOT_PATH) -> list[NounSynset]:
    """Every synset of a snapshot, fully parsed (slow: for checks, not for lookups)."""
    columns = read_columns(path, SNAPSHOT_COLUMNS)

    def offsets(text: str) -> tuple[int, ...]:
        return tuple(map(int, text.split()))

    return [
        NounSynset(int(offset), name, tuple(lemmas.split()), offsets(hyper), offsets(instance), definition)
        for offset, name, lemmas, hyper, instance, definition in zip(*columns.values())
    ]


@cache
def load_hierarchy(path: Path = SNAPSHOT_PATH):
    """The noun hierarchy of a snapshot (by default the embedded one), loaded once per process."""
    from curate.hierarchy import Hierarchy

    columns = read_columns(path, ("offset", "name", "lemmas", "hypernyms", "instance_hypernyms"))
    return Hierarchy(*columns.values())


def definitions(path: Path = SNAPSHOT_PATH) -> list[str]:
    """The definition of every synset, in snapshot order."""
    return read_columns(path, ("definition",))["definition"]


# --- the NLTK backend ----------------------------------------------------------------------------------


def nltk_wordnet(data_dir: Path | None = None):
    """NLTK's WordNet reader, checked to be version 3.0."""
    import nltk

    if data_dir is not None and str(data_dir) not in nltk.data.path:
        nltk.data.path.insert(0, str(data_dir))
    from nltk.corpus import wordnet

    try:
        wordnet.ensure_loaded()
    except LookupError:
        raise WordNetMissing(
            "NLTK cannot find WordNet 3.0: run `curate wordnet install` (it downloads it, or copies "
            "Debian's wordnet-base package), or point --nltk-data at an nltk_data folder."
        ) from None
    if wordnet.get_version() != WORDNET_VERSION:
        raise WordNetMissing(
            f"NLTK found WordNet {wordnet.get_version()}, but ImageNet ids are WordNet 3.0 offsets: "
            "install WordNet 3.0 with `curate wordnet install`."
        )
    return wordnet


def synsets_from_nltk(wordnet, track=iter) -> list[NounSynset]:
    """Every noun synset as NLTK reports it (`track` wraps the iteration, e.g. in a progress bar).

    Hypernyms are sorted by offset: NLTK returns them in set order, which changes with PYTHONHASHSEED."""
    return sorted(
        (
            NounSynset(
                s.offset(),
                s.name(),
                tuple(s.lemma_names()),
                tuple(sorted(h.offset() for h in s.hypernyms())),
                tuple(sorted(h.offset() for h in s.instance_hypernyms())),
                s.definition(),
            )
            for s in track(wordnet.all_synsets("n"))
        ),
        key=lambda s: s.offset,
    )


def compare_snapshot(synsets: list[NounSynset], path: Path = SNAPSHOT_PATH) -> None:
    """Raise unless the snapshot at `path` holds exactly `synsets`."""
    shipped = {s.offset: s for s in read_snapshot(path)}
    fresh = {s.offset: s for s in synsets}
    differing = sorted(o for o in shipped.keys() | fresh.keys() if shipped.get(o) != fresh.get(o))
    if differing:
        raise SnapshotMismatch(
            f"{path} differs from NLTK's WordNet in {len(differing)} synsets (first: {wnid(differing[0])}): "
            "rebuild it with `curate wordnet snapshot`."
        )


def install_wordnet(data_dir: Path = DEFAULT_NLTK_DATA) -> str:
    """Make WordNet 3.0 available to NLTK under `data_dir`; return how: 'present', 'download' or 'debian'."""
    import nltk

    if (data_dir / "corpora" / "wordnet").is_dir() or (data_dir / "corpora" / "wordnet.zip").is_file():
        return "present"
    try:
        # NLTK reports failures on stderr, and warns, even when quiet; the fallback below speaks for them.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if nltk.download(
                "wordnet", download_dir=str(data_dir), quiet=True, raise_on_error=True, print_error_to=io.StringIO()
            ):
                return "download"
    except (ValueError, OSError):
        pass
    if not (DEBIAN_WORDNET / "data.noun").is_file():
        raise WordNetMissing(
            "WordNet 3.0 could not be downloaded and Debian's copy is not installed: run "
            "`apt-get install wordnet-base wordnet-sense-index`, then `curate wordnet install` again."
        )
    copy_debian_wordnet(DEBIAN_WORDNET, data_dir / "corpora" / "wordnet")
    return "debian"


def copy_debian_wordnet(source: Path, target: Path) -> None:
    """Copy (not link: NLTK refuses paths outside its data folders) the database and add `lexnames`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".wordnet-", dir=target.parent))
    for path in sorted(source.iterdir()):
        if path.is_file():
            shutil.copyfile(path, staging / path.name)
    (staging / "lexnames").write_text(
        "".join(f"{i:02d}\t{name}\t{LEXNAME_CATEGORY[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES))
    )
    staging.rename(target)
