"""Email addresses and header text from untrusted input, made safe.

Everything that ends up in a header passes through here: comment authors' names
and addresses come from the public, and a name such as ``"Ann\\r\\nBcc: x@y"``
must never become a header of its own.
"""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.utils import parseaddr

from email_validator import EmailNotValidError, validate_email

# Reject all C0 controls, DEL and C1 controls, plus the Unicode line and paragraph
# separators: CR/LF/NUL in particular enable header injection, and the others
# have no business in a display name or a subject.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")


def clean_header_text(value: str, *, limit: int = 200) -> str:
    """Return ``value`` as one line of printable text, at most ``limit`` characters.

    ``=?`` is broken up as well: CPython before 3.11.10 decodes RFC 2047 encoded
    words found in a header value it is given and writes a decoded CR LF out raw
    (CVE-2024-6923), so ``=?utf-8?q?=0D=0ABcc:...?=`` would be an injection.
    """
    text = _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip().replace("=?", "= ?")
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def parse_address(value: str) -> Address:
    """Parse ``addr`` or ``Name <addr>`` into an Address, or raise ValueError.

    The address part must be a syntactically valid email address; deliverability
    is not checked (no DNS at start-up).
    """
    if _CONTROL.search(value):
        raise ValueError("contains control characters")
    name, addr = parseaddr(value.strip())
    if not addr or "," in value.replace(name, "", 1):
        raise ValueError(f"{value!r} is not an email address")
    checked = checked_addr_spec(addr)
    if checked is None:
        raise ValueError(f"{addr!r} is not a valid email address")
    local, _, domain = checked.rpartition("@")
    return Address(display_name=clean_header_text(name), username=local, domain=domain)


def checked_addr_spec(value: str | None) -> str | None:
    """Return the normalised address if ``value`` is a valid one, else None.

    Used for commenters' addresses, which are whatever a reader typed.
    """
    if not value or _CONTROL.search(value) or len(value) > 254:
        return None
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    # Only an address every mail system can carry: an internationalised domain
    # in its ASCII (punycode) form; a non-ASCII local part would need SMTPUTF8 and
    # cannot go in a Reply-To header, so it counts as no usable address.
    return str(result.ascii_email) if result.ascii_email else None


def display_address(name: str, addr_spec: str) -> Address:
    """An Address whose display name is cleaned of anything that could break a header."""
    local, _, domain = addr_spec.rpartition("@")
    return Address(display_name=clean_header_text(name, limit=80), username=local, domain=domain)
