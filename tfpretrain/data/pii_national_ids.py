"""National identity, social-security and tax numbers of 15 countries (the US SSN is its own type, `ssn`): the
shapes each country writes them in, grouped and compact, each confirmed by python-stdnum's validator for that
country (check digits, and the birth date or region where the number encodes one), so a digit string of the same
shape whose check fails is left alone.

    find_national_id(text, start)   # -> end of the longest valid number starting at text[start], or None
    NATIONAL_ID_PATTERN             # where to look: any of the shapes, not inside a longer run of digit groups
"""

import re

from stdnum import numdb
from stdnum.be import nn as be_nn
from stdnum.br import cpf as br_cpf
from stdnum.ca import sin as ca_sin
from stdnum.ch import ssn as ch_ahv
from stdnum.cn import ric as cn_ric
from stdnum.de import idnr as de_idnr
from stdnum.es import dni as es_dni
from stdnum.es import nie as es_nie
from stdnum.fi import hetu as fi_hetu
from stdnum.fr import nir as fr_nir
from stdnum.in_ import aadhaar as in_aadhaar
from stdnum.it import codicefiscale as it_cf
from stdnum.kr import rrn as kr_rrn
from stdnum.nl import bsn as nl_bsn
from stdnum.pl import pesel as pl_pesel
from stdnum.se import personnummer as se_pn


def _cn_resident_id(number):
    """Check digit (ISO 7064 MOD 11-2), birth date and a known county code. Not stdnum's is_valid: it also wants
    the county to have existed in the birth year, but the code is where the number was first issued (1985 for
    most adults), so people born before their county was created (Shenzhen 440301: 1983) would be missed."""
    if cn_ric.calc_check_digit(number) != number[-1]:
        return False
    try:
        cn_ric.get_birth_date(number)
    except ValueError:
        return False
    return any("county" in properties for _, properties in numdb.get("cn/loc").info(number[:6]))


_OMO = "[0-9LMNP-V]"  # a digit of an Italian codice fiscale, or the letter that replaces it (omocodia)
# (country, validator, written shapes): python-stdnum validators. Letters are upper case, as issued.
NATIONAL_IDS = (
    ("BR", br_cpf.is_valid, (r"\d{3}\.\d{3}\.\d{3}-\d{2}", r"\d{11}")),  # CPF, 2 check digits
    ("CN", _cn_resident_id, (r"\d{17}[0-9X]", r"\d{6}[ ]\d{8}[ ]\d{3}[0-9X]")),  # resident ID
    ("IT", it_cf.is_valid, (rf"[A-Z]{{6}}{_OMO}{{2}}[A-EHLMPR-T]{_OMO}{{2}}[A-Z]{_OMO}{{3}}[A-Z]",)),  # codice fiscale
    ("ES", es_dni.is_valid, (r"\d{8}-?[A-Z]",)),  # DNI, mod-23 letter
    ("ES", es_nie.is_valid, (r"[XYZ]-?\d{7}-?[A-Z]",)),  # NIE (foreigners)
    ("FR", fr_nir.is_valid, (r"[12][ ]?\d{2}[ ]?\d{2}[ ]?(?:\d{2}|2[AB])[ ]?\d{3}[ ]?\d{3}[ ]?\d{2}",)),  # NIR, mod 97
    ("DE", de_idnr.is_valid, (r"[1-9]\d[ ]?\d{3}[ ]?\d{3}[ ]?\d{3}",)),  # Steuer-IdNr, ISO 7064 mod 11,10
    ("NL", nl_bsn.is_valid, (r"\d{9}", r"\d{4}\.\d{2}\.\d{3}")),  # BSN, 11-proef
    ("CA", ca_sin.is_valid, (r"\d{3}([ -])\d{3}\1\d{3}",)),  # SIN, Luhn; grouped only (9 bare digits are too common)
    ("IN", in_aadhaar.is_valid, (r"[2-9]\d{3}[ ]\d{4}[ ]\d{4}", r"[2-9]\d{11}")),  # Aadhaar, Verhoeff
    ("SE", se_pn.is_valid, (r"(?:1[89]|20)?\d{6}[-+]\d{4}",)),  # personnummer: birth date, Luhn
    ("PL", pl_pesel.is_valid, (r"\d{11}",)),  # PESEL: birth date, check digit
    ("KR", kr_rrn.is_valid, (r"\d{6}-\d{7}",)),  # resident registration number: birth date, check digit
    ("BE", be_nn.is_valid, (r"\d{2}\.\d{2}\.\d{2}-\d{3}\.\d{2}", r"\d{11}")),  # national number: birth date, mod 97
    ("FI", fi_hetu.is_valid, (r"\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]",)),  # henkilötunnus: birth date, mod-31 character
    ("CH", ch_ahv.is_valid, (r"756\.\d{4}\.\d{4}\.\d{2}", r"756\d{10}")),  # AHV / AVS number, EAN-13 check
)
# Not glued to a word, a code (INV-...) or a decimal, and not one group of a longer run of digit groups (a card or
# an IBAN written in fours holds Aadhaar-shaped "1111 2222 3333"). Case-sensitive: the scrubber's patterns are not.
_BEFORE = r"(?<![0-9A-Za-z_.,\-/+])(?<![0-9][ ])"
_AFTER = r"(?![0-9A-Za-z_]|[.,\-/+][0-9A-Za-z]|[ ][0-9])"
_SHAPES = [(is_valid, re.compile(rf"(?-i:{_BEFORE}(?:{shape}){_AFTER})"))
           for _, is_valid, shapes in NATIONAL_IDS for shape in shapes]
# One pass over the text finds where a number may start; the leading look-ahead lets the regex engine skip every
# other character cheaply (a look-behind first would be tried at every position).
NATIONAL_ID_PATTERN = (r"(?-i:(?=[0-9A-Z])" + _BEFORE + "(?:"
                       + "|".join(shape for _, _, shapes in NATIONAL_IDS for shape in shapes).replace(r"\1", "[ -]")
                       + ")" + _AFTER + ")")


def find_national_id(text, start):
    """-> the end of the longest number at text[start] that its country's validator accepts, or None."""
    best = None
    for is_valid, shape in _SHAPES:
        match = shape.match(text, start)
        if match and (best is None or match.end() > best) and is_valid(match.group().replace(" ", "")):
            best = match.end()
    return best
