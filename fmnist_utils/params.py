"""Chapter parameters: profiles (paper / quick / smoke), overrides, and early, clear validation.

A chapter's first cell (tagged ``parameters``) assigns every parameter, ``None`` meaning "the
profile's value". Papermill injects overrides after it; the chapter's next cell calls
``resolve(SPEC, globals())``, which rejects unknown names and bad values with a message that names
the parameter and the allowed values, before anything is trained.

A list parameter (one whose presets are lists) also accepts the forms a command line gives it:
papermill's ``-p seeds '[7, 8]'`` arrives as the string "[7, 8]", ``-p seeds 7,8`` as "7,8" and
``-p seeds 7`` as the int 7; ``read_list`` turns each into a list before the parameter's check.
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable

PROFILES = ("paper", "quick", "smoke")
# Names IPython itself puts in a kernel's namespace.
_KERNEL_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


class ParameterError(ValueError):
    """A chapter parameter is unknown or has a bad value."""


@dataclass(frozen=True)
class Param:
    name: str
    presets: dict[str, Any] | Any  # {profile: value}, or one value for every profile
    check: Callable[[Any], str | None] | None = None  # returns what is wrong, or None
    doc: str = ""

    def preset(self, profile: str):
        if isinstance(self.presets, dict) and set(self.presets) <= set(PROFILES) and self.presets:
            return self.presets[profile]
        return self.presets

    @property
    def is_list(self) -> bool:
        """A list parameter: its presets are lists, and ``resolve`` reads its value with ``read_list``."""
        return any(isinstance(self.preset(profile), (list, tuple)) for profile in PROFILES)

    def how_to_pass(self) -> str:
        """How to give this list parameter on a command line, with its paper preset as the example."""
        example = json.dumps(self.preset("paper"))
        return f"pass a list as -p {self.name} '{example}' or -y '{self.name}: {example}'"


def _literal_or_text(text: str):
    """One comma-separated item: the Python literal it spells (7, 0.1, 'ce'), else the text itself (ce)."""
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def read_list(value):
    """A list parameter's value as a list, from any form a command line gives it.

    A list stays as it is and a tuple becomes a list; a string holding a list or tuple literal
    ("[7, 8]", papermill's ``-p seeds '[7, 8]'``) becomes that list; a comma-separated string
    ("7,8", "none,batch") becomes its items, each read as a literal where it is one and kept as text
    otherwise; a single value (``-p seeds 7`` arrives as 7, "7" or "batch") becomes a list of that one
    value. The result may still be wrong (a list of strings where integers are due): the parameter's
    check judges it.
    """
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            return [_literal_or_text(item) for item in value.split(",")]
        return list(value) if isinstance(value, (list, tuple)) else [value]
    return [value]


def positive_int(value) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        return "a positive integer"
    return None


def non_negative_int(value) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return "an integer >= 0"
    return None


def non_negative_number(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return "a number >= 0"
    return None


def open_fraction(value) -> str | None:
    """A share strictly between 0 and 1 (a validation fraction, say)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        return "a number strictly between 0 and 1"
    return None


def optional(check):
    return lambda value: None if value is None else check(value)


def one_of(*allowed):
    return lambda value: None if value in allowed else "one of " + ", ".join(repr(a) for a in allowed)


def int_list(value) -> str | None:
    if not isinstance(value, (list, tuple)) or not value or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        return "a non-empty list of integers"
    return None


def positive_float(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        return "a positive number"
    return None


def positive_float_list(value) -> str | None:
    if not isinstance(value, (list, tuple)) or not value or any(positive_float(v) for v in value):
        return "a non-empty list of positive numbers"
    return None


def probability_list(value) -> str | None:
    """Probabilities strictly between 0 and 1 (dropout rates); the list may be empty."""
    if not isinstance(value, (list, tuple)) or any(
            isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1 for v in value):
        return "a list of probabilities in (0, 1) (may be empty)"
    return None


def subset_of(*allowed):
    """A non-empty list drawn from ``allowed``."""
    def check(value) -> str | None:
        if not isinstance(value, (list, tuple)) or not value or any(v not in allowed for v in value):
            return "a non-empty list drawn from " + ", ".join(repr(a) for a in allowed)
        return None

    return check


def positive_int_list(value) -> str | None:
    """A non-empty list of integers >= 1 (epochs, stages, sizes)."""
    problem = int_list(value)
    if problem is None and not all(v >= 1 for v in value):
        return "a non-empty list of positive integers"
    return problem


def boolean(value) -> str | None:
    return None if isinstance(value, bool) else "True or False"


def string_or_none(value) -> str | None:
    return None if value is None or isinstance(value, str) else "a path string or None"


# Parameters every chapter has.
COMMON = [
    Param("profile", "paper", one_of(*PROFILES), "preset"),
    Param("train_missing", {"paper": False, "quick": True, "smoke": True}, boolean,
          "train runs the store lacks (False: show them as missing)"),
    Param("store_dir", None, string_or_none, "results store folder (None: book/results)"),
    Param("device", "auto", one_of("auto", "cpu", "cuda", "mps"), "where to train"),
    Param("workers", None, optional(positive_int), "processes training side by side (None: one per core)"),
    Param("progress", True, boolean, "show progress bars while training"),
    Param("precision", "float32", one_of("float32", "bfloat16"),
          "arithmetic of runs trained now: float32, or bfloat16 autocast where the device has fast bfloat16 "
          "(a bfloat16 run is a run of its own in the store; the published runs are float32)"),
]


@dataclass
class ChapterSpec:
    chapter: str
    params: list[Param] = field(default_factory=list)

    @property
    def all_params(self) -> list[Param]:
        return COMMON + self.params

    def names(self) -> list[str]:
        return [p.name for p in self.all_params]


def resolve(spec: ChapterSpec, namespace: dict) -> SimpleNamespace:
    """Turn the notebook's globals (defaults plus papermill's injections) into checked settings."""
    given = {k: v for k, v in namespace.items()
             if not k.startswith("_") and k not in _KERNEL_NAMES and not callable(v)
             and type(v).__name__ != "module"}
    known = spec.names()
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {', '.join(unknown)} for chapter {spec.chapter!r}; "
                             f"known parameters: {', '.join(known)}")
    profile = given.get("profile", "paper")
    if profile not in PROFILES:
        raise ParameterError(f"parameter profile={profile!r}; allowed values: {', '.join(PROFILES)}")
    settings = {}
    for param in spec.all_params:
        value = given.get(param.name)
        if value is None:
            value = param.preset(profile)
        if param.check is not None and value is not None:
            checked = read_list(value) if param.is_list else value
            problem = param.check(checked)
            if problem:
                advice = f"; {param.how_to_pass()}" if param.is_list else ""
                raise ParameterError(f"parameter {param.name}={value!r} is not valid; it must be {problem}{advice}")
            value = checked
        settings[param.name] = value
    if settings.get("precision") == "bfloat16":  # refused before anything trains, where the device is slow at it
        from .train import precision_problem

        problem = precision_problem("bfloat16", settings.get("device", "auto"))
        if problem:
            raise ParameterError(f"parameter {problem}")
    return SimpleNamespace(**settings)
