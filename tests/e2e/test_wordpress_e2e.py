"""WordPress end to end: a reader comments on the real site, the right people get mail.

The site is Debian's WordPress 6.1 served on loopback (scripts/wordpress-setup.sh);
readers post through wp-comments-post.php, moderators act through the REST API.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from notifier.demo.sink import SmtpSink
from notifier.service import run_once
from notifier.settings import Settings
from tests.helpers import INFOLINE, MODERATOR, parts, settings_for, to
from tests.wp_helpers import (
    FLAG_KEYS,
    MEDICAL_KEY,
    THRESHOLD,
    Site,
    moderate,
    post_comment,
    unique_text,
)

pytestmark = [pytest.mark.wordpress, pytest.mark.timeout(600)]

LOGIN_COOKIES = r"""
$_SERVER['HTTP_HOST'] = '127.0.0.1';
define('WP_USE_THEMES', false);
require '/usr/share/wordpress/wp-load.php';
$user = get_user_by('login', $argv[1]);
$until = time() + 3600;
echo AUTH_COOKIE, '=', wp_generate_auth_cookie($user->ID, $until, 'auth'), "\n";
echo LOGGED_IN_COOKIE, '=', wp_generate_auth_cookie($user->ID, $until, 'logged_in'), "\n";
"""


def wordpress_settings(
    smtp: SmtpSink, site: Site, state: str, *, rest: bool = False, **overrides: str
) -> Settings:
    source = (
        {
            "source_kind": "wordpress-rest",
            "source_url": site.url,
            "wp_username": site.admin,
            "wp_app_password": site.app_password,
        }
        if rest
        else {"source_kind": "wordpress", "source_url": site.db_url}
    )
    return settings_for(
        smtp,
        source.pop("source_url"),
        state,
        site_url=site.url,
        start_from="now",
        wp_flag_meta_keys=",".join(FLAG_KEYS),
        wp_flag_threshold=str(THRESHOLD),
        wp_medical_meta_key=MEDICAL_KEY,
        **source,
        **overrides,
    )


@pytest.fixture
async def moderator(site: Site, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A browser logged in to wp-admin as the site's administrator."""
    script = tmp_path / "cookies.php"
    script.write_text("<?php" + LOGIN_COOKIES)
    lines = subprocess.run(
        ["php", str(script), site.admin], capture_output=True, text=True, check=True
    ).stdout.split()
    cookies = dict(line.split("=", 1) for line in lines)
    async with httpx.AsyncClient(base_url=site.url, cookies=cookies) as client:
        yield client


def link(text: str, label: str) -> str:
    match = re.search(rf"^{label}:\s+(\S+)", text, re.MULTILINE)
    assert match, f"no {label} link in:\n{text}"
    return match.group(1)


async def confirm(moderator: httpx.AsyncClient, url: str, question: str) -> None:
    """Follow a moderation link from the email and press the button WordPress shows."""
    page = await moderator.get(url)
    assert page.status_code == 200
    assert question in page.text
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page.text))
    done = await moderator.get(
        "/wp-admin/comment.php",
        params={k: fields[k] for k in ("_wpnonce", "action", "c", "noredir")},
    )
    assert done.status_code in (200, 302)


async def status_of(site: Site, comment_id: int) -> str:
    async with httpx.AsyncClient(base_url=site.url, auth=site.auth) as client:
        response = await client.get(
            f"/wp-json/wp/v2/comments/{comment_id}", params={"context": "edit"}
        )
    return str(response.json()["status"])


async def test_a_readers_comment_becomes_a_moderation_email_with_working_links(
    site: Site, smtp: SmtpSink, sqlite_state: str, moderator: httpx.AsyncClient
) -> None:
    settings = wordpress_settings(smtp, site, sqlite_state)
    assert await run_once(settings) == 0  # first start: from now
    bodies = [unique_text(f"Comment {n} from a reader.") for n in range(3)]
    ids = [await post_comment(site, body, author="Reader Ann") for body in bodies]

    assert await run_once(settings) == 0

    mails = to(smtp.received, MODERATOR)
    assert len(mails) == 3
    texts = {}
    for message in mails:
        text, html = parts(message)
        assert "Please moderate" in message["Subject"]
        assert "awaiting moderation" in text
        assert "edit-comments.php?comment_status=moderated" in html
        texts[next(i for i, b in zip(ids, bodies, strict=True) if b in text)] = text
    assert sorted(texts) == sorted(ids)

    await confirm(moderator, link(texts[ids[0]], "Approve"), "You are about to approve")
    await confirm(moderator, link(texts[ids[1]], "Spam"), "mark the following comment as spam")
    await confirm(
        moderator, link(texts[ids[2]], "Trash"), "move the following comment to the Trash"
    )
    assert [await status_of(site, i) for i in ids] == ["approved", "spam", "trash"]


async def test_meta_flags_reach_the_moderators_and_the_medical_key_the_infoline(
    site: Site, smtp: SmtpSink, sqlite_state: str
) -> None:
    settings = wordpress_settings(smtp, site, sqlite_state, triage="off")
    assert await run_once(settings) == 0
    rude = await post_comment(site, unique_text("You are all idiots."))
    question = await post_comment(
        site,
        unique_text("My husband's kappa light chains doubled."),
        author="Mary",
        email="mary@example.org",
    )
    await moderate(site, rude, meta={"notifier_flag": "abuse"})
    await moderate(site, question, meta={MEDICAL_KEY: "1"})

    assert await run_once(settings) == 0

    flagged = [m for m in to(smtp.received, MODERATOR) if "flagged" in m["Subject"]]
    assert sorted(m["Subject"].split("(")[1].split(")")[0] for m in flagged) == [
        "abusive",
        "medical question",
    ]
    [forward] = to(smtp.received, INFOLINE)
    assert forward["Reply-To"].addresses[0].addr_spec == "mary@example.org"
    assert "kappa light chains doubled" in parts(forward)[0]


async def test_the_rest_source_gives_the_same_emails_as_the_database(
    site: Site, smtp: SmtpSink, tmp_path: Path
) -> None:
    async with SmtpSink() as rest_smtp:
        by_db = wordpress_settings(smtp, site, f"sqlite:///{tmp_path}/db-state.db")
        by_rest = wordpress_settings(
            rest_smtp, site, f"sqlite:///{tmp_path}/rest-state.db", rest=True
        )
        assert await run_once(by_db) == 0
        assert await run_once(by_rest) == 0
        await post_comment(site, unique_text("Lovely to read good news."))
        asked = await post_comment(
            site, unique_text("Should I ask about Darzalex for my mother?"), email="kim@example.org"
        )
        await moderate(site, asked, meta={"notifier_flag": "off_topic"})

        assert await run_once(by_db) == 0
        assert await run_once(by_rest) == 0

        def summary(sink: SmtpSink) -> list[tuple[str, str, str, str]]:
            return sorted(
                (
                    ",".join(r.rcpt_tos),
                    str(r.message["Subject"]),
                    str(r.message["Reply-To"]),
                    re.sub(r"Posted:.*", "", parts(r.message)[0]),
                )
                for r in sink.received
            )

        assert len(smtp.received) == 4  # two comments, one flag, one forward
        assert summary(smtp) == summary(rest_smtp)


async def test_a_comment_put_back_on_hold_reaches_the_moderators(
    site: Site, smtp: SmtpSink, sqlite_state: str
) -> None:
    settings = wordpress_settings(smtp, site, sqlite_state)
    assert await run_once(settings) == 0
    comment = await post_comment(site, unique_text("A perfectly fine comment."))
    assert await run_once(settings) == 0
    await moderate(site, comment, status="approved")
    assert await run_once(settings) == 0
    assert len(smtp.received) == 1

    await moderate(site, comment, status="hold")
    assert await run_once(settings) == 0
    assert await run_once(settings) == 0

    [held] = [m for m in to(smtp.received, MODERATOR) if "flagged" in m["Subject"]]
    assert "put back on hold" in held["Subject"]
    assert "moved back to pending" in parts(held)[0]
