"""NLTK's WordNet 3.0: install it (download, or copy Debian's package offline) and read every noun synset
from it, to rebuild or check the embedded snapshot."""

from __future__ import annotations

import io
import secrets
import shutil
import warnings
from pathlib import Path

from curate.errors import BadOutput, WordNetMissing
from curate.fileio import check_folder_writable, new_folders
from curate.progress import Progress, no_progress, track
from curate.wordnet.snapshot import NOUN_SYNSET_COUNT, WORDNET_VERSION, NounSynset

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


def nltk_wordnet(nltk_data: Path | None = None):
    """NLTK's WordNet reader, checked to be version 3.0."""
    import nltk

    if nltk_data is not None:
        check_holds_wordnet(nltk_data)
        if str(nltk_data) not in nltk.data.path:
            nltk.data.path.insert(0, str(nltk_data))
    from nltk.corpus import wordnet

    try:
        wordnet.ensure_loaded()
    except LookupError:
        raise WordNetMissing(
            "NLTK cannot find WordNet 3.0: run `curate wordnet install` (it downloads it, or copies "
            "Debian's wordnet-base package), or point `nltk_data` at an nltk_data folder."
        ) from None
    if wordnet.get_version() != WORDNET_VERSION:
        raise WordNetMissing(
            f"NLTK found WordNet {wordnet.get_version()}, but ImageNet ids are WordNet 3.0 offsets: "
            "install WordNet 3.0 with `curate wordnet install`."
        )
    return wordnet


def check_holds_wordnet(nltk_data: Path) -> None:
    """Refuse an nltk_data folder given by name that is missing or holds no WordNet: NLTK would quietly read
    WordNet from another folder on its search path."""
    if not nltk_data.is_dir():
        raise WordNetMissing(f"{nltk_data} is not a folder: give the nltk_data folder WordNet is installed in.")
    if not holds_wordnet(nltk_data):
        raise WordNetMissing(f"{nltk_data} holds no WordNet (no corpora/wordnet in it): give the nltk_data folder "
                             f"WordNet is installed in, or run `curate wordnet install --nltk-data {nltk_data}`.")


def synsets_from_nltk(wordnet, progress: Progress = no_progress) -> list[NounSynset]:
    """Every noun synset as NLTK reports it.

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
            for s in track(wordnet.all_synsets("n"), "Reading WordNet", progress, NOUN_SYNSET_COUNT)
        ),
        key=lambda s: s.offset,
    )


def install_wordnet(data_dir: Path = DEFAULT_NLTK_DATA) -> str:
    """Make WordNet 3.0 available to NLTK under `data_dir`; return how: 'present', 'download' or 'debian'."""
    import nltk

    if holds_wordnet(data_dir):
        return "present"
    check_folder_writable(data_dir, "WordNet")
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


def holds_wordnet(data_dir: Path) -> bool:
    return (data_dir / "corpora" / "wordnet").is_dir() or (data_dir / "corpora" / "wordnet.zip").is_file()


def copy_debian_wordnet(source: Path, target: Path) -> None:
    """Copy (not link: NLTK refuses paths outside its data folders) the database and add `lexnames`."""
    staging = target.parent / f".wordnet-{secrets.token_hex(8)}"  # not mkdtemp's: its 0700 would stay on the folder
    with new_folders(target.parent):  # a failed copy leaves none of the folders it made
        try:
            staging.mkdir()
            for path in sorted(source.iterdir()):
                if path.is_file():
                    shutil.copyfile(path, staging / path.name)
            (staging / "lexnames").write_text(
                "".join(f"{i:02d}\t{name}\t{LEXNAME_CATEGORY[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES))
            )
            staging.rename(target)
        except OSError as error:
            raise BadOutput(f"Cannot copy WordNet into {target}: {error.strerror or error}.") from None
        finally:  # an interrupted copy leaves no half-filled folder behind
            shutil.rmtree(staging, ignore_errors=True)
