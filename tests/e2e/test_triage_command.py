"""`notifier triage`, run as a process, flags exactly what the worker forwards."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from notifier.demo.sink import SmtpSink
from notifier.service import run_once
from notifier.triage.evaluate import load_labelled
from tests.helpers import INFOLINE, Blog, parts, prose, quoted, settings_for, to


async def test_notifier_triage_command_and_the_worker_agree(
    tmp_path: Path, smtp: SmtpSink, sqlite_state: str
) -> None:
    labelled = load_labelled(Path(__file__).parent.parent / "data" / "triage_comments.jsonl")
    blog = Blog(f"sqlite:///{tmp_path}/store.db")
    await blog.create()
    ids = {}
    for item in labelled:
        comment_id = await blog.comment(
            item.body, author_name=item.author_name or "Reader", status="approved"
        )
        ids[comment_id] = item.id
    await blog.aclose()

    # The whole labelled set at once is no flood: lift the hourly InfoLine cap.
    settings = settings_for(
        smtp, blog.url, sqlite_state, batch_size="50", infoline_max_per_hour="1000"
    )
    assert await run_once(settings) == 0
    forwarded_by_worker = set()
    for message in to(smtp.received, INFOLINE):
        body = quoted(parts(message)[0])
        forwarded_by_worker.add(next(i for i in labelled if prose(i.body[:60]) in body).id)

    lines = "".join(
        json.dumps({"id": i.id, "body": i.body, "author_name": i.author_name}) + "\n"
        for i in labelled
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "notifier",
        "triage",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate(lines.encode())
    assert process.returncode == 0
    flagged_by_command = {
        row["id"] for row in map(json.loads, out.decode().splitlines()) if row["medical_question"]
    }
    assert len(flagged_by_command) > 50
    assert forwarded_by_worker == flagged_by_command
