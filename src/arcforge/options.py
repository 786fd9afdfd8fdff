"""The one configuration mechanism: typed dataclasses, with a docstring under each field, are the
command line of `arcforge solve` and `arcforge train` (built by tyro) and the schema of their
config files (TOML).

    cmd = parse(SolveCommand, argv, "arcforge solve", table="solve")

Precedence, lowest first: the dataclass defaults, `base` (a saved run's settings, a recipe), the
file given by the command's `config` field, the flags. A field's flag is its name in kebab case; a
nested dataclass's fields take its name as a prefix (`--tasknet.views`) unless the field is marked
`OmitArgPrefixes`. Field types carry their own parsing (`text`: durations, comma lists) and ranges
(`Range`), checked for flags and files alike. Every mistake is an ArcError of one line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import re
import types
import typing
from collections.abc import Callable

import tyro
from tyro.constructors import PrimitiveConstructorSpec

from arcforge.errors import ArcError

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

T = typing.TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Range:
    """A number field's bounds, in `Annotated[int, Range(1, 64)]`: low <= value <= high (above: low < value)."""
    low: float | None = None
    high: float | None = None
    above: bool = False

    def problem(self, value) -> str | None:
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if not math.isfinite(value):
            return f"must be a finite number, got {value}"
        if (self.low is not None and (value < self.low or (self.above and value == self.low))) or (
                self.high is not None and value > self.high):
            rng = (f"above {self.low}" if self.above else f"at least {self.low}") if self.high is None else \
                f"from {self.low} to {self.high}"
            return f"must be {rng}, got {value}"
        return None


def text(metavar: str, parse: Callable[[str], object], kind: type | tuple[type, ...]) -> PrimitiveConstructorSpec:
    """A field read from one word of text by `parse` (which raises ValueError on bad text), e.g. a
    duration "30m" into seconds; in a config file the field takes the parsed type or the text."""
    def show(value) -> list[str]:
        return [",".join(value) if isinstance(value, list) else str(value)]

    return PrimitiveConstructorSpec(nargs=1, metavar=metavar, instance_from_str=lambda args: parse(args[0]),
                                    is_instance=lambda v: v is None or isinstance(v, kind), str_from_instance=show)


def commas(value: str) -> list[str]:
    return [v for v in value.split(",") if v]


def duration(value: str) -> float:
    from arcforge.errors import parse_duration

    try:
        seconds = parse_duration(value)
    except ArcError as e:
        raise ValueError(str(e)) from None
    if seconds <= 0:
        raise ValueError(f"must be longer than 0, got '{value}'")
    return seconds


def device(value: str) -> str:
    if not re.fullmatch(r"cpu|cuda(:\d+)?", value):
        raise ValueError(f"use cpu, cuda or cuda:N, got '{value}'")
    return value


def shard(value: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)/(\d+)", value)
    if not m or not int(m[1]) < int(m[2]):
        raise ValueError(f"takes I/K with 0 <= I < K (e.g. 0/4), got '{value}'")
    return int(m[1]), int(m[2])


# the field types used across the settings
Duration = text("DURATION", duration, (int, float))  # 90s, 30m, 12h
Commas = text("A,B,...", commas, list)  # comma-separated words
Device = text("DEVICE", device, str)  # cpu, cuda, cuda:N
Shard = text("I/K", shard, tuple)  # one shard of K


def _hints(cls) -> dict[str, object]:
    return typing.get_type_hints(cls, include_extras=True)


def _split(hint) -> tuple[object, list]:
    """(the type without Annotated, its annotations)."""
    if typing.get_origin(hint) is typing.Annotated:
        base, *extra = typing.get_args(hint)
        inner, more = _split(base)
        return inner, extra + more
    return hint, []


def _nested(hint) -> type | None:
    base, _ = _split(hint)
    return base if dataclasses.is_dataclass(base) else None


def _accepts(hint, value) -> bool:
    """Whether a config-file value fits a field's type."""
    base, extra = _split(hint)
    for spec in extra:
        if isinstance(spec, PrimitiveConstructorSpec) and isinstance(value, str):
            return True  # text the field parses
    options = typing.get_args(base) if typing.get_origin(base) in (typing.Union, types.UnionType) else (base,)
    for t in options:
        origin = typing.get_origin(t)
        if t is type(None) and value is None:
            return True
        if origin is typing.Literal and value in typing.get_args(t):
            return True
        if origin in (list, tuple) and isinstance(value, list):
            item = (typing.get_args(t) or (object,))[0]
            if all(item is object or isinstance(v, item) for v in value):
                return True
        if t is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if t in (str, bool) and type(value) is t:
            return True
    return False


def _parsed(hint, value):
    """A config-file value in the field's type: text run through the field's parser."""
    _, extra = _split(hint)
    for spec in extra:
        if isinstance(spec, PrimitiveConstructorSpec) and isinstance(value, str):
            return spec.instance_from_str([value])
    if isinstance(value, list) and typing.get_origin(_split(hint)[0]) is tuple:
        return tuple(value)
    return value


def _keys(cls) -> dict[str, tuple[str, ...]]:
    """A config file's keys for cls (its flag names, with _ or -, and its field names) -> the field path
    each sets; the fields of a nested dataclass marked OmitArgPrefixes are keys at this level too."""
    keys = {}
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        extra = _split(hints[f.name])[1]
        sub = _nested(hints[f.name])
        if sub is not None and any(spec is tyro.conf.OmitArgPrefixes for spec in extra):
            keys.update({k: (f.name, *path) for k, path in _keys(sub).items()})
        flag = _flag(f.name, extra)
        keys.update({f.name: (f.name,), flag: (f.name,), flag.replace("-", "_"): (f.name,)})
    return keys


def update(obj: T, values: dict, source: str, prefix: str = "") -> T:
    """obj with `values` (a config file's table, a recipe, saved settings) put in: a key is a flag's
    name without its dashes (or the field's name), a nested table sets a nested dataclass. An unknown
    key or a value of the wrong type is an error naming `source` and the key."""
    if not isinstance(values, dict):
        raise ArcError(f"{source}: '{prefix.rstrip('.') or 'settings'}' must be a table of settings")
    keys = _keys(type(obj))
    for key, value in values.items():
        where = f"{prefix}{key}"
        if str(key) not in keys:
            known = sorted({k.replace("_", "-") for k in keys})
            raise ArcError(f"{source}: unknown setting '{where}' (known: {', '.join(known)})")
        obj = _put(obj, keys[str(key)], value, source, where)
    return obj


def _put(obj: T, path: tuple[str, ...], value, source: str, where: str) -> T:
    name, rest = path[0], path[1:]
    hint = _hints(type(obj))[name]
    if rest:
        return dataclasses.replace(obj, **{name: _put(getattr(obj, name), rest, value, source, where)})
    if _nested(hint) is not None:
        return dataclasses.replace(obj, **{name: update(getattr(obj, name), value, source, f"{where}.")})
    if not _accepts(hint, value):
        raise ArcError(f"{source}: setting '{where}' does not take {type(value).__name__} {value!r} "
                       f"(type {_describe(hint)})")
    try:
        return dataclasses.replace(obj, **{name: _parsed(hint, value)})
    except ValueError as e:
        raise ArcError(f"{source}: setting '{where}': {e}") from None


def _describe(hint) -> str:
    base, _ = _split(hint)
    return re.sub(r"typing\.|<class '([^']*)'>", r"\1", str(base))


def _flag(name: str, extra: list) -> str:
    """A field's flag name, without its prefix: its `arg(name=...)` or its name in kebab case."""
    for spec in extra:
        if getattr(spec, "name", None) and type(spec).__name__ == "_ArgConfig":
            return spec.name
    return name.replace("_", "-")


def check(obj, source: str, prefix: str = "") -> None:
    """Every `Range` of obj's fields (nested ones too) holds, or an error naming the setting's flag."""
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        extra = _split(hints[f.name])[1]
        if _nested(hints[f.name]) is not None:
            omit = any(spec is tyro.conf.OmitArgPrefixes for spec in extra)
            check(value, source, prefix if omit else f"{prefix}{_flag(f.name, extra)}.")
            continue
        for spec in extra:
            problem = spec.problem(value) if isinstance(spec, Range) else None
            if problem:
                raise ArcError(f"{source}: --{prefix}{_flag(f.name, extra)}: {problem}")


def read_file(path: str, table: str) -> dict:
    """A TOML config file's settings: its [table] if it has one, else its top-level keys."""
    from arcforge.datasets import read_data_file

    values = read_data_file(path, "TOML", tomllib.loads, "a config file")
    return values.get(table, values) if isinstance(values.get(table), dict) else values


def _one_line(report: str) -> str:
    """tyro's boxed error report as one line: the box's title and its first paragraph."""
    lines = []
    for raw in report.splitlines():
        line = raw.strip().strip("│╭╮╰╯").strip()
        if line.startswith("─") or not line:
            if lines:
                break
            continue
        if line.startswith(("For full helptext", "Got errors", "Argument helptext")):
            break
        lines.append(line)
    title = re.search(r"─ ([^─]+?) ─", report)
    text = " ".join(lines) or " ".join(report.split())
    title = title[1].strip().lower() if title else ""
    return f"{title}: {text}" if title and not text.lower().startswith(title) else text


def cli(cls: type[T], argv: list[str], prog: str, default: T | None = None) -> T:
    """Parse argv into cls through tyro; its multi-line error report becomes one ArcError line."""
    report = io.StringIO()
    try:
        with contextlib.redirect_stderr(report):
            return tyro.cli(cls, args=argv, prog=prog, default=default, description=cls.__doc__)
    except SystemExit as e:
        if not e.code:  # --help
            raise
        raise ArcError(f"{prog}: {_one_line(report.getvalue())}") from None


def parse(cls: type[T], argv: list[str], prog: str, table: str, base: Callable[[T], T] | None = None) -> T:
    """The command's settings: defaults, then `base(first_parse)` (lower layers chosen by the
    command's own flags: a recipe, a resumed run), then the file of its `config` field, then the flags."""
    first = cli(cls, argv, prog)
    start = base(first) if base else None
    path = getattr(first, "config", None)
    if path:
        if start is None:
            start = first
        start = update(start, read_file(path, table), path)
    settings = cli(cls, argv, prog, default=start) if start is not None else first
    check(settings, prog)
    return settings


def base_settings(cmd, cls: type[T]) -> T:
    """A command's settings without its command-only fields: the cls (a dataclass cmd's class extends)."""
    return cls(**{f.name: getattr(cmd, f.name) for f in dataclasses.fields(cls)})
