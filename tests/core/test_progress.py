"""Progress in one form: the library's callback, the rich bar people see (on a terminal only), and track."""

from __future__ import annotations

import io

from rich.console import Console

from curate.progress import no_progress, progress_bar, track


def recorder():
    """A progress callback that records what it was told."""
    told = []

    def progress(description, total):
        told.append(("start", description, total))
        return lambda n=1, status=None: told.append(("advance", n, status))

    return progress, told


def test_track_yields_every_item_and_advances_once_each_after_it():
    progress, told = recorder()
    seen = []
    for item in track(["a", "b", "c"], "Checking", progress):
        seen.append((item, len(told)))
    assert seen == [("a", 1), ("b", 2), ("c", 3)]  # an item is counted once the loop has done it
    assert told == [("start", "Checking", 3), *[("advance", 1, None)] * 3]
    assert list(track(iter("xy"), "Reading", no_progress)) == ["x", "y"]


def console(terminal: bool) -> Console:
    return Console(file=io.StringIO(), force_terminal=terminal, width=120)


def test_a_bar_on_a_terminal_shows_the_count_and_the_status():
    screen = console(True)
    with progress_bar(screen) as progress:
        advance = progress("Packing images", 8)
        advance(3, status="loss 2.310")
        advance()
    drawn = screen.file.getvalue()
    assert "Packing images" in drawn and "4/8" in drawn and "loss 2.310" in drawn


def test_no_bar_in_a_pipe_or_when_not_enabled():
    for screen, enabled in ((console(False), True), (console(True), False)):
        with progress_bar(screen, enabled=enabled) as progress:
            progress("Packing images", 8)(8, status="loss 2.310")
        assert screen.file.getvalue() == ""


def test_progress_imports_neither_typer_nor_rich_until_a_bar_is_made():
    """train/ and any Python caller use it: it must not pull the CLI in, nor rich where no bar is drawn."""
    import subprocess
    import sys

    loaded = subprocess.run([sys.executable, "-c", "import sys, curate.progress; print(sorted({'typer', 'rich', 'click'} & "
                             "{name.split('.')[0] for name in sys.modules}))"], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_a_finished_bar_goes_so_that_a_run_of_many_epochs_shows_one_at_a_time(monkeypatch):
    from rich.progress import Progress

    added, removed = [], []
    real_add, real_remove = Progress.add_task, Progress.remove_task
    monkeypatch.setattr(Progress, "add_task", lambda self, *a, **kw: added.append(real_add(self, *a, **kw)) or added[-1])
    monkeypatch.setattr(Progress, "remove_task", lambda self, task: removed.append(task) or real_remove(self, task))
    with progress_bar(console(True)) as progress:
        for epoch in range(3):
            advance = progress(f"epoch {epoch + 1}", 2)
            advance()
            assert len(added) - len(removed) == 1  # this epoch's bar alone
            advance()
    assert removed == added
