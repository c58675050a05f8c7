"""Build the paper's label sets through curate and through a direct NLTK walk, in cold processes; and
every preset through `curate build`, against one NLTK load of WordNet.

Run: uv run python bench/bench_coarsen.py [--repeat 5]
Prints each variant's median time and its speed-up over the NLTK baselines measured in the same run.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import pty
import subprocess
import sys
import tempfile
from pathlib import Path

import curate

from common import interleaved_runs, report, run_python, timed_runs

PAPER_SETS = "depths = [15, 12, 9, 6, 3]; lifts = [1, 2, 3]"

CURATE = PAPER_SETS + """
import json
from curate.labels.classlists import builtin_list
from curate.labels.recipes import coarsen
from curate.wordnet.snapshot import load_hierarchy
tree, base = load_hierarchy().tree(), builtin_list("ilsvrc2012")
counts = [coarsen(tree, base, depth=d).label_count for d in depths]
counts += [coarsen(tree, base, lift=k).label_count for k in lifts]
print(json.dumps(counts))
"""

# The same two recipes written directly against NLTK: the first-name tree over hypernyms and
# instance hypernyms, depth cuts and repeated lifts with absorption.
NLTK = PAPER_SETS + """
import json
from importlib.resources import files
from nltk.corpus import wordnet as wn
wnids = files("curate").joinpath("data/ilsvrc2012.txt").read_text().split()
classes = [wn.synset_from_pos_and_offset("n", int(w[1:])) for w in wnids]
paths = {}
def path(s):
    if s not in paths:
        parents = s.hypernyms() + s.instance_hypernyms()
        paths[s] = (path(min(parents, key=lambda p: p.name())) if parents else ()) + (s,)
    return paths[s]
counts = [len({path(s)[min(d, len(path(s)) - 1)] for s in classes}) for d in depths]
for k in lifts:
    label = {s: s for s in classes}
    for _ in range(k):
        lifted = {s: (path(l)[-2] if len(path(l)) > 1 else l) for s, l in label.items()}
        labels = set(lifted.values())
        label = {s: next(a for a in path(l) if a in labels) for s, l in lifted.items()}
    counts.append(len(set(label.values())))
print(json.dumps(counts))
"""

CLI = "import sys; sys.argv = ['curate', 'coarsen', '--depth', '3']; from curate.cli import main; main()"
BUILD = "import sys; sys.argv = ['curate', 'build', '-q', '--out', sys.argv[1]]; from curate.cli import main; main()"
# The floor any Typer command stands on: import typer, build a two-command app, parse one option.
TYPER_FLOOR = """
import sys, typer
app = typer.Typer()
@app.command()
def coarsen(depth: int = typer.Option(None, "--depth")):
    print(depth)
@app.command()
def other():
    pass
sys.argv = ["curate", "coarsen", "--depth", "3"]
app()
"""
NLTK_LOAD = "from nltk.corpus import wordnet as wn; wn.ensure_loaded(); wn.synset('dog.n.01')"


def run_on_terminal(code: str) -> None:
    """Run `code` in a fresh interpreter whose stdout and stderr are a terminal (a pseudo-terminal)."""
    main, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-c", code], stdout=terminal, stderr=terminal)
    os.close(terminal)
    try:
        while os.read(main, 1 << 16):  # drain it, so that the command never waits on a full terminal
            pass
    except OSError:  # EIO: the command has exited and closed the terminal
        pass
    os.close(main)
    if process.wait():
        raise subprocess.CalledProcessError(process.returncode, code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--back-to-back", action="store_true",
                        help="Time each short variant's runs one after another (warm, as when a user repeats a "
                        "command), instead of in turns with the others.")
    args = parser.parse_args()
    # An installed curate has bytecode; a checkout run with PYTHONDONTWRITEBYTECODE (as on the development
    # machine) would otherwise recompile every curate module in every timed process (~30 ms).
    compileall.compile_dir(Path(curate.__file__).parent, quiet=1)
    curate_counts, nltk_counts = json.loads(run_python(CURATE)), json.loads(run_python(NLTK))
    assert curate_counts == nltk_counts, (curate_counts, nltk_counts)
    print(f"paper sets (depth 15, 12, 9, 6, 3; lift 1, 2, 3): {curate_counts} classes, both ways")
    # The NLTK baselines (seconds each) run apart from the short variants, which take turns among themselves:
    # a short process that follows a 4-second one starts on cold caches.
    rows = interleaved_runs({
        "nltk: load WordNet + build paper sets": lambda: run_python(NLTK),
        "nltk: load WordNet only": lambda: run_python(NLTK_LOAD),
    }, args.repeat)
    short = {
        "curate: load snapshot + build paper sets": lambda: run_python(CURATE),
        "curate coarsen --depth 3 (whole CLI)": lambda: run_python(CLI),
        "the same on a terminal (a rich table)": lambda: run_on_terminal(CLI),
        "typer alone (two commands, one option)": lambda: run_python(TYPER_FLOOR),
        "python -c pass (interpreter start)": lambda: run_python("pass"),
    }
    if args.back_to_back:
        rows += [(name, timed_runs(work, args.repeat)) for name, work in short.items()]
    else:
        rows += interleaved_runs(short, args.repeat)
    report(rows, baseline="nltk: load WordNet + build paper sets")
    print()
    with tempfile.TemporaryDirectory() as out:
        rows = [
            ("nltk: load WordNet only", rows[1][1]),
            ("curate build (all 16 presets, written)", timed_runs(lambda: run_python(BUILD, out), args.repeat)),
        ]
    report(rows, baseline="nltk: load WordNet only")


if __name__ == "__main__":
    main()
