"""``notifier config``: the effective settings, secrets masked, each with its origin."""

from __future__ import annotations

from collections.abc import Mapping
from email.headerregistry import Address
from pathlib import Path
from typing import Any, TextIO

from pydantic import SecretStr

from notifier.db import safe_url
from notifier.ops.environment import DEFAULT, PREFIX
from notifier.settings import Settings

MASK = "********"
_URLS = ("source_url", "state_url")


def shown(name: str, value: Any) -> str:
    """A setting's value as an operator would write it, with every secret hidden."""
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if name in _URLS and isinstance(value, str):
        return value if value.startswith(("http://", "https://")) else safe_url(value)
    if isinstance(value, list):
        return ",".join(shown(name, v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Address | Path):
        return str(value)
    return str(value)


def effective(settings: Settings, origins: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(variable, shown value, origin) for every setting, in declaration order."""
    rows = []
    for name in type(settings).model_fields:
        variable = PREFIX + name.upper()
        rows.append(
            (variable, shown(name, getattr(settings, name)), origins.get(variable, DEFAULT))
        )
    return rows


def print_config(settings: Settings, origins: Mapping[str, str], out: TextIO) -> int:
    rows = effective(settings, origins)
    width = max(len(f"{v}={s}") for v, s, _ in rows)
    for variable, value, origin in rows:
        out.write(f"{f'{variable}={value}':<{width}}  # {origin}\n")
    return 0
