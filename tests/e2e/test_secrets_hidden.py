"""`check`, `once` and `status` never print a password, however its URL is written."""

from __future__ import annotations

import pytest

from notifier.demo.sink import SmtpSink
from tests.e2e.test_cli import notifier
from tests.helpers import environment_for

pytestmark = pytest.mark.slow

# Port 1 on loopback: nothing answers, so each command reports the failure,
# and the URL it names is where a password would leak.
SOURCES = [
    {"NOTIFIER_SOURCE_URL": "postgresql://blog:s3cr@t0p@127.0.0.1:1/blog"},
    {"NOTIFIER_SOURCE_URL": "mysql://blog:s3cr/t0p?x@127.0.0.1:1/blog"},
    {"NOTIFIER_SOURCE_URL": "postgresql://blog@127.0.0.1:1/blog?password=s3cr_t0p"},
    {
        "NOTIFIER_SOURCE_KIND": "wordpress-rest",
        "NOTIFIER_SOURCE_URL": "https://admin:s3cr t0p@127.0.0.1:1/",
        "NOTIFIER_WP_USERNAME": "admin",
        "NOTIFIER_WP_APP_PASSWORD": "s3cr app pass",
    },
]


@pytest.mark.parametrize("source", SOURCES, ids=["raw-at", "raw-slash", "query", "rest"])
async def test_check_once_and_status_hide_the_password(
    smtp: SmtpSink, sqlite_state: str, source: dict[str, str]
) -> None:
    env = {**environment_for(smtp, "sqlite:///unused.db", sqlite_state), **source}

    outputs = []
    for command in ("check", "once", "status"):
        code, out, err = await notifier(command, env=env)
        outputs.append(out + err)
        # status is a monitoring check: a failing poll is critical (2) there.
        assert code in ((1, 2) if command == "status" else (0, 1)), out + err
    assert "FAIL  comment store" in outputs[0]
    assert "poll failed" in outputs[1]
    assert "last poll failed" in outputs[2].lower()
    for output in outputs:
        assert "s3cr" not in output and "t0p" not in output, output
