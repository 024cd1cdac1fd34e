"""YAML text for generated monitoring objects that people read and diff.

Why: PromQL spread over several lines is unreadable as a quoted YAML scalar with
escaped newlines. Multi-line strings are written as literal blocks, keys keep the
order the generators chose, and the output is stable, so committed files can be
compared byte for byte with a fresh rendering.
"""

from __future__ import annotations

from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings as ``|`` blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def dump(obj: Any) -> str:
    """One YAML document."""
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, width=4096, allow_unicode=True)


def dump_all(objs: list[Any]) -> str:
    """Several YAML documents separated by ``---``."""
    return yaml.dump_all(
        objs, Dumper=_Dumper, sort_keys=False, width=4096, allow_unicode=True, explicit_start=True
    )
