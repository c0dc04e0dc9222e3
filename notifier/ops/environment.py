"""Where the configuration comes from: the environment, a ``.env`` file, ``*_FILE`` secrets.

Before the settings are validated, ``gather`` merges these into one mapping of
``NOTIFIER_*`` values and remembers each one's origin for ``notifier config``:

- the process environment wins over
- an optional ``.env`` file in the working directory (docker-compose style);
- ``NOTIFIER_<NAME>_FILE`` names a file holding the value of a secret
  (systemd's ``LoadCredential=``, Docker and Kubernetes secrets).  A relative
  path is looked up in ``$CREDENTIALS_DIRECTORY``, where systemd puts credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

PREFIX = "NOTIFIER_"
SUFFIX = "_FILE"
# Settings whose value may hold a password: each may come from a file instead.
FILE_SETTINGS = (
    "SMTP_PASSWORD",
    "SMTP_USERNAME",
    "WP_APP_PASSWORD",
    "WP_USERNAME",
    "SOURCE_URL",
    "STATE_URL",
)

DEFAULT = "default"
ENVIRONMENT = "env"
DOTENV = ".env"
FILE = "file"


@dataclass
class Gathered:
    """The ``NOTIFIER_*`` values to validate, where each came from, and what went wrong."""

    values: dict[str, str] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _read_secret(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    # Files written by `echo` or an editor end with a newline that is not part of it.
    return text.removesuffix("\n").removesuffix("\r")


def gather(environ: Mapping[str, str], workdir: Path | None = None) -> Gathered:
    """Merge the environment, ``workdir/.env`` and ``*_FILE`` secrets; never raise."""
    result = Gathered()
    dotenv_path = (workdir or Path.cwd()) / ".env"
    if dotenv_path.is_file():
        try:
            from_file = dotenv_values(dotenv_path)
        except (OSError, UnicodeDecodeError) as exc:
            result.problems.append(f"{dotenv_path}: cannot read: {exc}")
            from_file = {}
        for key, value in from_file.items():
            if key.startswith(PREFIX) and value is not None:
                result.values[key] = value
                result.origins[key] = DOTENV
    for key, value in environ.items():
        if key.startswith(PREFIX):
            result.values[key] = value
            result.origins[key] = ENVIRONMENT
    credentials = environ.get("CREDENTIALS_DIRECTORY")
    for name in FILE_SETTINGS:
        variable, file_variable = PREFIX + name, PREFIX + name + SUFFIX
        if file_variable not in result.values:
            continue
        given = result.values.pop(file_variable)
        result.origins.pop(file_variable, None)
        if variable in result.values:
            result.problems.append(f"{variable} and {file_variable}: set one of them, not both")
            continue
        path = Path(given)
        if not path.is_absolute() and credentials:
            path = Path(credentials) / path
        try:
            result.values[variable] = _read_secret(path)
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            result.problems.append(f"{file_variable}: cannot read {str(path)!r}: {reason}")
            continue
        result.origins[variable] = f"{FILE} {path}"
    return result
