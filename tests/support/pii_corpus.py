"""A labelled PII test set built from templates, independent of tfpretrain: documents with the exact character span
and type of every piece of personal data in them, and look-alikes (dates, versions, ISBNs, prices, numbers that
fail a checksum, ...) that a scrubber must leave alone.

    samples = labelled_set(seed=0)       # [Sample(text, spans=[(start, end, type)], kind="phone/GB/national"), ...]

Values are made here, not by the scrubber's code: card numbers get their Luhn digit, IBANs their ISO 7064 mod-97
check digits, US SSNs the issued ranges, national IDs their country's check (pii_national_ids.py, hand-written
reference algorithms); phone numbers are drawn near Google's libphonenumber example numbers and kept when
libphonenumber's metadata calls them valid, then written in national, international and E.164 forms.
Types: email (plain and obfuscated), phone (international and E.164 formats from 20 countries, national formats
with and without separators from 12, 00-prefixed, (0)-trunk and US variants), iban (15 countries), credit_card
(7 networks), ssn, ip_address (IPv4, IPv6), url, national_id (15 countries, 27 written shapes), mac_address (colon,
hyphen, Cisco dot), date_of_birth (a birth marker and a date as written in 15 countries, pii_birth_dates.py).
Every kind has `per_kind` samples (default 20); look-alikes come in 88 categories x `per_lookalike` (default 30) =
2,640 documents, among them near misses of every national ID (check wrong under every scheme), hex strings and
hashes for MAC addresses, plain dates and birth years for dates of birth.
"""

import dataclasses
import random
import string

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from tests.support.pii_birth_dates import birth_date, birth_date_kinds, birth_date_lookalikes
from tests.support.pii_national_ids import STYLES, luhn_digit, national_id

TYPES = ("email", "phone", "iban", "credit_card", "ssn", "ip_address", "url", "national_id", "mac_address",
         "date_of_birth")
INTERNATIONAL_REGIONS = ("US", "CA", "GB", "DE", "FR", "IN", "BR", "JP", "IT", "ES", "AU", "NL", "MX", "KR", "ZA",
                         "SE", "CH", "PL", "CN", "AR")
NATIONAL_REGIONS = ("US", "GB", "DE", "FR", "IN", "BR", "JP", "IT", "ES", "AU", "NL", "MX")
# Country -> BBAN layout ("n" digit, "a" upper-case letter, "c" either), as in the SWIFT IBAN registry.
IBAN_LAYOUTS = {
    "DE": "n" * 18, "GB": "aaaa" + "n" * 14, "FR": "n" * 10 + "c" * 11 + "nn", "ES": "n" * 20,
    "IT": "a" + "n" * 10 + "c" * 12, "NL": "aaaa" + "n" * 10, "BE": "n" * 12, "CH": "n" * 5 + "c" * 12,
    "AT": "n" * 16, "PL": "n" * 24, "SE": "n" * 20, "DK": "n" * 14, "NO": "n" * 11, "PT": "n" * 21,
    "IE": "aaaa" + "n" * 14,
}
# Network -> (prefixes, length, grouping of the printed number).
CARD_NETWORKS = {
    "visa": (("4",), 16, (4, 4, 4, 4)), "mastercard": (("51", "53", "55", "2221", "2720"), 16, (4, 4, 4, 4)),
    "amex": (("34", "37"), 15, (4, 6, 5)), "discover": (("6011", "65"), 16, (4, 4, 4, 4)),
    "jcb": (("3528", "3589"), 16, (4, 4, 4, 4)), "diners": (("36",), 14, (4, 6, 4)),
    "unionpay": (("62",), 16, (4, 4, 4, 4)),
}
SENTENCES = (
    "Please contact {} before noon.", "Kontakt: {}.", "Mi número es {}, gracias.", "Écrivez-nous : {} merci.",
    "Reach me at {} tomorrow", "({}) is the one to use.", "Details: {}; thanks.", "Bitte an {} wenden!",
    "Il mio riferimento è {} per favore.", "{} was given in the form.", "Use \"{}\" next time.", "Ref. {}",
)
FIRST = ("anna", "jean", "li", "maria", "omar", "yuki", "priya", "lars", "sofia", "kofi", "ines", "raj")
LAST = ("smith", "muller", "dupont", "rossi", "tanaka", "silva", "kumar", "garcia", "jansen", "nowak", "kim")
EMAIL_DOMAINS = ("example.com", "example.co.uk", "beispiel.de", "exemple.fr", "exemplo.com.br", "example.co.jp",
                 "example.in", "esempio.it", "ejemplo.es", "voorbeeld.nl", "example.com.au", "ejemplo.mx",
                 "example.org", "mail.example.ca")


@dataclasses.dataclass(frozen=True)
class Sample:
    text: str
    spans: tuple[tuple[int, int, str], ...]  # (start, end, type) of every PII value in text
    kind: str  # "phone/GB/national", "lookalike/date-iso", ...


def _embed(rng, value, pii_type, kind, before="", after=""):
    """A sentence holding before + value + after; the span labelled is the value's."""
    template = rng.choice(SENTENCES)
    start = template.index("{}") + len(before)
    text = template.replace("{}", before + value + after)
    spans = ((start, start + len(value), pii_type),) if pii_type else ()
    return Sample(text, spans, kind)


# -- values ------------------------------------------------------------------------------------------------------
def card_number(rng, network, valid=True):
    prefixes, length, groups = CARD_NETWORKS[network]
    partial = rng.choice(prefixes)
    partial += "".join(rng.choice(string.digits) for _ in range(length - 1 - len(partial)))
    check = luhn_digit(partial)
    digits = partial + (check if valid else str((int(check) + rng.randint(1, 9)) % 10))
    parts, pos = [], 0
    for size in groups:
        parts.append(digits[pos : pos + size])
        pos += size
    return rng.choice((" ", "-", "")).join(parts)


def iban(rng, country, valid=True, grouped=True):
    alphabet = {"n": string.digits, "a": string.ascii_uppercase, "c": string.digits + string.ascii_uppercase}
    bban = "".join(rng.choice(alphabet[k]) for k in IBAN_LAYOUTS[country])
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")  # ISO 7064 MOD 97-10
    check = 98 - int(numeric) % 97
    if not valid:
        check = rng.choice([c for c in range(2, 99) if c != check])
    compact = f"{country}{check:02d}{bban}"
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4)) if grouped else compact


def ssn(rng):
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def phone(rng, region, style):
    """A number libphonenumber calls valid for `region`, near its example numbers, printed in `style`: national,
    national-compact (digits only), international, e164, idd-00 (0044 ...), trunk-0 (+44 (0)20 ...), us-dashed,
    us-dotted, us-one (1-201-555-0123)."""
    kind = rng.choice((PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE))
    example = phonenumbers.example_number_for_type(region, kind)
    digits = str(example.national_number)
    for _ in range(200):
        tail = "".join(rng.choice(string.digits) for _ in range(4))
        number = phonenumbers.parse(f"+{example.country_code}{digits[:-4]}{tail}")
        if phonenumbers.is_valid_number_for_region(number, region):
            break
    else:
        number = example
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    digits = str(number.national_number)
    if style == "national":
        return national
    if style == "national-compact":
        return "".join(ch for ch in national if ch.isdigit())
    if style == "e164":
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if style == "idd-00":
        return "00" + international.removeprefix("+")
    if style == "trunk-0":
        code, rest = international.split(" ", 1)
        return f"{code} (0){rest}"
    if style in ("us-dashed", "us-dotted", "us-one"):
        sep = "." if style == "us-dotted" else "-"
        return ("1-" if style == "us-one" else "") + sep.join((digits[:3], digits[3:6], digits[6:]))
    return international


def ipv4(rng):
    return ".".join(str(rng.randint(1, 254)) for _ in range(4))


def ipv6(rng):
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    if rng.random() < 0.5:
        return ":".join(groups)
    start = rng.randint(1, 5)
    return ":".join(["2001", "db8", *groups[2:start]]) + "::" + ":".join(groups[start + 2 :])


def mac(rng, style):
    """A device MAC address: colon-lower (Linux), colon-upper, hyphen-upper (Windows), hyphen-lower, cisco-dot."""
    octets = [f"{rng.randint(0, 255):02x}" for _ in range(6)]
    if style == "cisco-dot":
        compact = "".join(octets)
        return ".".join(compact[i : i + 4] for i in range(0, 12, 4))
    text = (":" if style.startswith("colon") else "-").join(octets)
    return text.upper() if style.endswith("upper") else text


def email(rng, domain):
    local = rng.choice(("{f}.{l}", "{f}_{l}", "{f}{n}", "{f}.{l}+news", "{l}.{f}{n}")).format(
        f=rng.choice(FIRST), l=rng.choice(LAST), n=rng.randint(1, 99))
    return f"{local}@{domain}"


def obfuscated_email(rng, domain):
    at, dot = rng.choice(((" at ", " dot "), (" [at] ", " [dot] "), ("(at)", "(dot)"), (" @ ", " . "),
                          (" {at} ", " {dot} ")))
    local = f"{rng.choice(FIRST)}{rng.choice(('.', '_', ''))}{rng.choice(LAST)}"
    return local + at + dot.join(domain.split("."))


def url(rng, domain):
    path = rng.choice(("", "/", "/about", "/a/b?id=42", "/docs/page.html#top", "/search?q=test&lang=de"))
    return rng.choice(("https://", "http://", "https://www.", "www.")) + domain + path


def pii_samples(rng, per_kind=20):
    """Documents with one PII value each, per_kind of every (type, format[, country]) kind."""
    makers = []
    for domain in EMAIL_DOMAINS:
        makers.append((f"email/plain/{domain}", "email", lambda d=domain: email(rng, d)))
        makers.append((f"email/obfuscated/{domain}", "email", lambda d=domain: obfuscated_email(rng, d)))
        makers.append((f"url/{domain}", "url", lambda d=domain: url(rng, d)))
    for region in INTERNATIONAL_REGIONS:
        makers.append((f"phone/{region}/international", "phone", lambda r=region: phone(rng, r, "international")))
        makers.append((f"phone/{region}/e164", "phone", lambda r=region: phone(rng, r, "e164")))
    for region in NATIONAL_REGIONS:
        for style in ("national", "national-compact"):
            makers.append((f"phone/{region}/{style}", "phone", lambda r=region, s=style: phone(rng, r, s)))
    for region in ("GB", "DE", "FR", "IT", "ES", "NL", "IN", "BR", "MX"):  # countries that dial abroad with 00
        makers.append((f"phone/{region}/idd-00", "phone", lambda r=region: phone(rng, r, "idd-00")))
    for region in ("GB", "DE", "NL", "CH"):  # where "+44 (0)20 ..." is a common way of writing it
        makers.append((f"phone/{region}/trunk-0", "phone", lambda r=region: phone(rng, r, "trunk-0")))
    for style in ("us-dashed", "us-dotted", "us-one"):
        makers.append((f"phone/US/{style}", "phone", lambda s=style: phone(rng, "US", s)))
    for country in IBAN_LAYOUTS:
        makers.append((f"iban/{country}/grouped", "iban", lambda c=country: iban(rng, c)))
        makers.append((f"iban/{country}/compact", "iban", lambda c=country: iban(rng, c, grouped=False)))
    for network in CARD_NETWORKS:
        makers.append((f"credit_card/{network}", "credit_card", lambda n=network: card_number(rng, n)))
    for copy in range(5):  # types with a single format get as many samples as the others' several
        makers.append((f"ssn/US/{copy}", "ssn", lambda: ssn(rng)))
        makers.append((f"ip_address/ipv4/{copy}", "ip_address", lambda: ipv4(rng)))
        makers.append((f"ip_address/ipv6/{copy}", "ip_address", lambda: ipv6(rng)))
    for country, styles in STYLES.items():
        for style in styles:
            makers.append((f"national_id/{country.split('-')[0]}/{style}", "national_id",
                           lambda c=country, s=style: national_id(rng, c, s)))
    for style in ("colon-lower", "colon-upper", "hyphen-upper", "hyphen-lower", "cisco-dot"):
        for copy in range(2):
            makers.append((f"mac_address/{style}/{copy}", "mac_address", lambda s=style: mac(rng, s)))
    samples = [_embed(rng, make(), pii_type, kind) for kind, pii_type, make in makers for _ in range(per_kind)]
    for kind, (markers, make_date, after) in birth_date_kinds().items():
        samples += [_embed(rng, make_date(birth_date(rng)), "date_of_birth", kind, rng.choice(markers), after)
                    for _ in range(per_kind)]
    return samples


# -- look-alikes -------------------------------------------------------------------------------------------------
def _lookalikes(rng):
    """Category -> a maker of one look-alike string (no personal data, never a valid checksum)."""
    d, m, y = (lambda: rng.randint(1, 28)), (lambda: rng.randint(1, 12)), (lambda: rng.randint(1900, 2030))
    n = rng.randint
    return {
        "date-iso": lambda: f"{y()}-{m():02d}-{d():02d}",
        "date-dmy-slash": lambda: f"{d():02d}/{m():02d}/{y()}",
        "date-mdy-slash": lambda: f"{m()}/{d()}/{y()}",
        "date-dmy-dot": lambda: f"{d():02d}.{m():02d}.{y()}",
        "date-dmy-dash": lambda: f"{d():02d}-{m():02d}-{y()}",
        "date-ymd-slash": lambda: f"{y()}/{m():02d}/{d():02d}",
        "datetime-iso": lambda: f"{y()}-{m():02d}-{d():02d}T{n(0, 23):02d}:{n(0, 59):02d}:{n(0, 59):02d}Z",
        "date-words": lambda: f"{rng.choice(('Jan', 'March', 'Okt.', 'déc.'))} {d()}, {y()}",
        "time": lambda: f"{n(0, 23):02d}:{n(0, 59):02d}",
        "time-seconds": lambda: f"{n(0, 23):02d}:{n(0, 59):02d}:{n(0, 59):02d}",
        "time-range": lambda: f"{n(6, 11)}:00-{n(12, 20)}:30",
        "decimal": lambda: f"{n(0, 999)}.{n(1, 99999)}",
        "thousands-us": lambda: f"{n(1, 999)},{n(0, 999):03d},{n(0, 999):03d}.{n(0, 99):02d}",
        "thousands-eu": lambda: f"{n(1, 999)}.{n(0, 999):03d}.{n(0, 999):03d},{n(0, 99):02d}",
        "price": lambda: rng.choice(("$", "€ ", "£", "USD ")) + f"{n(1, 9999)}.{n(0, 99):02d}",
        "version": lambda: f"v{n(0, 20)}.{n(0, 30)}.{n(0, 99)}",
        "version-words": lambda: f"version {n(1, 9)}.{n(0, 20)}.{n(0, 9)}.{n(0, 9)}",
        "version-bare": lambda: f"{n(1, 9)}.{n(10, 30)}.{n(0, 9)}",
        "isbn-13": lambda: f"ISBN 978-{n(0, 9)}-{n(1000, 9999)}-{n(1000, 9999)}-{n(0, 9)}",
        "isbn-10": lambda: f"ISBN-10: 0-{n(100, 999)}-{n(10000, 99999)}-{n(0, 9)}",
        "isbn-hyphens": lambda: f"978-{n(0, 9)}-{n(100, 999)}-{n(10000, 99999)}-{n(0, 9)}",
        "isbn-bare": lambda: f"978{n(1000000000, 9999999999)}",
        "card-bad-luhn": lambda: card_number(rng, rng.choice(("visa", "mastercard", "discover")), valid=False),
        "iban-bad-check": lambda: iban(rng, rng.choice(list(IBAN_LAYOUTS)), valid=False),
        "ssn-bad-area": lambda: f"{rng.choice(('000', '666', '9' + str(n(10, 99))))}-{n(10, 99)}-{n(1000, 9999)}",
        "ssn-bad-group": lambda: f"{n(100, 665)}-00-{n(1000, 9999)}",
        "ipv4-bad": lambda: rng.choice((f"{n(256, 999)}.{n(0, 255)}.{n(0, 255)}.{n(0, 255)}",
                                        f"{n(1, 9)}.{n(1, 9)}.{n(1, 9)}.{n(1, 9)}.{n(1, 9)}")),
        "year-range": lambda: f"{n(1800, 1999)}-{n(2000, 2030)}",
        "year": lambda: f"in {y()}",
        "page-range": lambda: f"pp. {n(1, 400)}-{n(401, 900)}",
        "section": lambda: f"section {n(1, 20)}.{n(1, 9)}.{n(1, 9)}",
        "score": lambda: f"{n(0, 9)}-{n(0, 9)}",
        "basketball": lambda: f"{n(80, 130)}-{n(80, 130)}",
        "local-number": lambda: f"call {n(200, 999)}-{n(1000, 9999)}",
        "zip": lambda: rng.choice((f"{n(10000, 99999)} Berlin", f"{n(75001, 75020)} Paris", "SW1A 1AA",
                                   f"CA {n(90001, 96162)}")),
        "coordinates": lambda: f"{n(-89, 89)}.{n(1000, 9999)}, {n(-179, 179)}.{n(1000, 9999)}",
        "quantity": lambda: f"{n(1, 999)} {rng.choice(('kg', 'ml', 'km', 'MB', '%'))}",
        "scientific": lambda: f"{n(1, 9)}.{n(0, 999)}e-{n(1, 30)}",
        "hex-hash": lambda: rng.choice("abcdef") + "".join(rng.choice("0123456789abcdef") for _ in range(n(6, 11))),
        **_mac_lookalikes(rng),
        **{f"national_id-bad/{country}": lambda c=country: national_id(rng, c, rng.choice(STYLES[c]), valid=False)
           for country in STYLES},
        **birth_date_lookalikes(rng),
        "cpp": lambda: rng.choice(("std::vector<int>", "a::b", "x[1::2]", "ns::Type::value")),
        "prose-at-dot": lambda: rng.choice(("look at the dot", "meet at noon", "look at the dot com bubble",
                                            "she is at home")),
        "order-ref": lambda: f"order #{rng.choice(string.ascii_uppercase)}-{n(1000, 99999)}",
        "math": lambda: f"{n(1, 99)} + {n(1, 99)} = {n(2, 198)}",
        "temperature": lambda: f"{n(-30, 45)} °C at {n(0, 23):02d}:00",
        "invoice": lambda: f"INV-{y()}-{n(1, 99999):05d}",
        "ticket": lambda: f"ticket #{n(10000, 999999)}",
        "thousands-space": lambda: f"{n(1, 99)} {n(0, 999):03d} {n(0, 999):03d} inhabitants",
        "dms": lambda: f"{n(0, 89)}°{n(0, 59)}′{n(0, 59)}″N {n(0, 179)}°{n(0, 59)}′{n(0, 59)}″E",
        "extension": lambda: f"ext. {n(100, 9999)}",
        "stock": lambda: f"{rng.choice(('AAPL', 'SAP'))} {n(10, 999)}.{n(0, 99):02d} (+{n(0, 9)}.{n(0, 99):02d}%)",
        "duration": lambda: f"{n(0, 9)}h {n(0, 59):02d}m {n(0, 59):02d}s",
        "resolution": lambda: f"{rng.choice((1920, 2560, 3840))}x{rng.choice((1080, 1440, 2160))}",
        "model-number": lambda: f"{rng.choice(('RTX', 'SM-G', 'XPS'))} {n(1000, 9999)}",
    }


def _mac_lookalikes(rng):
    """Hex strings, hashes and number groups shaped like a MAC address that are not one."""
    def hexes(count, sep=":"):
        return sep.join(f"{rng.randint(0, 255):02x}" for _ in range(count))

    n = rng.randint
    return {
        "mac-ssh-fingerprint": lambda: "MD5:" + hexes(16) if rng.random() < 0.5 else hexes(16),
        "mac-too-long": lambda: hexes(7),  # 8 groups would be an IPv6 address (or an EUI-64 device identifier)
        "mac-too-short": lambda: hexes(5),  # 5 hyphenated digit pairs are a French phone number's shape
        "mac-mixed-separators": lambda: "".join(f"{n(0, 255):02x}" + sep for sep in ":-:-:") + f"{n(0, 255):02x}",
        "mac-reserved": lambda: rng.choice(("ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "FF-FF-FF-FF-FF-FF")),
        "mac-hex-words": lambda: rng.choice(("de:ad:be:ef:ca:fe", "ca:fe:ba:be:fa:ce", "be:ef:fa:ce:de:af")),
        "mac-lottery": lambda: "-".join(f"{x:02d}" for x in sorted(rng.sample(range(1, 50), 6))),
        "mac-timecode": lambda: f"{n(0, 23):02d}:{n(0, 59):02d}:{n(0, 59):02d}:{n(0, 29):02d}",
        "mac-uuid": lambda: "-".join(hexes(k, "") for k in (4, 2, 2, 2, 6)),
        "mac-build-number": lambda: f"{n(2000, 2030)}.{n(1, 12):02d}{n(1, 28):02d}.{n(0, 23):02d}{n(0, 59):02d}",
        "version-long": lambda: f"{n(6, 11)}.{n(0, 3)}.{n(10000, 29999)}.{n(100, 9999)}",
    }


def lookalike_samples(rng, per_lookalike=30):
    return [_embed(rng, make(), None, f"lookalike/{category}")
            for category, make in _lookalikes(rng).items() for _ in range(per_lookalike)]


def labelled_set(seed=0, per_kind=20, per_lookalike=30):
    """PII documents and look-alike documents, deterministic for a seed."""
    rng = random.Random(seed)
    return pii_samples(rng, per_kind) + lookalike_samples(rng, per_lookalike)


def score(samples, find):
    """Span-level precision and recall per type of a detector `find(text) -> [(start, end, type)]`.

    A detection counts when its span and type equal a labelled one exactly (a partial hit leaves part of the value
    in the text). -> {type: {"true_positives", "false_positives", "false_negatives", "precision", "recall"}},
    plus "misses" and "false_alarms": up to 10 examples each.
    """
    counts = {t: {"true_positives": 0, "false_positives": 0, "false_negatives": 0} for t in TYPES}
    misses, alarms = [], []
    for sample in samples:
        gold = set(sample.spans)
        found = {tuple(span) for span in find(sample.text)}
        for span in found & gold:
            counts[span[2]]["true_positives"] += 1
        for span in found - gold:
            counts[span[2]]["false_positives"] += 1
            alarms.append((sample.kind, sample.text, sample.text[span[0] : span[1]], span[2]))
        for span in gold - found:
            counts[span[2]]["false_negatives"] += 1
            misses.append((sample.kind, sample.text, sample.text[span[0] : span[1]], span[2]))
    for c in counts.values():
        found, gold = c["true_positives"] + c["false_positives"], c["true_positives"] + c["false_negatives"]
        c["precision"] = c["true_positives"] / found if found else 1.0
        c["recall"] = c["true_positives"] / gold if gold else 1.0
    return counts, misses, alarms
