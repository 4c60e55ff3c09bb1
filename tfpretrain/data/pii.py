"""PII scrubbing (typed placeholders) and exact-duplicate keys for corpus documents.

    scrubber = Scrubber(phone_regions=("US", "GB", "DE"))
    scrubber.scrub("Call 020 7946 0958 or mail ada@example.org")   # ("Call [PHONE] or mail [EMAIL]", {...})
    scrubber.find(text)                                             # [(start, end, type), ...] in the original text

How each type is found:
    url          a regex (opt-in: links are often wanted in a corpus)
    email        a regex, obfuscated forms included ("ada at example dot org", "ada [at] example [dot] org")
    iban         a regex candidate that python-stdnum validates (ISO 13616: country layout and mod-97 check)
    credit_card  13-19 digits in groups that pass the Luhn check
    ssn          US social security numbers, dashed, in the issued ranges
    national_id  identity / social-security / tax numbers of 15 countries in their written shapes, each confirmed
                 by python-stdnum's validator for the country (pii_national_ids.py)
    mac_address  device MAC addresses: 00:1a:2b:3c:4d:5e, 00-1A-2B-3C-4D-5E, 001a.2b3c.4d5e (Cisco)
    ip_address   IPv4 (octets 0-255) and IPv6 (Python's ipaddress)
    date_of_birth  a real date in a common format of 15 countries, only after a birth marker ("DOB:", "born on",
                 "geboren am", "né le", "生年月日", ...; pii_birth_dates.py): the date is replaced, the marker stays
    phone        Google's libphonenumber (`phonenumbers.PhoneNumberMatcher`, leniency VALID) for each of the
                 `phone_regions`: international numbers (+44 20 7946 0958, 0044 ...) whatever the region, national
                 ones (020 7946 0958) for the regions listed
Where spans of two types overlap, the earlier type in PRIORITY owns it (an e-mail inside a URL counts once; a card
number is never half a phone number). Look-alikes are left alone: ISBNs and version strings are never the start of
a match, and a phone number may not overlap a date, a time, a decimal or a thousands-grouped number, nor run on
into more digits. tests/support/pii_corpus.py holds the labelled set its precision and recall are measured on.
"""

import bisect
import functools
import hashlib
import ipaddress
import re
import unicodedata

import phonenumbers
from stdnum import iban as stdnum_iban

from tfpretrain.data.pii_birth_dates import BIRTH_DATE_PATTERN, find_birth_date
from tfpretrain.data.pii_national_ids import NATIONAL_ID_PATTERN, find_national_id
from tfpretrain.errors import UserError

PII_TYPES = ("email", "phone", "ip_address", "credit_card", "ssn", "iban", "url", "national_id", "mac_address",
             "date_of_birth")
_MAX_PASSES = 4  # scrub(): a pass after the first runs only when the one before replaced something
PLACEHOLDERS = {t: f"[{t.upper()}]" for t in PII_TYPES}
# National IDs before cards: a 15- or 18-digit ID can pass the Luhn check, and its own checks are stricter.
PRIORITY = ("url", "email", "iban", "national_id", "credit_card", "ssn", "mac_address", "ip_address",
            "date_of_birth", "phone")
# On by default: every type but url. Links are often wanted text, and a URL is rarely personal by itself. The other
# types only match checksummed or explicitly marked values (a birth date needs its marker, a MAC address its
# separators), so turning them on costs ordinary text almost nothing.
DEFAULT_OFF = ("url",)
# National formats of these countries are recognised by default; any number written with + or 00 is, always.
DEFAULT_PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN", "BR", "JP", "IT", "ES", "AU", "NL", "MX")

# Spans that look like PII but are not: ISBNs and version strings. No match of a regex type starts inside one.
_PROTECTED = r"""
    \bISBN(?:-?1[03])?:?[ ]?[0-9X](?:[ -]?[0-9X]){9,16}
  | (?<![\w-])97[89](?:-[0-9]{1,7}){3}-[0-9X](?![\w-])
  | (?<![\w.])97[89][0-9]{10}(?![\w.])
  | \b(?:v|version:?[ ]?)[0-9]+(?:\.[0-9]+)+
"""
# Numbers a phone match may not overlap: the protected spans, dates, times, decimals, grouped thousands, year ranges,
# SSN-shaped and dotted-quad numbers, IBAN-shaped codes (valid or not), six or more hyphenated pairs (lottery draws),
# build numbers (10.0.19041.1415: no phone format has a one-digit second group of four or more).
_IBAN = r"(?-i:[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]){11,32})"
_NOT_PHONES = re.compile(rf"""
    {_PROTECTED}
  | (?<![\d.\-/])\d{{4}}([-/.])\d{{1,2}}\1\d{{1,2}}(?![\d]|[.\-/]\d)
  | (?<![\d.\-/])\d{{1,2}}([-/.])\d{{1,2}}\2(?:\d{{4}}|\d{{2}})(?![\d]|[.\-/]\d)
  | (?<![\d:])\d{{1,2}}:\d{{2}}(?::\d{{2}})?(?![\d:])
  | (?<![\d.,])\d{{1,3}}(?:([.,])\d{{3}})+(?!\3?\d)(?:[.,]\d+)?
  | (?<![\d.,])\d+[.,]\d+(?![\d]|[.,]\d)
  | (?<![\d-])(?:1[5-9]|20)\d\d[ ]?[-–][ ]?(?:1[5-9]|20)\d\d(?![\d-])
  | (?<![\d-])\d{{3}}-\d{{2}}-\d{{4}}(?![\d-])
  | (?<![\d.])\d{{1,3}}(?:\.\d{{1,3}}){{3}}(?![\d]|\.\d)
  | (?<![\w-]){_IBAN}(?![\w-])
  | (?<![\w-])\d\d(?:-\d\d){{5,}}(?![\w-])
  | (?<![\d.])\d{{1,3}}\.\d\.\d+(?:\.\d+)+(?![\d]|\.\d)
""", re.VERBOSE | re.IGNORECASE)
# Spans a type's match may not overlap (a card number inside an IBAN whose check failed is neither).
_IBAN_SHAPED = re.compile(rf"(?<![\w-]){_IBAN}(?![\w-])", re.VERBOSE)
_GUARDS = {"phone": _NOT_PHONES, "credit_card": _IBAN_SHAPED, "national_id": _IBAN_SHAPED}

_OPEN, _CLOSE = r"[\[({<]", r"[\])}>]"
_AT = rf"(?:@|[ ]+@[ ]+|[ ]*{_OPEN}[ ]*at[ ]*{_CLOSE}[ ]*|[ ]+at[ ]+)"
_DOT = rf"(?:\.|[ ]+\.[ ]+|[ ]*{_OPEN}[ ]*dot[ ]*{_CLOSE}[ ]*|[ ]+dot[ ]+)"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_PATTERNS = {
    "url": r"\b(?:https?://|www\.)[^\s<>\"'`]*[^\s<>\"'`.,;:!?)\]}]",
    "email": rf"(?<![\w.+-])[\w.+-]+{_AT}[\w-]+(?:{_DOT}[\w-]+)*{_DOT}[a-z]{{2,24}}\b",
    "iban": rf"(?<![\w-]){_IBAN}(?![\w-])",
    "credit_card": r"(?<![\w+.,-])[1-9][0-9]{3}(?:[ -]?[0-9]{3,6}){2,4}(?![\w]|[.,-][0-9])",  # no IIN starts with 0
    "ssn": r"(?<![\w-])(?!000|666|9)[0-9]{3}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}(?![\w-]|\.[0-9])",
    "ip_address": rf"""
        (?<![\w:.])(?:[0-9a-f]{{0,4}}:){{2,7}}(?:{_IPV4}|[0-9a-f]{{0,4}})(?![\w:]|\.\w)   # IPv6 candidate
      | (?<![\w.]){_IPV4}(?![\w]|\.[0-9])
    """,
}
# Types whose matches cannot start inside an ISBN or a version string, so without the protected alternative (each
# starts with a look-ahead on its first character, which lets the regex engine skip other characters cheaply).
_MAC = r"""(?=[0-9a-f])(?<![\w:.\-])
    (?:[0-9a-f]{2}(?P<sep>[:-])[0-9a-f]{2}(?:(?P=sep)[0-9a-f]{2}){4}|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4})
    (?![\w]|[:.\-]\w)"""
_OWN_PATTERNS = {
    "national_id": re.compile(f"(?P<hit>{NATIONAL_ID_PATTERN})", re.IGNORECASE),
    "mac_address": re.compile(f"(?P<hit>{_MAC})", re.IGNORECASE | re.VERBOSE),
    "date_of_birth": re.compile(f"(?P<hit>{BIRTH_DATE_PATTERN})", re.IGNORECASE),
}
# A run of digits, separators and a leading + / ( that could hold a phone number (7+ digits): where to look.
_PHONE_CANDIDATE = re.compile(r"[+(]?\d(?:[\d()]|[ .\-/\u2013](?=[\d(])){5,}\d\)?")
_CONTEXT = 8  # characters the phone matcher sees around a candidate

# Spelled-out "x at y dot z" collides with prose ("look at the dot com era"); these words are never domains.
_PROSE_WORDS = frozenset("the a an this that these those my your his her its our their me him us them it".split())
_AT_RE, _DOT_RE = re.compile(_AT, re.I), re.compile(_DOT, re.I)


class ScrubberError(UserError):
    """A scrubber setting that names an unknown PII type or phone region."""


def luhn_ok(digits):
    """Luhn checksum of a digit string (credit card numbers pass it)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _email(text, start, end):
    """An address, or an obfuscated one that is not prose: "look at the dot" has a prose word for a domain label,
    and "me at ada.lovelace" spells only the "at" (a spelled " at " needs a spelled or bracketed dot)."""
    span = text[start:end]
    at = _AT_RE.search(span)
    if at.group().strip() == "@":
        return start, end
    domain = span[at.end() :]
    if at.group().strip().lower() == "at" and not any(d.group() != "." for d in _DOT_RE.finditer(domain)):
        return None
    labels = _DOT_RE.split(domain)[:-1]  # the last label is the top-level domain ("it", "me" are countries)
    return None if any(label.lower() in _PROSE_WORDS for label in labels) else (start, end)


def _credit_card(text, start, end):
    digits = re.sub(r"[^0-9]", "", text[start:end])
    return (start, end) if 13 <= len(digits) <= 19 and luhn_ok(digits) else None


def _iban(text, start, end):
    """The longest prefix of the candidate (ending at a character) that is a valid IBAN, or None."""
    span = text[start:end]
    best = None
    for stop in range(len(span), 0, -1):
        if span[stop - 1] != " " and stdnum_iban.is_valid(span[:stop], check_country=False):
            best = stop
            break
    return (start, start + best) if best else None


def _ip(text, start, end):
    span = text[start:end]
    if ":" not in span:
        return start, end  # the IPv4 branch already checked the octets
    try:
        ipaddress.IPv6Address(span)
    except ValueError:
        return None
    # Needs a digit; with "::" also >= 2 groups and >= 4 hex digits: rejects "a::b", "1::2", "::1", "dead::beef".
    groups = [g for g in re.split(r"[:.]", span) if g]
    compressed_ok = len(groups) >= 2 and sum(map(len, groups)) >= 4
    return (start, end) if any(ch.isdigit() for ch in span) and ("::" not in span or compressed_ok) else None


def _mac(text, start, end):
    """Needs a decimal digit (de:ad:be:ef:ca:fe is wordplay) and more than one byte value (00:00:00:00:00:00 and
    ff:ff:ff:ff:ff:ff are placeholders and broadcast, not a device). Written with hyphens or dots, it also needs a
    letter a-f: 04-12-23-35-41-49 are lottery numbers, 2019.0412.1130 a build number."""
    span = text[start:end].lower()
    hexits = re.sub(r"[^0-9a-f]", "", span)
    if not any(ch.isdigit() for ch in span) or len(set(hexits[i : i + 2] for i in range(0, 12, 2))) < 2:
        return None
    return (start, end) if ":" in span or any(ch in "abcdef" for ch in span) else None


def _national_id(text, start, end):
    stop = find_national_id(text, start)
    return (start, stop) if stop else None


def _date_of_birth(text, start, end):
    return find_birth_date(text, start)


_CHECKS = {"email": _email, "credit_card": _credit_card, "iban": _iban, "ip_address": _ip, "mac_address": _mac,
           "national_id": _national_id, "date_of_birth": _date_of_birth}


class Scrubber:
    """Replaces PII in text by typed placeholders ("[EMAIL]", ...). Build once, call `scrub` per document.

    types: PII types to scrub (default: all but those in DEFAULT_OFF, i.e. "url"); urls=True adds "url".
    phone_regions: ISO 3166 codes whose national phone formats are recognised (international ones always are).
    """

    def __init__(self, types=None, urls=False, phone_regions=DEFAULT_PHONE_REGIONS):
        chosen = set(t for t in PII_TYPES if t not in DEFAULT_OFF) if types is None else set(types)
        unknown = sorted(chosen - set(PII_TYPES))
        if unknown:
            raise ScrubberError(f"unknown PII types {unknown}; expected some of {PII_TYPES}")
        regions = [str(r).upper() for r in phone_regions]
        bad = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if bad:
            raise ScrubberError(f"unknown phone regions {bad}; expected ISO 3166 codes such as US, GB, DE")
        if urls:
            chosen.add("url")
        self.types = tuple(t for t in PRIORITY if t in chosen)
        self.phone_regions = tuple(regions) or (None,)  # None: only numbers written with their country code
        self._idd_00 = tuple(r for r in regions if _dials_00(r))
        flags = re.IGNORECASE | re.VERBOSE
        self._patterns = {t: _OWN_PATTERNS[t] if t in _OWN_PATTERNS else
                          re.compile(rf"(?P<keep>{_PROTECTED})|(?P<hit>{_PATTERNS[t]})", flags)
                          for t in self.types if t != "phone"}

    def find(self, text):
        """-> sorted [(start, end, type)]: the PII spans of `text`, non-overlapping."""
        taken, spans = [], []  # taken: sorted (start, end) already owned by an earlier type
        for pii_type in self.types:
            found = self._phones(text) if pii_type == "phone" else self._matches(pii_type, text)
            guard = _GUARDS.get(pii_type)
            guarded = [m.span() for m in guard.finditer(text)] if guard else []
            for start, end in found:
                if any(s < end and start < e for s, e in guarded):
                    continue
                i = bisect.bisect_left(taken, (start, end))
                if (i and taken[i - 1][1] > start) or (i < len(taken) and taken[i][0] < end):
                    continue
                taken.insert(i, (start, end))
                spans.append((start, end, pii_type))
        return sorted(spans)

    def scrub(self, text):
        """-> (scrubbed text, {type: count}); the dict holds only types found (an empty dict: nothing found).

        Repeated until nothing more is found (at most _MAX_PASSES), so scrubbing is idempotent: a replaced span can
        expose a neighbour that its digits hid ("390.533.447-05)05324111": the CPF first, then a phone number)."""
        counts = {}
        for _ in range(_MAX_PASSES):
            spans = self.find(text)
            if not spans:
                break
            parts, position = [], 0
            for start, end, pii_type in spans:
                parts += [text[position:start], PLACEHOLDERS[pii_type]]
                counts[pii_type] = counts.get(pii_type, 0) + 1
                position = end
            parts.append(text[position:])
            text = "".join(parts)
        return text, counts

    def _matches(self, pii_type, text):
        """Spans of the type's pattern that pass its check; after a failed check the search goes on from the next
        character, so "me at ada.lovelace at example dot org" still finds the address."""
        pattern, check, position = self._patterns[pii_type], _CHECKS.get(pii_type), 0
        while (match := pattern.search(text, position)) is not None:
            span = match.span() if match.group("hit") is None or not check else check(text, *match.span())
            if match.group("hit") is not None and span:
                yield span
            position = span[1] if span else match.start() + 1

    def _phones(self, text):
        """Phone numbers libphonenumber calls valid for one of the regions, in candidate digit runs."""
        spans = set()
        for candidate in _PHONE_CANDIDATE.finditer(text):
            if sum(ch.isdigit() for ch in candidate.group()) < 7:
                continue
            lead = candidate.group().lstrip("(")
            # A number with its country code reads the same from any region: one pass is enough.
            if lead.startswith("+"):
                regions = self.phone_regions[:1]
            elif lead.startswith("00"):
                regions = self._idd_00[:1] or self.phone_regions
            else:
                regions = self.phone_regions
            offset = max(0, candidate.start() - _CONTEXT)
            for start, end in _valid_phones(text[offset : candidate.end() + _CONTEXT], regions):
                start, end = offset + start, offset + end
                if text[start] == "(" and text.count("(", start, end) > text.count(")", start, end):
                    start += 1  # "(+44 20 7946 0958)": the bracket is the sentence's
                if _phone_ok(text, start, end):
                    spans.add((start, end))
        return sorted(spans, key=lambda s: (s[0], -s[1]))


@functools.lru_cache(maxsize=4096)  # corpora repeat numbers (footers, signatures)
def _valid_phones(window, regions):
    """(start, end) in `window` of the numbers libphonenumber's matcher calls VALID for any of the regions."""
    found = set()
    for region in regions:
        for match in phonenumbers.PhoneNumberMatcher(window, region, leniency=phonenumbers.Leniency.VALID):
            found.add((match.start, match.end))
    return tuple(sorted(found))


def _dials_00(region):
    """Whether "00" is an international call prefix from the region (then 0044 ... is a number with its code)."""
    prefix = phonenumbers.PhoneMetadata.metadata_for_region(region).international_prefix or ""
    return re.fullmatch(prefix, "00") is not None


def _phone_ok(text, start, end):
    """7 to 15 digits (E.164's longest), not a piece of a longer run of digits or of a code (INV-2023-0042,
    05358319-H), not glued to a word; bare digits only with a leading trunk 0 (2147483647 is an integer,
    07400123456 a number)."""
    span, before, after = text[start:end], text[max(0, start - 2) : start], text[end : end + 2]
    if not 7 <= sum(ch.isdigit() for ch in span) <= 15 or before[-1:].isalpha() or after[:1].isalpha():
        return False
    if span.isdigit() and not span.startswith("0"):
        return False
    return not (re.search(r"(?:\d[ .\-/]?|[^\W\d_][-/#_])$", before) or re.match(r"[ .\-/]?\d|[-/#_][^\W\d_]", after))


def dedup_key(text):
    """Hex sha256 of the text under NFKC, casefolding and collapsed whitespace: exact duplicates share a key."""
    canonical = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
