"""A site whose moderators flag what the shipped triage model does not forward.

On this site the InfoLine wants reports about central lines and ports, even when
they ask nothing ("PICC line oozing at the site this morning"); the shipped model,
trained on questions, scores those low. Moderators flagged such comments
``medical_question`` and approved the chit-chat around them without a flag.
"""

from __future__ import annotations

import itertools

LINES = ("PICC line", "port", "Hickman line", "central line", "PICC", "line")
PROBLEMS = (
    "is red and sore",
    "is oozing a little at the site",
    "dressing is wet and lifting",
    "is leaking when flushed",
    "feels hot and swollen",
    "is itchy under the dressing",
)
WHEN = ("since Tuesday", "this morning", "after my shower", "since the last flush", "today")
CHAT = (
    "Lovely tea party at the centre on {day}, thank you to the volunteers!",
    "The garden at the hospice looked beautiful on {day}.",
    "Great quiz night on {day}, well done team blue.",
    "See you all at the coffee morning on {day}.",
    "The choir sang so well on {day}, what a treat.",
    "Thanks for the raffle prizes handed out on {day}.",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Not in the history; the shipped model does not forward it, the site model should.
NEW_REPORT = (
    "The PICC line is oozing a little at the site this morning, dressing changed yesterday."
)


WHOSE = ("My", "Dad's", "Mum's", "The", "Her", "His", "Our son's")


def line_reports(n: int) -> list[str]:
    combos = zip(
        itertools.cycle(WHOSE),
        itertools.cycle(LINES),
        itertools.cycle(PROBLEMS),
        itertools.cycle(WHEN),
    )
    return [
        f"{who} {line} {problem} {when}."
        for who, line, problem, when in itertools.islice(combos, n)
    ]


def chit_chat(n: int) -> list[str]:
    combos = itertools.product(CHAT, DAYS)
    return [text.format(day=day) for text, day in itertools.islice(combos, n)]
