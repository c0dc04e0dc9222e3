"""The command line, run as an operator runs it: a real process, real servers."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from email import message_from_bytes, policy
from pathlib import Path

from notifier.demo.sink import SmtpSink
from tests.helpers import INFOLINE, MODERATOR, Blog, environment_for

PYTHON = [sys.executable, "-m", "notifier"]


def base_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
    env.update(extra)
    return env


async def notifier(*args: str, env: dict[str, str], timeout: float = 60) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *PYTHON,
        *args,
        env=base_env(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_bad_configuration_names_every_bad_variable_and_exits_2() -> None:
    code, out, err = await notifier(
        "once",
        env={
            "NOTIFIER_SMTP_PORT": "smtp",
            "NOTIFIER_SMTP_TLS": "sometimes",
            "NOTIFIER_MODERATORS": "jo@example.org, not-an-address",
            "NOTIFIER_INFOLINE_ADDRESS": "infoline at example dot org",
            "NOTIFIER_SMTP_USERNAME": "notifier",
            "NOTIFIER_SMTP_PASSWORD": "s3cret-Hunter2",
            "NOTIFIER_POLL_INTERVAL": "-5",
            "NOTIFIER_MODERATOR": "typo@example.org",
        },
    )
    assert code == 2
    for variable in (
        "NOTIFIER_SMTP_PORT",
        "NOTIFIER_SMTP_TLS",
        "NOTIFIER_MODERATORS",
        "NOTIFIER_INFOLINE_ADDRESS",
        "NOTIFIER_MAIL_FROM",
        "NOTIFIER_POLL_INTERVAL",
        "NOTIFIER_MODERATOR:",
    ):
        assert variable in err, variable
    assert "not-an-address" in err
    assert "s3cret-Hunter2" not in err + out
    assert "Traceback" not in err


async def test_demo_prints_what_each_mailbox_received_and_leaves_it_as_eml_files(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "demo-mail"
    code, out, err = await notifier("demo", "--mail-dir", str(folder), env={})
    assert code == 0, err
    assert "=== infoline@charity.example.org: 3 message(s)" in out
    # The first five at once, the other seven in the burst's digest.
    assert "=== moderators@blog.example.org: 6 message(s)" in out
    assert "Digest: 3 comments, 4 flags" in out
    assert "9 message(s) delivered" in out
    assert "Reply-To:" in out
    assert f"9 message(s) written as .eml files to {folder}" in out
    files = sorted(folder.glob("*.eml"))
    assert len(files) == 9
    opened = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    assert sum("infoline" in f.name for f in files) == 3
    assert all(m["Message-ID"] and m.get_body(("html",)) is not None for m in opened)
    # A folder that already holds something is never written into.
    code, _, err = await notifier("demo", "--mail-dir", str(folder), env={})
    assert code == 1 and "not an empty folder" in err


async def test_once_delivers_and_status_reports_it(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    comment = await blog.comment("Should I ask for a PET scan?", status="approved")
    await blog.flag(comment, "medical_question")
    env = environment_for(smtp, blog.url, sqlite_state)

    code, _, err = await notifier("once", env=env)
    assert code == 0, err
    assert sorted(r for m in smtp.received for r in m.rcpt_tos) == [
        INFOLINE,
        MODERATOR,
        MODERATOR,
    ]
    assert "poll: 1 new comments, 1 new flags, 3 emails queued" in err

    code, out, _ = await notifier("status", env=env)
    assert code == 0
    assert "sent      3" in out and "pending   0" in out and "dead      0" in out
    assert "last poll:      20" in out


async def test_check_reports_every_part_and_fails_when_smtp_is_unreachable(
    tmp_path: Path, smtp: SmtpSink, sqlite_state: str
) -> None:
    store = f"sqlite:///{tmp_path}/store.db"
    env = environment_for(smtp, store, sqlite_state)
    assert (await notifier("init-source", env=env))[0] == 0
    assert (await notifier("init-source", env=env))[0] == 0  # idempotent

    code, out, err = await notifier("check", env=env)
    assert code == 0, out + err
    assert out.count("ok  ") == 5

    await smtp.stop()
    code, out, _ = await notifier("check", env=env)
    assert code == 1
    assert "FAIL  SMTP 127.0.0.1" in out


async def test_preview_renders_a_template_with_sample_data() -> None:
    code, out, err = await notifier("preview", "infoline_forward", env={})
    assert code == 0, err
    assert out.startswith("Subject: [the blog] Question from")
    assert "Reply to this email to answer privately" in " ".join(out.split())
    code, _, err = await notifier("preview", "no_such_template", env={})
    assert code == 1 and "unknown template" in err


async def test_run_delivers_on_schedule_and_exits_0_on_sigterm(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    await blog.comment("Posted before the service started")
    env = environment_for(smtp, blog.url, sqlite_state, poll_interval="0.5")
    process = await asyncio.create_subprocess_exec(
        *PYTHON, "run", env=base_env(env), stderr=asyncio.subprocess.PIPE
    )
    try:
        await asyncio.wait_for(smtp.handler.arrived.wait(), 20)
        smtp.handler.arrived.clear()
        await blog.comment("Posted while it runs")
        await asyncio.wait_for(smtp.handler.arrived.wait(), 20)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    assert len(smtp.received) == 2
    assert "stopped" in err.decode()


async def test_retry_requeues_dead_letters_and_purge_deletes_old_sent_mail(
    blog: Blog, sqlite_state: str
) -> None:
    from notifier.demo.sink import RecordingHandler

    class RefusesJo(RecordingHandler):
        refuse = True

        async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
            if self.refuse and address == MODERATOR:
                return "550 5.1.1 mailbox unavailable"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    handler = RefusesJo()
    await blog.comment("Hello")
    async with SmtpSink(handler) as server:
        env = environment_for(server, blog.url, sqlite_state)
        code, _, err = await notifier("once", env=env)
        assert code == 1 and "dead letters" in err

        code, out, _ = await notifier("status", env=env)
        assert "dead      1" in out and "550" in out and "mailbox unavailable" in out
        dead_id = out.split("  #", 1)[1].split()[0]

        handler.refuse = False
        assert (await notifier("retry", dead_id, env=env))[0] == 0
        assert (await notifier("once", env=env))[0] == 0
        assert len(server.received) == 1

        code, out, _ = await notifier("purge", "--sent-older-than", "0", env=env)
        assert code == 2 and "refusing" in out  # younger than the look-back

        await asyncio.sleep(1.1)
        env["NOTIFIER_LOOKBACK_SECONDS"] = "0.5"
        code, out, _ = await notifier("purge", "--sent-older-than", "0.00001", env=env)
        assert code == 0 and "deleted 1 sent message" in out
