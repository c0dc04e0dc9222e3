"""Email addresses and header text from untrusted input, made safe.

Everything that ends up in a header passes through here: comment authors' names
and addresses come from the public, and a name such as ``"Ann\\r\\nBcc: x@y"``
must never become a header of its own.

One rule decides what an address we write into a header may look like
(``checked_addr_spec``): a dot-atom local part over a conservative set of
characters, a hostname domain in its ASCII (punycode) form, exactly one address.
"""

from __future__ import annotations

import hashlib
import re
from email.headerregistry import Address
from email.utils import parseaddr

from email_validator import EmailNotValidError, validate_email

# Reject all C0 controls, DEL and C1 controls, plus the Unicode line and paragraph
# separators: CR/LF/NUL in particular enable header injection, and the others
# have no business in a display name or a subject.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")

# The local part of an address we write into a header: a dot-atom (RFC 5322
# 3.2.3) over RFC 5322's atext minus three characters.  "?" is left out because
# with "=" it opens an RFC 2047 encoded word, and email.headerregistry decodes
# encoded words even inside an addr-spec: "=?utf-8?b?...?=@evil.example" became a
# Reply-To of someone else.  "!" and "%" are left out because they are the UUCP
# bang path and the "percent hack", which some relays still route on.  Quotes,
# spaces, comments, brackets and non-ASCII are not atext at all.
_ATOM = r"[A-Za-z0-9#$&'*+/=^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
# A hostname in ASCII: letters, digits and inner hyphens, at least two labels
# (no domain literals such as [127.0.0.1], no trailing dot).
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")

_GMAIL = frozenset({"gmail.com", "googlemail.com"})


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

    The address part must pass ``checked_addr_spec``; deliverability is not
    checked (no DNS at start-up).
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
    """The address in the one form we write into headers, or None if it has none.

    Used for commenters' addresses, which are whatever a reader typed: exactly one
    address, a local part as ``_LOCAL_PART`` allows (no ``=?``, quotes, spaces,
    comments or brackets), an internationalised domain in its punycode form.
    """
    if not value or _CONTROL.search(value) or len(value) > 254:
        return None
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    if not result.ascii_email:
        # A non-ASCII local part would need SMTPUTF8 and cannot go in a header.
        return None
    local, _, domain = str(result.ascii_email).rpartition("@")
    domain = domain.lower()
    if len(local) > 64 or not _LOCAL_PART.fullmatch(local) or not _DOMAIN.fullmatch(domain):
        return None
    return f"{local}@{domain}"


def mailbox(addr_spec: str) -> str:
    """The mailbox an address delivers to, for counting: ``Ann.Lee+blog@GoogleMail.com``
    and ``annlee@gmail.com`` are one mailbox.

    Lower case, a ``+tag`` removed (subaddressing, RFC 5233, which the large
    providers all offer), and for Gmail the dots removed and googlemail.com read
    as gmail.com, as Google delivers them.  Only ever compared, never sent to.
    """
    local, _, domain = addr_spec.lower().rpartition("@")
    base = local.split("+", 1)[0] or local
    if domain in _GMAIL:
        base, domain = base.replace(".", "") or base, "gmail.com"
    return f"{base}@{domain}"


def mailbox_token(addr_spec: str) -> str:
    """A short stable token for a mailbox, so keys and logs need not carry the address."""
    return hashlib.sha256(mailbox(addr_spec).encode()).hexdigest()[:20]


def display_address(name: str, addr_spec: str) -> Address:
    """An Address whose display name is cleaned of anything that could break a header."""
    local, _, domain = addr_spec.rpartition("@")
    return Address(display_name=clean_header_text(name, limit=80), username=local, domain=domain)
