"""The ``notifier`` command line.  Exit status: 0 ok, 1 problems found, 2 bad configuration."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from notifier import __version__
from notifier.errors import ConfigError, NotifierError
from notifier.logs import configure
from notifier.ops.environment import gather
from notifier.ops.show_config import print_config
from notifier.ops.status import status
from notifier.settings import Settings, load_settings

EXIT_OK, EXIT_PROBLEMS, EXIT_CONFIG = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="notifier",
        description="Emails moderators and the InfoLine about new and flagged blog comments. "
        "Configured by NOTIFIER_* environment variables (see the README).",
    )
    parser.add_argument("--version", action="version", version=f"notifier {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", help="the service: poll and deliver on a schedule until SIGTERM/SIGINT")
    sub.add_parser("once", help="one poll and one delivery pass; 0 only if nothing is left")
    demo = sub.add_parser("demo", help="the whole job on sample data with an in-process SMTP sink")
    demo.add_argument(
        "--mail-dir",
        type=Path,
        metavar="DIR",
        help="write each received message there as a .eml file (default: a new temporary folder)",
    )
    sub.add_parser("check", help="validate settings and templates, reach every server")
    sub.add_parser("init-source", help="create the native schema at NOTIFIER_SOURCE_URL")
    preview = sub.add_parser("preview", help="render a template with sample data")
    preview.add_argument("template", help="new_comment, flagged_comment, infoline_forward, ...")
    preview.add_argument("--html", action="store_true", help="print the HTML part")
    status = sub.add_parser(
        "status",
        help="outbox counts, last poll and delivery, dead letters; "
        "exit 0 OK, 1 warning, 2 critical, 3 unknown",
    )
    status.add_argument("--json", action="store_true", help="one JSON object, for monitoring")
    sub.add_parser("config", help="the effective settings (secrets masked) and their origins")
    retry = sub.add_parser("retry", help="requeue dead letters")
    retry.add_argument("ids", nargs="*", type=int, help="outbox ids (see status)")
    retry.add_argument("--dead", action="store_true", help="requeue every dead letter")
    triage = sub.add_parser(
        "triage",
        help="score JSON lines from stdin (body, author_name) as the worker would",
        description="Score JSON lines from stdin as the worker would (its site model "
        "included), or `notifier triage learn`: train a site model from the moderators' "
        "medical_question flags in the configured source.",
    )
    triage.add_argument("action", nargs="?", choices=["learn"], help="learn: train a site model")
    triage.add_argument(
        "--min-labels",
        type=int,
        default=None,
        metavar="N",
        help="learn: refuse with fewer than N questions or N other comments (default 20)",
    )
    triage.add_argument("--explain", action="store_true", help="a readable table, not JSON")
    triage.add_argument(
        "--threshold", type=float, help="cut-off (default: NOTIFIER_TRIAGE_THRESHOLD)"
    )
    triage.add_argument(
        "--evaluate",
        metavar="FILE",
        help="report precision and recall on a labelled JSON-lines file instead",
    )
    purge = sub.add_parser("purge", help="delete old sent messages from the state store")
    purge.add_argument("--sent-older-than", type=float, required=True, metavar="DAYS")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = _parser().parse_args(argv)
    env = os.environ if environ is None else environ
    gathered = gather(env)
    try:
        if args.command == "demo":
            configure("WARNING")
            from notifier.demo.run import run_demo

            return asyncio.run(run_demo(sys.stdout, args.mail_dir))
        mail_required = args.command not in ("init-source", "preview", "triage")
        if gathered.problems:
            # Reported with whatever else is wrong, in one message.
            try:
                load_settings(gathered.values, mail_required=mail_required)
            except ConfigError as exc:
                raise ConfigError(sorted(gathered.problems + exc.problems)) from None
            raise ConfigError(gathered.problems)
        settings = load_settings(gathered.values, mail_required=mail_required)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    except NotifierError as exc:
        print(f"notifier {args.command}: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    configure(settings.log_level, settings.log_format)
    if args.command == "config":
        return print_config(settings, gathered.origins, sys.stdout)
    if args.command == "triage" and args.action is None:
        return _triage(args, settings)
    try:
        return asyncio.run(_dispatch(args, settings, sys.stdout, env))
    except ConfigError as exc:  # found only when used: NOTIFIER_HTTP_ADDRESS taken, say
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    except NotifierError as exc:
        print(f"notifier {args.command}: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        return EXIT_OK


def _triage(args: argparse.Namespace, settings: Settings) -> int:
    """`notifier triage [--explain|--evaluate]`, with the worker's own scorer."""
    from notifier.triage.evaluate import triage_command
    from notifier.triage.learn import site_scorer, state_store_exists
    from notifier.triage.scorer import Scorer

    # A site model saved by `notifier triage learn` is used here as in the worker.
    scorer = asyncio.run(site_scorer(settings)) if state_store_exists(settings) else Scorer()
    threshold = settings.triage_threshold if args.threshold is None else args.threshold
    return triage_command(sys.stdin, sys.stdout, args.explain, threshold, args.evaluate, scorer)


async def _dispatch(
    args: argparse.Namespace, settings: Settings, out: TextIO, env: Mapping[str, str]
) -> int:
    from notifier import commands, service

    match args.command:
        case "run":
            return await service.run_forever(settings, environ=env)
        case "once":
            return await service.run_once(settings)
        case "check":
            return await commands.check(settings, out)
        case "init-source":
            return await commands.init_source(settings, out)
        case "preview":
            return commands.preview(settings, args.template, html=args.html, out=out)
        case "status":
            return await status(settings, out, now=datetime.now(UTC), as_json=args.json)
        case "retry":
            if not args.ids and not args.dead:
                print("notifier retry: give outbox ids, or --dead for all", file=sys.stderr)
                return EXIT_CONFIG
            return await commands.retry(settings, None if args.dead else args.ids, out)
        case "triage":
            from notifier.triage.learn import MIN_LABELS, learn

            minimum = MIN_LABELS if args.min_labels is None else args.min_labels
            return await learn(settings, out, now=datetime.now(UTC), min_labels=minimum)
        case "purge":
            return await commands.purge(
                settings, timedelta(days=args.sent_older_than), out, now=datetime.now(UTC)
            )
    raise AssertionError(args.command)
