"""PII scrubbing (typed placeholders) and exact-duplicate keys for corpus documents. Pure Python: `re` only.

Each PII type is one compiled pattern, applied in a fixed order (url, email, credit_card, ssn, phone,
ip_address) so that an earlier type owns its span: e-mails inside URLs count once, long card numbers are
not half-eaten as phones. Candidates that fail a check (Luhn, digit count, IPv6 shape) are left as they are.
Patterns are anchored by look-arounds and their repeats are separator-delimited, so scanning stays linear.
"""

import hashlib
import ipaddress
import re
import unicodedata

PII_TYPES = ("email", "phone", "ip_address", "credit_card", "ssn", "url")
PLACEHOLDERS = {t: f"[{t.upper()}]" for t in PII_TYPES}
_ORDER = ("url", "email", "credit_card", "ssn", "phone", "ip_address")

# Spans that look like PII but are not: ISBNs and version strings. Every pass skips them.
_PROTECTED = r"""
    \bISBN(?:-?1[03])?:?[ ]?[0-9X](?:[ -]?[0-9X]){9,16}
  | (?<![\w-])97[89](?:-[0-9]{1,7}){3}-[0-9X](?![\w-])
  | (?<![\w.])97[89][0-9]{10}(?![\w.])
  | \b(?:v|version:?[ ]?)[0-9]+(?:\.[0-9]+)+
"""

_OPEN, _CLOSE = r"[\[({<]", r"[\])}>]"
_AT = rf"(?:@|[ ]+@[ ]+|[ ]*{_OPEN}[ ]*at[ ]*{_CLOSE}[ ]*|[ ]+at[ ]+)"
_DOT = rf"(?:\.|[ ]+\.[ ]+|[ ]*{_OPEN}[ ]*dot[ ]*{_CLOSE}[ ]*|[ ]+dot[ ]+)"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"

_PATTERNS = {
    "url": r"\b(?:https?://|www\.)[^\s<>\"'`]*[^\s<>\"'`.,;:!?)\]}]",
    "email": rf"(?<![\w.+-])[\w.+-]+{_AT}[\w-]+(?:{_DOT}[\w-]+)*{_DOT}[a-z]{{2,24}}\b",
    "credit_card": r"(?<![\w+.,-])[0-9]{4}(?:[ -]?[0-9]{3,6}){2,4}(?![\w]|[.,-][0-9])",
    "ssn": r"(?<![\w-])(?!000|666|9)[0-9]{3}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}(?![\w-]|\.[0-9])",
    "phone": r"""
        (?<![\w+.(-])
        (?: (?:\+?1[ .-]?)? (?:\([0-9]{3}\)[ ]?|[0-9]{3}[ .-]) [0-9]{3}[ .-][0-9]{4}   # US
          | \+[1-9][0-9]{0,2}(?:[ .-]\(?[0-9]{1,8}\)?){1,5}                           # +CC groups
          | \+[1-9][0-9]{7,14}                                                         # E.164
        )
        (?![\w]|[.-][0-9])
    """,
    "ip_address": rf"""
        (?<![\w:.])(?:[0-9a-f]{{0,4}}:){{2,7}}(?:{_IPV4}|[0-9a-f]{{0,4}})(?![\w:]|\.\w)   # IPv6 candidate
      | (?<![\w.]){_IPV4}(?![\w]|\.[0-9])
    """,
}

# Spelled-out "x at y dot z" collides with prose ("look at the dot com era"); these words are never domains.
_PROSE_WORDS = frozenset("the a an this that these those my your his her its our their me him us them it".split())
_AT_RE, _DOT_RE = re.compile(_AT, re.I), re.compile(_DOT, re.I)


def luhn_ok(digits):
    """Luhn checksum of a digit string (credit card numbers pass it)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _is_email(span):
    if "@" in span:
        return True
    domain = _AT_RE.split(span, maxsplit=1)[1]
    return not any(label.lower() in _PROSE_WORDS for label in _DOT_RE.split(domain))


def _is_credit_card(span):
    digits = re.sub(r"[^0-9]", "", span)
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _is_phone(span):
    return 8 <= sum(ch.isdigit() for ch in span) <= 15


def _is_ip(span):
    if ":" not in span:
        return True  # the IPv4 branch already checked the octets
    try:
        ipaddress.IPv6Address(span)
    except ValueError:
        return False
    # Needs a digit; with "::" also >= 2 groups and >= 4 hex digits: rejects "a::b", "1::2", "::1", "dead::beef".
    groups = [g for g in re.split(r"[:.]", span) if g]
    compressed_ok = len(groups) >= 2 and sum(map(len, groups)) >= 4
    return any(ch.isdigit() for ch in span) and ("::" not in span or compressed_ok)


_CHECKS = {"email": _is_email, "credit_card": _is_credit_card, "phone": _is_phone, "ip_address": _is_ip}


class Scrubber:
    """Replaces PII in text by typed placeholders ("[EMAIL]", ...). Compile once, call `scrub` per document.

    types: PII types to scrub (default: all but "url", as links are often wanted in a corpus); urls=True adds
    "url". Scrubbed URLs go first, so an e-mail inside one is not counted again.
    """

    def __init__(self, types=None, urls=False):
        chosen = set(t for t in PII_TYPES if t != "url") if types is None else set(types)
        unknown = sorted(chosen - set(PII_TYPES))
        if unknown:
            raise ValueError(f"unknown PII types {unknown}; expected some of {PII_TYPES}")
        if urls:
            chosen.add("url")
        self.types = tuple(t for t in _ORDER if t in chosen)
        flags = re.IGNORECASE | re.VERBOSE
        self._passes = [(t, re.compile(rf"(?P<keep>{_PROTECTED})|(?P<hit>{_PATTERNS[t]})", flags)) for t in self.types]

    def scrub(self, text):
        """-> (scrubbed text, {type: count}); the dict holds only types found (an empty dict: nothing found)."""
        counts = {}
        for pii_type, pattern in self._passes:
            text, n = _replace(pattern, text, _CHECKS.get(pii_type), PLACEHOLDERS[pii_type])
            if n:
                counts[pii_type] = n
        return text, counts


def _replace(pattern, text, check, placeholder):
    """One pass: `hit` matches that pass `check` become the placeholder; `keep` (protected) matches stay."""
    n = 0

    def replace(match):
        nonlocal n
        span = match.group("hit")
        if span is None or (check and not check(span)):
            return match.group(0)
        n += 1
        return placeholder

    return pattern.sub(replace, text), n


def dedup_key(text):
    """Hex sha256 of the text under NFKC, casefolding and collapsed whitespace: exact duplicates share a key."""
    canonical = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
