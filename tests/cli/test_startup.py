"""How the command line starts: a short command loads only what it needs (its own command module, no rich in
a pipe, no dataframes), and the shell completes commands, options and choices."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import typer

from curate.cli import COMMAND_MODULES, app

LOADED = """
import json, sys
sys.argv = ["curate", *sys.argv[1:]]
from curate.cli import main
try:
    main()
except SystemExit:
    pass
loaded = [m for m in ("curate.cli.images", "curate.cli.manifests", "curate.cli.explore", "rich", "polars", "pyarrow",
                      "curate.fileio", "pandas") if m in sys.modules]
print(json.dumps(loaded), file=sys.stderr)
"""


def modules_loaded_by(*args: str) -> list[str]:
    run = subprocess.run([sys.executable, "-c", LOADED, *args], capture_output=True, text=True, check=True)
    return json.loads(run.stderr.splitlines()[-1])


def test_coarsen_in_a_pipe_loads_no_other_command_nor_rich_nor_dataframes_nor_file_writing():
    assert modules_loaded_by("coarsen", "--depth", "3") == []


def test_indexing_class_folders_loads_no_dataframe_library(tmp_path):
    (tmp_path / "train" / "n01440764").mkdir(parents=True)
    (tmp_path / "train" / "n01440764" / "a.JPEG").write_bytes(b"x")
    loaded = modules_loaded_by("images", "index", str(tmp_path / "train"), "-o", str(tmp_path / "i.parquet"), "-q")
    assert (tmp_path / "i.parquet").is_file()
    assert "pyarrow" in loaded and "pandas" not in loaded and "polars" not in loaded  # pyarrow imports pandas, unless
    # kept from calls that do (pa.array of a list, pa.scalar): half a second of a command's start


def test_help_loads_every_command():
    assert modules_loaded_by("--help")[:3] == ["curate.cli.images", "curate.cli.manifests", "curate.cli.explore"]


def test_the_command_table_lists_exactly_the_commands_each_module_defines():
    defined = {}
    for module in dict.fromkeys(COMMAND_MODULES.values()):
        sub_app = importlib.import_module(f"curate.cli.{module}").app
        names = [info.name or info.callback.__name__ for info in sub_app.registered_commands]
        defined.update({module: module} if module in COMMAND_MODULES else dict.fromkeys(names, module))
    assert defined == COMMAND_MODULES
    assert list(typer.main.get_command(app).list_commands(None)) == list(COMMAND_MODULES)


CURATE = Path(sys.executable).parent / "curate"  # the installed entry point, named as users type it


def completions(*words: str) -> list[str]:
    """What bash completion offers for the last of `words` (after `curate`)."""
    env = {**os.environ, "_CURATE_COMPLETE": "complete_bash", "COMP_WORDS": " ".join(["curate", *words]),
           "COMP_CWORD": str(len(words))}
    return subprocess.run([CURATE], env=env, capture_output=True, text=True, check=True).stdout.split()


def test_the_shell_completes_commands_options_and_choices():
    assert completions("coa") == ["coarsen"]
    assert completions("images", "i") == ["index"]
    assert completions("coarsen", "--de") == ["--depth"]
    assert completions("coarsen", "--tree", "") == ["first-name", "first-offset", "breeds"]


def test_show_completion_prints_the_script_for_the_shell_it_runs_in():
    script = subprocess.run(["bash", "-c", f"{CURATE} --show-completion"], capture_output=True, text=True, check=True)
    assert "complete -o default -F _curate_completion curate" in script.stdout
    assert "_CURATE_COMPLETE=complete_bash" in script.stdout
