"""National ID numbers of 15 countries for the labelled PII set, made with hand-written reference algorithms (from
each scheme's published rules, not from tfpretrain or python-stdnum): valid numbers in the shapes each country
writes them in, and near misses whose check fails under every country's rule.

    national_id(rng, "FR", "grouped")          # "2 84 03 75 116 001 57"
    national_id(rng, "FR", "grouped", False)   # the same shape, check digits wrong for every scheme
    STYLES["FR"]                               # ("grouped", "compact")
"""

import datetime
import string

_D = string.digits


def luhn_digit(partial):
    """The check digit that makes partial + digit pass the Luhn test."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch) * (1 if i % 2 else 2)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def _verhoeff_digit(partial):
    """Verhoeff's check digit: the dihedral group D5 and its position permutation, written out as formulas."""
    def mul(j, k):  # D5: rotations 0-4, reflections 5-9
        if j < 5:
            return (j + k) % 5 + (5 if k >= 5 else 0)
        return (j - k) % 5 + (0 if k >= 5 else 5)

    sigma = (1, 5, 7, 6, 2, 8, 3, 0, 9, 4)

    def perm(i, n):
        for _ in range(i % 8):
            n = sigma[n]
        return n

    c = 0
    for i, ch in enumerate(reversed(partial)):
        c = mul(c, perm(i + 1, int(ch)))
    return str((0, 4, 3, 2, 1, 5, 6, 7, 8, 9)[c])


def _cpf(body):  # BR: two mod-11 digits, weights 10..2 then 11..2
    for _ in range(2):
        total = sum(int(c) * w for c, w in zip(body, range(len(body) + 1, 1, -1)))
        body += str(total * 10 % 11 % 10)
    return body


def _ric(body):  # CN: ISO 7064 MOD 11-2
    return body + "10X98765432"[sum(int(c) * (2 ** (17 - i) % 11) for i, c in enumerate(body)) % 11]


_CF_ODD = (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23)


def _codice_fiscale(body):  # IT: odd positions through the conversion table, even ones by value, mod 26
    values = [int(c) if c.isdigit() else ord(c) - 65 for c in body]
    return body + chr(65 + sum(_CF_ODD[v] if i % 2 == 0 else v for i, v in enumerate(values)) % 26)


def _dni(body):  # ES: mod 23 letter; an NIE's X / Y / Z count as 0 / 1 / 2
    number = int(body.replace("X", "0").replace("Y", "1").replace("Z", "2"))
    return body + "TRWAGMYFPDXBNJZSQVHLCKE"[number % 23]


def _nir(body):  # FR: 97 - number mod 97; Corsica's 2A / 2B count as 19 / 18
    return body + f"{97 - int(body.replace('2A', '19').replace('2B', '18')) % 97:02d}"


def _idnr(body):  # DE: ISO 7064 MOD 11,10
    product = 10
    for c in body:
        product = 2 * ((int(c) + product) % 10 or 10) % 11
    return body + str((11 - product) % 10)


def _bsn(body):  # NL: 11-proef, weights 9..2 and -1
    return body + str(sum(int(c) * (9 - i) for i, c in enumerate(body)) % 11)  # "10" when no digit fits


def _pesel(body):  # PL: weights 1 3 7 9, mod 10
    return body + str(-sum(int(c) * (1, 3, 7, 9)[i % 4] for i, c in enumerate(body)) % 10)


def _rrn(body):  # KR: weights 2..9 2..5, mod 11, mod 10
    return body + str((11 - sum(int(c) * w for c, w in zip(body, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5))) % 11) % 10)


def _nn(body):  # BE: 97 - number mod 97, with a leading 2 for births from 2000
    born_2000s = body[6:7] == "+"
    body = body.replace("+", "")
    return body + f"{97 - int(('2' if born_2000s else '') + body) % 97:02d}"


def _hetu(body):  # FI: DDMMYY + individual number mod 31, as a character
    digits = body[:6] + body[7:]
    return body + "0123456789ABCDEFHJKLMNPRSTUVWXY"[int(digits) % 31]


def _ahv(body):  # CH: EAN-13 (weights 1 3)
    return body + str(-sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body)) % 10)


def _birth(rng):
    return datetime.date(rng.randint(1930, 2009), rng.randint(1, 12), rng.randint(1, 28))


def _n(rng, count, first=_D):
    return rng.choice(first) + "".join(rng.choice(_D) for _ in range(count - 1)) if count else ""


def _consonants(rng, count):
    return "".join(rng.choice("BCDFGHLMNPRSTVZ") for _ in range(count))


def _idnr_body(rng):  # first 10 digits: one digit twice, the others once, no leading 0
    while True:
        digits = rng.sample(_D, 9)
        digits.insert(rng.randrange(1, 10), rng.choice(digits))
        if digits[0] != "0":
            return "".join(digits)


def _cn_body(rng):
    area = rng.choice(("110101", "310101", "440301", "360426", "330106", "420102", "210102", "370202", "320102"))
    return area + _birth(rng).strftime("%Y%m%d") + _n(rng, 3)


def _cf_body(rng):
    born = _birth(rng)
    day = born.day + rng.choice((0, 40))  # + 40 for women
    return (_consonants(rng, 6) + born.strftime("%y") + "ABCDEHLMPRST"[born.month - 1] + f"{day:02d}"
            + rng.choice(string.ascii_uppercase) + _n(rng, 3))


def _nir_body(rng):
    department = rng.choice([f"{d:02d}" for d in range(1, 96) if d != 20] + ["2A", "2B"])
    born = _birth(rng)
    return rng.choice("12") + born.strftime("%y%m") + department + f"{rng.randint(1, 990):03d}" \
        + f"{rng.randint(1, 999):03d}"


def _sex_date(rng):
    return _birth(rng).strftime("%y%m%d")


def _pesel_body(rng):
    born = _birth(rng)
    month = born.month + (20 if born.year >= 2000 else 0)
    return born.strftime("%y") + f"{month:02d}{born.day:02d}" + _n(rng, 4)


def _rrn_body(rng):
    born = _birth(rng)
    sex = rng.choice("12") if born.year < 2000 else rng.choice("34")
    return born.strftime("%y%m%d") + sex + f"{rng.randint(0, 95):02d}" + _n(rng, 3)


def _nn_body(rng):  # "+" marks a birth from 2000 (removed before the check)
    born = _birth(rng)
    return born.strftime("%y%m%d") + ("+" if born.year >= 2000 else "") + f"{rng.randint(1, 997):03d}"


def _hetu_body(rng):
    born = _birth(rng)
    return born.strftime("%d%m%y") + ("A" if born.year >= 2000 else "-") + f"{rng.randint(2, 899):03d}"


def _se_body(rng):  # YYYYMMDD + 3 digits
    return _birth(rng).strftime("%Y%m%d") + _n(rng, 3)


def _se(body):  # SE: the Luhn digit covers YYMMDDNNN (also when the year is written with its century)
    return body + luhn_digit(body[-9:])


def _aadhaar(body):
    return body + _verhoeff_digit(body)


def _sin(body):
    return body + luhn_digit(body)


def _group(*sizes, seps=" "):
    """A formatter that cuts the compact number into groups of `sizes`, joined by seps (cycled)."""
    def cut(compact):
        parts, pos = [], 0
        for size in sizes:
            parts.append(compact[pos : pos + size])
            pos += size
        out = parts[0]
        for i, part in enumerate(parts[1:]):
            out += seps[i % len(seps)] + part
        return out
    return cut


def _same(compact):
    return compact


# country -> (body maker, completer, check length, {style: formatter of the compact number})
SCHEMES = {
    "BR": (lambda rng: _n(rng, 9), _cpf, 2, {"grouped": _group(3, 3, 3, 2, seps="..-"), "compact": _same}),
    "CN": (_cn_body, _ric, 1, {"compact": _same, "spaced": _group(6, 8, 4)}),
    "IT": (_cf_body, _codice_fiscale, 1, {"compact": _same}),
    "ES": (lambda rng: _n(rng, 8), _dni, 1, {"dni": _same, "dni-hyphen": _group(8, 1, seps="-")}),
    "ES-NIE": (lambda rng: rng.choice("XYZ") + _n(rng, 7), _dni, 1, {"nie": _same}),
    "FR": (_nir_body, _nir, 2, {"grouped": _group(1, 2, 2, 2, 3, 3, 2), "compact": _same}),
    "DE": (_idnr_body, _idnr, 1, {"grouped": _group(2, 3, 3, 3), "compact": _same}),
    "NL": (lambda rng: _n(rng, 8), _bsn, 1, {"compact": _same, "dotted": _group(4, 2, 3, seps=".")}),
    "CA": (lambda rng: _n(rng, 8, "1234567"), _sin, 1,
           {"spaced": _group(3, 3, 3), "hyphen": _group(3, 3, 3, seps="-")}),
    "IN": (lambda rng: _n(rng, 11, "23456789"), _aadhaar, 1, {"grouped": _group(4, 4, 4), "compact": _same}),
    "SE": (_se_body, _se, 1, {"short": lambda c: _group(6, 4, seps="-")(c[2:]), "long": _group(8, 4, seps="-")}),
    "PL": (_pesel_body, _pesel, 1, {"compact": _same}),
    "KR": (_rrn_body, _rrn, 1, {"hyphen": _group(6, 7, seps="-")}),
    "BE": (_nn_body, _nn, 2, {"dotted": _group(2, 2, 2, 3, 2, seps="..-."), "compact": _same}),
    "FI": (_hetu_body, _hetu, 1, {"century-sign": _same}),  # - for 1900s births, A for 2000s
    "CH": (lambda rng: "756" + _n(rng, 9), _ahv, 1, {"dotted": _group(3, 4, 4, 2, seps="."), "compact": _same}),
}
STYLES = {country: tuple(scheme[3]) for country, scheme in SCHEMES.items()}
COUNTRIES = sorted({c.split("-")[0] for c in SCHEMES})


_CHECK_CHARACTERS = {"ES": string.ascii_uppercase, "ES-NIE": string.ascii_uppercase, "IT": string.ascii_uppercase,
                     "CN": _D + "X", "FI": "0123456789ABCDEFHJKLMNPRSTUVWXY"}


def passes_any_scheme(written):
    """Whether the number's check passes under any country's rule (date rules aside, so a stricter test for near
    misses than the real validators)."""
    compact = written.replace(" ", "").replace(".", "").replace("-", "")
    for country, (_, complete, size, _) in SCHEMES.items():
        for number in (compact, written):  # a Finnish number keeps its century sign, "-" included
            bodies = [number[:-size]] + ([number[:6] + "+" + number[6:-size]] if country == "BE" else [])
            try:
                if any(complete(body) == number for body in bodies):
                    return True
            except (ValueError, IndexError):  # a body this scheme cannot read (letters where it wants digits)
                continue
    return False


def national_id(rng, country, style, valid=True):
    """A number of `country` written in `style`; valid=False: the same shape with a check no scheme accepts."""
    make, complete, size, styles = SCHEMES[country]
    while True:
        number = complete(make(rng))
        if country == "NL" and len(number) != 9:
            continue  # BSN: no check digit exists for this body
        if not valid:
            alphabet = _CHECK_CHARACTERS.get(country, _D)
            number = number[:-1] + rng.choice([c for c in alphabet if c != number[-1]])
        written = styles[style](number)
        if valid or not passes_any_scheme(written):
            return written
