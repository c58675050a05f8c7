"""Run settings, each declared once: a config field whose metadata says everything else about it.

    lr: float = setting(0.1, "learning rate", rule=(lambda v: v >= 0, "0 or more"), role="run")

From that one declaration come its flag (`flags.py` builds the parser from the config classes), the check of
its value (`check`), its type check in an experiment file (`typed`), whether it defines a run (`defining`:
a resumed run keeps it, and it is part of a grid cell's key), the flags that give it back to torchrun
(`argv_of`), and how a sentence names it (`WORDS`). A library sentence names a setting by its field name in
backquotes (`` `lr` must be 0 or more ``); the layer that knows the user's words puts them in: `--lr` on the
command line, `lr` in an experiment file.

Roles: "run" settings make a run the run it is (a resumed run keeps them; they are in a grid cell's key);
"length" settings are in the key too, but a resumed run may lengthen them; the others (paths, workers, the
device, quiet) change nothing a run computes.
"""

from __future__ import annotations

import difflib
import functools
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from train.errors import TrainError

ROLES = ("", "run", "length")


@dataclass(frozen=True)
class Setting:
    """What a config field's declaration says besides its name, type and default."""

    help: str
    flags: tuple[str, ...] = ()  # () gives --field-name
    choices: tuple = ()
    rule: tuple[Callable[[typing.Any], bool], str] | None = None  # the test a value must pass, and what it must be
    role: str = ""
    group: str = "system"  # the --help section it is listed in ("": the command's own options)
    default_help: str | None = None  # how --help names the default where the value does not say it
    positional: bool = False
    metavar: str | None = None


def setting(default=MISSING, help: str = "", **declaration) -> typing.Any:
    """A config field declared with everything the parser, the checks, the grid and the experiment file need."""
    if declaration.get("role", "") not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    return field(default=default, metadata={"setting": Setting(help, **declaration)})


def inherited(config: type, name: str, default) -> typing.Any:
    """The declaration of `name` in `config`, with another default (a command whose defaults differ)."""
    declared = next(f for f in fields(config) if f.name == name)
    return field(default=default, metadata=declared.metadata)


@dataclass(frozen=True)
class Declared:
    name: str
    type: type  # int, float, str, bool or Path (an optional setting: its type without None)
    optional: bool
    default: typing.Any  # MISSING for a required setting
    setting: Setting

    @property
    def flags(self) -> tuple[str, ...]:
        return self.setting.flags or ("--" + self.name.replace("_", "-"),)

    @property
    def words(self) -> str:
        """How a sentence names it: its short and long flag (-b/--batch-size), or its first long one."""
        if self.setting.positional:
            return self.name.upper()
        short = [f for f in self.flags if not f.startswith("--")]
        return "/".join([*short, next(f for f in self.flags if f.startswith("--"))])


@functools.cache
def declared(config: type) -> tuple[Declared, ...]:
    """Every setting of a config class, in declaration order."""
    hints = typing.get_type_hints(config)
    result = []
    for f in fields(config):
        kind = hints[f.name]
        options = typing.get_args(kind) if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union else ()
        optional = type(None) in options
        kind = next(k for k in options if k is not type(None)) if options else kind
        result.append(Declared(f.name, kind, optional, f.default, f.metadata["setting"]))
    return tuple(result)


def declaration(config: type, name: str) -> Declared:
    return next(d for d in declared(config) if d.name == name)


def defaults(config: type) -> dict:
    """Field name -> default, for the fields of `config` that have one."""
    return {d.name: d.default for d in declared(config) if d.default is not MISSING}


def with_role(config: type, *roles: str) -> tuple[str, ...]:
    return tuple(d.name for d in declared(config) if d.setting.role in roles)


def defining(config) -> dict:
    """The settings that make the run what it is (its "run" and "length" settings), by name: a grid cell's
    key and what results.json says the run was."""
    return {name: getattr(config, name) for name in with_role(type(config), "run", "length")}


# --- values ------------------------------------------------------------------------------------------------

KINDS = {int: "a whole number", float: "a number", bool: "true or false", str: "a string", Path: "a path (a string)"}


def of_kind(value, kind: type) -> bool:
    """Whether a value an experiment file gives (TOML: whole numbers, numbers, booleans, strings) can be a
    `kind` (one of KINDS)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return {int: number and isinstance(value, int), float: number, bool: isinstance(value, bool),
            str: isinstance(value, str), Path: isinstance(value, str)}[kind]


def typed(config: type, name: str, value):
    """`value` as the setting `name` of `config` holds it, from a value an experiment file gives; a value of
    another type is an error naming the type it must be."""
    kind = declaration(config, name).type
    if not of_kind(value, kind):
        raise TrainError(f"`{name}` must be {KINDS[kind]}, not {value!r}.")
    return Path(value) if kind is Path else float(value) if kind is float else value


def either(choices) -> str:
    """'a, b or c'."""
    choices = [str(c) for c in choices]
    return choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + " or " + choices[-1]


def suggestion(word, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_values(config) -> None:
    """Raise TrainError, in one sentence, for the first setting of `config` whose value breaks its own rule."""
    for d in declared(type(config)):
        value = getattr(config, d.name)
        if value is None and (d.optional or d.default is None):
            continue
        if d.setting.choices and value not in d.setting.choices:
            raise TrainError(f"`{d.name}` must be {either(d.setting.choices)}, not {value!r}{suggestion(value, d.setting.choices)}.")
        if d.setting.rule is not None and not d.setting.rule[0](value):
            raise TrainError(f"`{d.name}` must be {d.setting.rule[1]}, not {value!r}.")


def argv_of(config) -> list[str]:
    """The flags that give `config` (each setting whose value is not its default), for a fresh process."""
    argv = []
    for d in declared(type(config)):
        value = getattr(config, d.name)
        if d.default is not MISSING and (value == d.default or value is None):
            continue
        if d.setting.positional:
            argv.append(str(value))
        elif d.type is bool:
            argv += [d.flags[-1]] if value else []
        else:
            argv += [next(f for f in d.flags if f.startswith("--")), str(value)]
    return argv


def words_of(*configs: type) -> dict[str, str]:
    """Setting name -> how the command line names it, for every setting of `configs`."""
    return {d.name: d.words for config in configs for d in declared(config)}


def as_given(name: str, value) -> str:
    """A setting and its value as a sentence names it: '`lr` 0.1', '`amp`', 'no `amp`'."""
    if isinstance(value, bool):
        return f"`{name}`" if value else f"no `{name}`"
    return f"`{name}` {value}"
