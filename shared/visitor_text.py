"""Visitor text as it may reach a calendar, and visitor email addresses as the booking rules read them.

Every character that can change how text is shown without being seen is removed: control characters (C0, C1,
DEL; line breaks too, except in multi-line fields, where CR LF becomes LF), bidirectional overrides, embeddings
and isolates (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C) and zero-width characters (U+200B-U+200D,
U+2060, U+FEFF), i.e. Unicode categories Cc and Cf, plus the line and paragraph separators U+2028 / U+2029.
Text is NFC-normalized first.

An email's domain is a DNS name in its ASCII form: labels of letters, digits and hyphens, no trailing dot (a
trailing dot names the same host and would slip past a company-domain check), a top-level label of letters.
International (IDN) domains are refused unless allowed, and then kept in their `xn--` form, so that a look-alike
(`ex\u0430mple.com`, with a Cyrillic a) never reads as the real domain.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_LOCAL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}")
_SEPARATORS = {"\u2028", "\u2029"}


def clean_line(value: str) -> str:
    """One line of visitor text (a name): every invisible or control character removed, spaces collapsed."""
    text = "".join(" " if ch in "\t\r\n" or ch in _SEPARATORS else ch for ch in unicodedata.normalize("NFC", value))
    return " ".join(_visible(text).split())


def clean_block(value: str) -> str:
    """Multi-line visitor text (notes): as `clean_line`, but line breaks kept (as LF)."""
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    lines = [_visible(line.replace("\t", " ")) for line in re.split(r"[\n\u2028\u2029]", text)]
    return "\n".join(line.rstrip() for line in lines).strip()


def _visible(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf"))


def normalize_email(value: str, *, allow_idn: bool) -> str:
    """`local@domain` with the domain lower-case and in ASCII; ValueError saying what is wrong."""
    address = value.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise ValueError("a valid email address, like name@example.org")
    if not _LOCAL.fullmatch(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValueError("a valid email address, like name@example.org (plain ASCII before the @)")
    if domain.endswith("."):
        raise ValueError("an email address without a trailing dot after the domain")
    if not domain.isascii():
        if not allow_idn:
            raise ValueError("an email address with a plain ASCII domain (international domains are not accepted)")
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError("an email address with a valid domain") from None
    domain = domain.lower()
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels) or (not labels[-1].isalpha() and \
            not labels[-1].startswith("xn--")):
        raise ValueError("a valid email address, like name@example.org")
    return f"{local}@{domain}"


def visitor_key(email: str) -> str:
    """The form per-visitor limits count: lower-case, without a `+tag` (one mailbox, however tagged)."""
    local, _, domain = email.lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain.rstrip('.')}"


def in_domains(email: str, domains: tuple[str, ...]) -> bool:
    """Whether the address is in one of `domains` or a subdomain of one (trailing dots ignored)."""
    domain = email.rpartition("@")[2].lower().rstrip(".")
    return any(domain == d or domain.endswith("." + d) for d in domains)


def visitor_digest(email: str) -> str:
    """What a booking stores to be counted per visitor (a private extended property): a digest, not the address."""
    raw = hashlib.sha256(b"wcb-visitor\x1f" + visitor_key(email).encode()).digest()
    return base64.b32hexencode(raw).decode().lower().rstrip("=")
