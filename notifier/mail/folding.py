"""The email policy our messages are written with: SMTP's, with subjects folded safely.

Lines are folded at 78 and end in CRLF, as SMTP wants them; no raw 8-bit
(policy.SMTP alone would send short non-ASCII bodies as 8bit).
"""

from __future__ import annotations

import email.policy
from email.header import Header


class _SmtpPolicy(email.policy.EmailPolicy):
    """policy.SMTP, but a non-ASCII Subject is folded as whole encoded words.

    Python's own folder (before the fix for CPython gh-144156) may put the space
    between two encoded words outside them, where RFC 2047 says a reader must
    drop it: "Ann — “Is dex…”" arrived as "Ann —“Is dex…”".  email.header.Header
    encodes the whole subject, spaces inside the encoded words, so none is lost.
    """

    def fold_binary(self, name: str, value: str) -> bytes:
        text = str(value)
        if name.lower() != "subject" or text.isascii():
            return super().fold_binary(name, value)
        encoded = Header(text, "utf-8", header_name=name).encode(
            linesep=self.linesep, maxlinelen=self.max_line_length
        )
        return f"{name}: {encoded}{self.linesep}".encode("ascii")


SMTP_7BIT = _SmtpPolicy(linesep="\r\n", cte_type="7bit")
