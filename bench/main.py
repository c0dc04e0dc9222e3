"""``bench/run``: every measurement in one go, a table, and bench/RESULTS.md.

Each figure is a ratio against a reference measured in the same run, so the
numbers mean something on a shared two-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import idle_poll, latency, memory, throughput, triage
from bench.common import ROOT, Figure, Section, machine

SECTIONS = {
    "idle": idle_poll.run,
    "latency": latency.run,
    "throughput": throughput.run,
    "memory": memory.run,
    "triage": triage.run,
}


def fingerprint() -> str:
    """A short hash of notifier's sources: the code measured, to spot edits mid-run."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "notifier").rglob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _verdict(f: Figure) -> str:
    return {True: "yes", False: "**NO**", None: "-"}[f.holds]


def table(sections: list[Section]) -> list[str]:
    lines = [
        "| figure | measured | reference | ratio | target | holds |",
        "|---|---|---|---|---|---|",
    ]
    for section in sections:
        for f in section.figures:
            ratio = f"{f.ratio:.2f}" if f.ratio is not None else "-"
            note = f" ({f.note})" if f.note else ""
            lines.append(
                f"| {f.name}{note} | {f.value} | {f.reference} | {ratio} | {f.target} | "
                f"{_verdict(f)} |"
            )
    return lines


def results_markdown(
    sections: list[Section], quick: bool, seconds: float, code: dict[str, str]
) -> str:
    info = machine()
    versions = sorted(set(code.values()))
    if len(versions) == 1:
        measured = f"notifier sources sha256 {versions[0]} (unchanged during the run)"
    else:
        measured = "**notifier's sources changed during the run**: " + ", ".join(
            f"{name} measured {digest}" for name, digest in code.items()
        )
    out = [
        "# Benchmark results" + (" (--quick)" if quick else ""),
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `bench/run{' --quick' if quick else ''}` "
        f"in {seconds / 60:.1f} min. Generated: edit bench/*.py, not this file. "
        "See bench/README.md for what each figure means and bench/PROFILE.md for why.",
        "",
        f"Code: {measured}.",
        "",
        *table(sections),
        "",
        "## Machine",
        "",
        f"- {info['nproc']} CPUs ({info['cpu']}), {info['ram']} RAM, Linux {info['kernel']}; "
        "shared with other work, so only same-run ratios are meaningful",
        f"- Python {info['python']}, SQLite {info['sqlite']}, {info['postgresql']}, "
        f"{info['mariadb']}, Postfix smtp-sink {info['postfix']}",
        "- "
        + ", ".join(
            f"{k} {v}"
            for k, v in info.items()
            if k
            in (
                "notifier",
                "aiosmtplib",
                "aiosmtpd",
                "SQLAlchemy",
                "aiosqlite",
                "asyncpg",
                "aiomysql",
                "Jinja2",
            )
        ),
        "",
    ]
    for section in sections:
        out += [f"## {section.title}", "", *section.details, ""]
    return "\n".join(out)


async def main_async(args: argparse.Namespace) -> int:
    chosen = args.only or list(SECTIONS)
    sections: list[Section] = []
    code: dict[str, str] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="notifier-bench-") as folder:
        work = Path(folder)
        for name in chosen:
            t = time.perf_counter()
            print(f"bench: {name} ...", file=sys.stderr, flush=True)
            code[name] = fingerprint()
            sections.append(await SECTIONS[name](args.quick, work))
            print(
                f"bench: {name} done in {time.perf_counter() - t:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            for line in table(sections[-1:])[2:]:
                print("  " + line, file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    code["end"] = fingerprint()
    text = results_markdown(sections, args.quick, seconds, code)
    complete = not args.quick and not args.only
    out = (
        Path(args.out)
        if args.out
        else (
            ROOT / "bench" / "RESULTS.md"
            if complete
            else Path(tempfile.gettempdir()) / "notifier-bench-results.md"
        )
    )
    out.write_text(text)
    print("\n".join(table(sections)))
    print(f"\n{seconds / 60:.1f} min; written to {out}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about 2 minutes)")
    parser.add_argument(
        "--only", action="append", choices=list(SECTIONS), help="run only this section (repeatable)"
    )
    parser.add_argument(
        "--out",
        help="where to write the results (default: bench/RESULTS.md "
        "for a full run, a temporary file otherwise)",
    )
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
