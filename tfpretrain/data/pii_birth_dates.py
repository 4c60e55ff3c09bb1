"""Dates of birth: a date written in one of the common formats of 15 countries, only where the text marks it as a
birth date ("DOB:", "date of birth", "born (in London) on", "geboren am", "né(e) le", "nato a Roma il", "nacido el",
"data de nascimento", "urodzony", "生年月日", "생년월일", ...). Plain dates are left alone.

    find_birth_date(text, start)   # -> (start, end) of the date after a birth marker at text[start], or None
    BIRTH_DATE_PATTERN             # a marker followed by a date-shaped string

Formats: 1984-03-12, 1984/03/12, 1984. 3. 12, 12/03/1984, 3/12/84, 12.03.1984, 12. 03. 1984, 12-03-1984,
12 March 1984, 12. März 1984, 12th of March, 1984, 12 de marzo de 1984, 1er mars 1984, March 12, 1984,
1984年3月12日, 1984년 3월 12일. Month names come from the Unicode CLDR (Babel) for the locales below, full and
abbreviated. A numeric date counts when it is a real date read day-first or month-first.
"""

import datetime
import re

from babel.dates import get_month_names

_LOCALES = ("en", "de", "fr", "it", "es", "pt", "nl", "sv", "da", "nb", "fi", "pl", "cs", "ru", "tr")
MONTHS = {name.rstrip(".").lower(): number
          for locale in _LOCALES for width in ("wide", "abbreviated") for context in ("format", "stand-alone")
          for number, name in get_month_names(width, context, locale).items()}
# A field label ("Date of birth: ..."), or a verb with an optional place and preposition ("born in Paris on ...").
_LABELS = (r"date[ ]of[ ]birth", r"birth[ ]?date", r"birthday", r"d\.?[ ]?o\.?[ ]?b\.?", r"geburtsdatum",
           r"geb\.", r"date[ ]de[ ]naissance", r"data[ ]di[ ]nascita", r"fecha[ ]de[ ]nacimiento",
           r"data[ ]de[ ]nascimento", r"geboortedatum", r"f[öo]delsedatum", r"f[øo]dselsdato", r"syntym[äa]aika",
           r"data[ ]urodzenia", r"datum[ ]narozen[íi]", r"дата[ ]рождения", r"do[ğg]um[ ]tarihi", r"生年月日",
           r"出生日期", r"出生年月日", r"생년월일")
_VERBS = (r"born", r"geboren", r"n[ée]e?(?:\(e\))?", r"nat[oa]", r"nacid[oa]", r"nascid[oa]", r"f[öo]dd",
          r"f[øo]dt", r"urodzon[ya]", r"narozen[aá]?", r"syntynyt", r"родил(?:ся|ась)")
_PLACE = r"(?:[ ]+(?:in|à|a|en|em|na|w|i|в)[ ]+[^\W\d_][\w'’-]*(?:,?[ ][^\W\d_][\w'’-]*){0,2})?"
_PREPOSITION = r"(?:,?[ ]+(?:on(?:[ ]the)?|am|den|le|il|el|em|op|dnia|the|in))?"
_MARKER = rf"(?:{'|'.join(_LABELS)}|(?:{'|'.join(_VERBS)}){_PLACE}{_PREPOSITION})"
_SEPARATOR = r"\s*[:：=\-–]?\s*"

_NAME = "(?:" + "|".join(re.escape(n) for n in sorted(MONTHS, key=len, reverse=True)) + r")(?![^\W\d_])\.?"
_D, _M, _Y4, _Y2 = r"(?:0?[1-9]|[12][0-9]|3[01])", r"(?:0?[1-9]|1[0-2])", r"(?:1[89][0-9]{2}|20[0-9]{2})", r"[0-9]{2}"
# (kind, regex with groups a, b, y and optionally name): numeric "ab" dates may be day-first or month-first.
_FORMATS = (
    ("ymd", rf"(?P<y>{_Y4})(?P<s>[-/.])[ ]?(?P<b>{_M})(?P=s)[ ]?(?P<a>{_D})"),
    ("ab", rf"(?P<a>{_D})(?P<s>[-/.])[ ]?(?P<b>{_D})(?P=s)[ ]?(?P<y>{_Y4}|{_Y2})"),
    ("d-name", rf"(?P<a>{_D})(?:st|nd|rd|th|er|º|°|\.)?[ ]+(?:of[ ]+|de[ ]+)?(?P<name>{_NAME}),?[ ]+(?:de[ ]+)?"
               rf"(?P<y>{_Y4})"),
    ("name-d", rf"(?P<name>{_NAME})[ ]+(?P<a>{_D})(?:st|nd|rd|th)?,?[ ]+(?P<y>{_Y4})"),
    ("cjk", rf"(?P<y>{_Y4})[ ]?[年년][ ]?(?P<b>{_M})[ ]?[月월][ ]?(?P<a>{_D})[ ]?[日일]"),
)
_END = r"(?![0-9]|[.\-/:][0-9])"
_DATES = [(kind, re.compile(rf"(?:{regex}){_END}", re.IGNORECASE)) for kind, regex in _FORMATS]
_DATE_SHAPE = "|".join(re.sub(r"\(\?P<\w+>|\(\?P=s\)", lambda m: "(?:" if "<" in m.group() else "[-/.]", regex)
                       for _, regex in _FORMATS)
# The leading look-ahead (the markers' first letters) lets the regex engine skip other characters cheaply.
_FIRST = "".join(sorted({m[0] for m in _LABELS + _VERBS}))
BIRTH_DATE_PATTERN = rf"(?=[{_FIRST}])(?<!\w){_MARKER}{_SEPARATOR}(?P<date>{_DATE_SHAPE}){_END}"
_MARKED_DATE = re.compile(BIRTH_DATE_PATTERN, re.IGNORECASE)


def _is_date(kind, match):
    year = int(match.group("y"))
    year += 1900 if year < 100 else 0  # "3/12/84"
    day = int(match.group("a"))
    month = MONTHS[match.group("name").rstrip(".").lower()] if kind in ("d-name", "name-d") else int(match.group("b"))
    for d, m in [(day, month)] + ([(month, day)] if kind == "ab" else []):  # 12/03/1984 read day- or month-first
        try:
            datetime.date(year, m, d)
            return True
        except ValueError:
            continue
    return False


def find_birth_date(text, start):
    """-> (start, end) of the real date that follows a birth marker at text[start], or None."""
    marked = _MARKED_DATE.match(text, start)
    if marked is None:
        return None
    for kind, regex in _DATES:
        match = regex.match(text, marked.start("date"))
        if match and _is_date(kind, match):
            return match.span()
    return None
