"""`curate wordnet ...`: install WordNet 3.0 for NLTK; rebuild or check the embedded snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from curate.cli.common import QUIET_OPTION, App, check_output, flag, say, stderr_console

app = App(help="Install WordNet 3.0 for NLTK; rebuild or check the embedded snapshot.", no_args_is_help=True)

NLTK_DATA_OPTION = typer.Option(None, "--nltk-data", help="An nltk_data folder to use (default: NLTK's search path; install writes ~/nltk_data).")


@app.command("install")
def wordnet_install(nltk_data: Optional[Path] = NLTK_DATA_OPTION, quiet: bool = QUIET_OPTION):
    """Make WordNet 3.0 available to NLTK: download it, or copy Debian's wordnet-base package where offline."""
    from curate.wordnet.nltk_backend import DEFAULT_NLTK_DATA, install_wordnet

    target = nltk_data or DEFAULT_NLTK_DATA
    how = install_wordnet(target)
    messages = {
        "present": "WordNet is already installed in",
        "download": "WordNet 3.0 downloaded into",
        "debian": "WordNet 3.0 copied from Debian's wordnet-base into",
    }
    say(f"{messages[how]} {target}", quiet)


@app.command("snapshot")
def wordnet_snapshot(
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Where to write the snapshot (default: the one shipped with curate)."),
    check: bool = flag("--check", help="Write nothing; fail if the shipped snapshot differs from NLTK's WordNet."),
    nltk_data: Optional[Path] = NLTK_DATA_OPTION,
    quiet: bool = QUIET_OPTION,
):
    """Rebuild the embedded noun snapshot from NLTK's WordNet 3.0 (takes a minute), or check it."""
    from curate.wordnet.nltk_backend import nltk_wordnet, synsets_from_nltk
    from curate.progress import progress_bar
    from curate.wordnet.snapshot import SNAPSHOT_PATH, compare_snapshot, write_snapshot

    if not check:
        check_output(output or SNAPSHOT_PATH)
    console = stderr_console(quiet)
    wordnet = nltk_wordnet(nltk_data)
    with progress_bar(console) as progress:
        synsets = synsets_from_nltk(wordnet, progress)
    if check:
        compare_snapshot(synsets, output or SNAPSHOT_PATH)
        console.print(f"{output or SNAPSHOT_PATH} matches NLTK's WordNet 3.0: {len(synsets):,} noun synsets.", highlight=False)
        return
    write_snapshot(synsets, output or SNAPSHOT_PATH)
    typer.echo(str(output or SNAPSHOT_PATH))
