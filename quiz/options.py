"""Command-line values converted without pydantic where the answer is plain; typer's own conversion otherwise.

typer converts every option's value with a pydantic TypeAdapter: importing pydantic and building one adapter
per option costs some 50 ms before a quiz's first question, more than the rest of torchprep's start. The
values a user types here are nearly always plain: a count, a topic, a file. For those this module gives
what typer's conversion gives (tests/test_fast_path.py checks it value by value against typer itself);
anything else (a value that might be invalid, out of range, or of a type not listed here) goes through
typer's conversion unchanged, so every error message is typer's own.

It reads typer's parameter objects (their type descriptor and parameter info): with a typer that has none,
nothing is changed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, get_args, get_origin

_NOT_PLAIN = object()
_INTEGER = re.compile(r"-?[0-9]{1,15}")  # int() and pydantic agree on these; " 1", "1_0", "1.0" go to typer
_DECIMAL = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?")
_PATH_DEFAULTS = {"exists": False, "file_okay": True, "dir_okay": True, "writable": False, "readable": True,
                  "resolve_path": False, "allow_dash": False, "path_type": None}


def prepare(command) -> None:
    """Wrap the value processing of each parameter of ``command`` (its help option too) whose type is listed
    here."""
    if getattr(command, "_plain_values", False):
        return
    command._plain_values = True
    try:
        from typer._click.core import ParameterSource
    except ImportError:  # a typer that uses click itself: no pydantic to avoid
        return
    parameters = command.get_params

    def get_params(ctx):
        params = parameters(ctx)
        for param in params:  # the help option is made here, on first use, not in command.params
            if not getattr(param, "_plain_values", False):
                param._plain_values = True
                convert = _converter(param)
                if convert is not None:
                    param.process_value = _processing(param, param.process_value, convert, ParameterSource.DEFAULT)
        return params

    command.get_params = get_params


def _converter(param):
    """The plain conversion of ``param``'s values, or None when typer must do it."""
    descriptor = getattr(param, "type_descriptor", None)
    info = getattr(descriptor, "parameter_info", None)
    if info is None or getattr(descriptor, "file_annotation", None) is not None or param.required:
        return None
    if getattr(info, "parser", None) is not None or getattr(info, "clamp", False) or callable(param.default):
        return None
    annotation = descriptor.annotation
    many = get_origin(annotation) is list
    leaf = get_args(annotation)[0] if many else annotation
    if leaf is str:
        one = _text
    elif leaf in (int, float) and not many:
        low, high = info.min, info.max
        pattern = _INTEGER if leaf is int else _DECIMAL

        def one(value):
            return _number(value, leaf, pattern, low, high)
    elif leaf is Path and all(getattr(info, key, default) == default for key, default in _PATH_DEFAULTS.items()):
        one = _path
    elif leaf is bool and not many:
        one = _flag
    else:
        return None
    if not many:
        return one

    def each(values):
        if not isinstance(values, (list, tuple)):
            return _NOT_PLAIN
        converted = [one(value) for value in values]
        return _NOT_PLAIN if any(item is _NOT_PLAIN for item in converted) else converted

    return each


def _text(value):
    return value if type(value) is str else _NOT_PLAIN


def _number(value, kind, pattern, low, high):
    if type(value) is not str or not pattern.fullmatch(value):
        return _NOT_PLAIN
    number = kind(value)
    if (low is not None and number < low) or (high is not None and number > high):
        return _NOT_PLAIN  # typer says what the range is
    return number


def _path(value):
    if type(value) is not str or not value or "\x00" in value:
        return _NOT_PLAIN
    if os.path.exists(value) and not os.access(value, os.R_OK):
        return _NOT_PLAIN  # typer says it is not readable
    return Path(value)


def _flag(value):
    return value if type(value) is bool else _NOT_PLAIN


def _processing(param, process_value, convert, default_source):
    def process(ctx, value: Any) -> Any:
        if ctx.get_parameter_source(param.name) is default_source and value is param.default:
            # Nobody gave it: the default the code wrote, already of its type.
            if value is None:
                converted = () if param.multiple or param.nargs == -1 else None  # what typer makes of it
            elif isinstance(value, list):
                converted = list(value)  # a fresh list each time, as typer gives: the default object is shared
            else:
                converted = value
        else:
            converted = convert(value)
            if converted is _NOT_PLAIN:
                return process_value(ctx, value)
        return param.callback(ctx, param, converted) if param.callback is not None else converted

    return process
