"""Dates of birth for the labelled PII set: a birth marker and a date as written in 15 countries, month names typed
out here (not taken from Babel's CLDR data, which the scrubber reads), and look-alikes: plain dates, dates after
other markers ("died on", "issued on"), birth years or months without a day, impossible dates.

    birth_date_kinds()          # {"date_of_birth/DE/words": (markers, date maker, text after the date), ...}
    birth_date_lookalikes(rng)  # {"dob-born-year": maker of "born in 1984", ...}
"""

import datetime

MONTHS = {
    "en": "January February March April May June July August September October November December",
    "en-abbr": "Jan. Feb. Mar. Apr. May Jun. Jul. Aug. Sept. Oct. Nov. Dec.",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "pt": "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
    "sv": "januari februari mars april maj juni juli augusti september oktober november december",
    "pl": "stycznia lutego marca kwietnia maja czerwca lipca sierpnia września października listopada grudnia",
    "ru": "января февраля марта апреля мая июня июля августа сентября октября ноября декабря",
    "tr": "Ocak Şubat Mart Nisan Mayıs Haziran Temmuz Ağustos Eylül Ekim Kasım Aralık",
}
MONTHS = {language: names.split() for language, names in MONTHS.items()}


def _month(language, date):
    return MONTHS[language][date.month - 1]


def _ordinal(day):
    return f"{day}{'th' if 10 <= day % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


def _dmy(sep):
    return lambda d: f"{d.day:02d}{sep}{d.month:02d}{sep}{d.year}"


def _words(language, de=""):
    return lambda d: f"{d.day} {de}{_month(language, d)} {de}{d.year}"


# kind -> (markers, date maker, what follows the date). The span labelled is the date only.
_KINDS = {
    "US/mdy-slash": (("Date of birth: ", "DOB: ", "Birthdate: "), lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}", ""),
    "US/mdy-words": (("born on ", "born ", "Born on "), lambda d: f"{_month('en', d)} {d.day}, {d.year}", ""),
    "US/two-digit-year": (("DOB ", "D.O.B. "), lambda d: f"{d.month}/{d.day}/{d.year % 100:02d}", ""),
    "US/iso": (("DOB: ", "date of birth "), lambda d: d.isoformat(), ""),
    "GB/dmy-words": (("born ", "Born: ", "born in London on "), _words("en"), ""),
    "GB/dmy-slash": (("Date of birth: ", "DOB: "), _dmy("/"), ""),
    "GB/ordinal": (("born on the ",), lambda d: f"{_ordinal(d.day)} of {_month('en', d)} {d.year}", ""),
    "GB/abbreviated": (("born ", "DOB "), lambda d: f"{d.day} {_month('en-abbr', d)} {d.year}", ""),
    "DE/dotted": (("geboren am ", "geb. ", "Geburtsdatum: "), _dmy("."), ""),
    "DE/words": (("geboren am ", "Geburtsdatum: "), lambda d: f"{d.day}. {_month('de', d)} {d.year}", ""),
    "FR/words": (("né le ", "née le ", "née à Lyon le ", "né(e) le "),
                 lambda d: f"{'1er' if d.day == 1 else d.day} {_month('fr', d)} {d.year}", ""),
    "FR/slash": (("Date de naissance : ", "né le "), _dmy("/"), ""),
    "IT/slash": (("nato il ", "nata a Roma il ", "Data di nascita: "), _dmy("/"), ""),
    "IT/words": (("nato il ", "nata il "), _words("it"), ""),
    "ES/words": (("nacido el ", "nacida en Sevilla el "), _words("es", "de "), ""),
    "ES/slash": (("Fecha de nacimiento: ",), _dmy("/"), ""),
    "BR/slash": (("Data de nascimento: ", "nascido em "), _dmy("/"), ""),
    "BR/words": (("nascida em ",), _words("pt", "de "), ""),
    "NL/words": (("geboren op ",), _words("nl"), ""),
    "NL/dashed": (("Geboortedatum: ",), _dmy("-"), ""),
    "SE/iso": (("född ", "Födelsedatum: "), lambda d: d.isoformat(), ""),
    "SE/words": (("född den ", "född "), _words("sv"), ""),
    "PL/words": (("urodzony ", "urodzona "), _words("pl"), " r."),
    "PL/dotted": (("Data urodzenia: ",), _dmy("."), ""),
    "JP/kanji": (("生年月日：", "生年月日 "), lambda d: f"{d.year}年{d.month}月{d.day}日", ""),
    "JP/slash": (("生年月日：",), lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}", ""),
    "CN/kanji": (("出生日期：", "出生日期: "), lambda d: f"{d.year}年{d.month}月{d.day}日", ""),
    "KR/hangul": (("생년월일: ", "생년월일 "), lambda d: f"{d.year}년 {d.month}월 {d.day}일", ""),
    "KR/dotted": (("생년월일: ",), lambda d: f"{d.year}. {d.month}. {d.day}", "."),
    "RU/dotted": (("дата рождения: ", "Дата рождения: "), _dmy("."), ""),
    "RU/words": (("родился ", "родилась "), _words("ru"), " г."),
    "TR/dotted": (("Doğum tarihi: ",), _dmy("."), ""),
    "TR/words": (("Doğum tarihi: ",), _words("tr"), ""),
}


def birth_date(rng):
    return datetime.date(rng.randint(1925, 2015), rng.randint(1, 12), rng.randint(1, 28))


def birth_date_kinds():
    """-> {"date_of_birth/<country>/<format>": (markers, date maker, text after the date)}."""
    return {f"date_of_birth/{kind}": value for kind, value in _KINDS.items()}


def birth_date_lookalikes(rng):
    """Category -> a maker of one string with a date or a birth marker that is not a date of birth."""
    def words(language):
        return lambda: _words(language)(birth_date(rng))

    def pick(*makers):
        return lambda: rng.choice(makers)()

    year = lambda: birth_date(rng).year  # noqa: E731
    return {
        "dob-born-year": lambda: rng.choice(("born in {}", "born {}", "geboren {}", "née en {}", "nato nel {}",
                                             "urodzony w {} r.")).format(year()),
        "dob-born-month-year": lambda: rng.choice((f"born in {_month('en', birth_date(rng))} {year()}",
                                                   f"geboren im {_month('de', birth_date(rng))} {year()}",
                                                   f"né en {_month('fr', birth_date(rng))} {year()}")),
        "dob-born-day-month": lambda: rng.choice((f"born on {birth_date(rng).day} {_month('en', birth_date(rng))}",
                                                  f"born on {_month('en', birth_date(rng))} {birth_date(rng).day}")),
        "dob-death-date": pick(lambda: f"died on {words('en')()}", lambda: f"gestorben am {_dmy('.')(birth_date(rng))}",
                               lambda: f"décédé le {words('fr')()}"),
        "dob-other-event": pick(lambda: f"issued on {_dmy('/')(birth_date(rng))}",
                                lambda: f"valid until {birth_date(rng).isoformat()}",
                                lambda: f"married on {words('en')()}", lambda: f"signed {words('en')()}"),
        "dob-not-a-date": lambda: rng.choice(("DOB: unknown", "Date of birth: ____", "born on a Tuesday",
                                              f"born {rng.randint(2, 40)} years ago", "born 3 weeks early")),
        "dob-impossible-date": lambda: rng.choice(("born on 30/02/{}", "DOB: 31.04.{}", "DOB: {}-02-30")).format(
            year()),
        "dob-born-inside-word": lambda: rng.choice(("newborn ward opened {}", "Osborne Road, {}")).format(
            _dmy(".")(birth_date(rng))),
    }
