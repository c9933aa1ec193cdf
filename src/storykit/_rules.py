"""The validation rules of the model: one small function per kind of value.

Each rule takes a raw value (from JSON, TOML, CSV or a Python call), returns the normalised value,
or raises :class:`Invalid` with a message that quotes the value. The model (``model.py``) and the
loaders (``convert.py``) share these rules, so a value is judged the same way however it arrives.
Everything here is compiled once at import; nothing is compiled per value.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from storykit._countries import ISO_3166_1_ALPHA_2

#: Longest title accepted, in characters (a headline, not an article).
MAX_TITLE = 1_000
#: Longest id accepted, in characters.
MAX_ID = 200
#: Longest derived id: the slug of a long title is cut at a hyphen before this.
MAX_DERIVED_ID = 80
#: Longest URL accepted, in characters (browsers and servers commonly stop near 8 KB).
MAX_URL = 8_000


class Invalid(Exception):  # noqa: N818 - an internal signal, never seen by users
    """A rule's verdict; the caller adds the path and collects it."""

    def __init__(self, message: str) -> None:
        self.message = message


def _describe(value: Any) -> str:
    """A short, safe rendering of a value for an error message.

    Dates and times (as TOML gives them) show as their ISO text, as the user wrote them.
    """
    if isinstance(value, (date, time)):
        value = value.isoformat()
    text = one_line(repr(value))
    return text if len(text) <= 80 else text[:77] + "..."


def one_line(text: str) -> str:
    """``text`` with every character that is not printable written as its escape (``\\n``).

    A ``repr()`` of a string is already so; an object's own ``__repr__`` (or a class name) may
    not be, and a line break in a message would split one problem into two lines, or let a
    file plant a line that reads as another problem.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _got(value: Any) -> str:
    """``got ...`` for a value of the wrong type: ``null`` for None, else type and value."""
    if value is None:
        return "null"
    return f"{one_line(type(value).__name__)} {_describe(value)}"


def whole(value: Any, message: str) -> int:
    """``value`` as an ``int``: an int or anything with ``__index__`` (numpy's integers), not a
    ``bool`` (nor ``"2"`` from a config file); else ``TypeError(f"{message} (got ...)")``.
    For counts and sizes given to functions (``latest(n)``, ``jobs``, ``max_bytes``)."""
    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise TypeError(f"{message} (got {type(value).__name__} {value!r})")


def must_be_str(value: Any, what: str = "a string") -> str:
    """``value`` as a plain ``str``; any ``str`` subclass (a ``StrEnum`` member, markupsafe's
    ``Markup``) gives its characters as a plain ``str``, so the model never keeps the subclass
    (its own ``__str__``, ``__eq__`` or escaping would follow the value into every export)."""
    if type(value) is str:
        return value
    if isinstance(value, str):
        # str.__str__, not str(): a (str, Enum) mixin's str() is "Topic.JOBS", not "jobs".
        return str.__str__(value)
    raise Invalid(f"must be {what} (got {_got(value)})")


# C0 controls (but TAB and LF, which a summary may hold), DEL, C1 controls, lone surrogates and
# the noncharacters U+FFFE/U+FFFF: none can be written to XML, and none belongs in a story.
# One-line text (titles, names: what reaches an email header) also refuses U+2028/U+2029, which
# str.splitlines() and some mail and JSON tools treat as line breaks.
_BAD_CHAR = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_BAD_CHAR_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_EDGE_SPACE = re.compile(f"^[\\s{_ZERO_WIDTH}]+|[\\s{_ZERO_WIDTH}]+$")


def _char_name(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def text(value: Any, *, multiline: bool = False, max_length: int | None = None) -> str:
    """Plain text: a string, stripped, NFC-normalised, not blank, without control characters."""
    # Whitespace at the edges (a title's trailing newline or tab) goes before the check for
    # control characters, which then finds only those inside the text.
    value = s = must_be_str(value)
    s = s.strip()
    if multiline and "\r" in s:
        # Windows (CRLF) and old Mac (CR) line ends, as a spreadsheet's multi-line cell has them.
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    bad = (_BAD_CHAR if multiline else _BAD_CHAR_LINE).search(s)
    if bad is not None:
        raise Invalid(
            f"{_describe(value)} contains the control character {_char_name(bad.group())}"
        )
    if not s.isascii():
        # Strip spaces and zero-width characters together: stripping them in turn would leave
        # one of "\u200b \u200b a" and the rule would not be idempotent.
        s = unicodedata.normalize("NFC", s)
        if s and (s[0].isspace() or s[0] in _ZERO_WIDTH or s[-1].isspace()
                  or s[-1] in _ZERO_WIDTH):  # (the regex only for text it changes: it is slow)
            s = _EDGE_SPACE.sub("", s)
    if not s:
        raise Invalid("must not be blank" if not value else f"{_describe(value)} is blank")
    if max_length is not None and len(s) > max_length:
        raise Invalid(f"is {len(s):,} characters long; the limit is {max_length:,}")
    return s


MAX_BODY = 2_000_000
"""The longest body, in characters (before cleaning): a long feature is ~100,000."""

# The links a body may keep: the web's own and the ways to reach a person. Every other scheme
# (javascript:, data:, vbscript:, file:) is dropped with its attribute; relative URLs stay.
_BODY_SCHEMES = {"http", "https", "mailto", "tel"}


# An <img> as nh3 writes it: lowercase, each attribute as name="value" (a value's '"', '<' and
# '>' escaped), so the attributes match pair by pair and no '<' in a value starts a tag.
_IMG_NO_ALT = re.compile(r'<img((?:\s[^\s="]+="[^"]*")*)>')
_ATTR_NAME = re.compile(r'\s([^\s="]+)="[^"]*"')


def _empty_alt(m: re.Match[str]) -> str:
    """An <img> without ``alt`` gets ``alt=""`` (HTML requires one; an empty one says "no
    description given", so a screen reader skips it rather than reading out the file name)."""
    if "alt" in _ATTR_NAME.findall(m.group(1)):
        return m.group()
    return f'<img{m.group(1)} alt="">'


def body(value: Any) -> str | None:
    """A story body: an HTML fragment, cleaned by nh3's allow-list (ammonia).

    Cleaning runs to a fixed point, so a clean body cleans to itself: ``body(body(x)) ==
    body(x)`` for every ``x``. A body that cleans to nothing (only a script, only spaces) is
    ``None``. Every ``<img>`` keeps its ``alt``, or gets an empty one (valid HTML).
    """
    s = must_be_str(value)
    if len(s) > MAX_BODY:
        raise Invalid(f"is {len(s):,} characters long; the limit is {MAX_BODY:,}")
    bad = _BAD_CHAR.search(s)
    if bad is not None:
        raise Invalid(f"{_describe(value)} contains the control character "
                      f"{_char_name(bad.group())}")
    import nh3  # lazily: only stories with a body need it

    for _ in range(4):
        cleaned = nh3.clean(s, url_schemes=_BODY_SCHEMES, link_rel="noopener noreferrer")
        cleaned = _IMG_NO_ALT.sub(_empty_alt, unicodedata.normalize("NFC", cleaned).strip())
        if cleaned == s:
            break
        s = cleaned
    else:
        raise Invalid("does not settle as clean HTML (each cleaning changes it again)")
    return s or None


def empty(value: Any) -> bool:
    """Whether an optional value counts as not given: None, ``""`` or an empty list.

    ``0``, ``false`` and ``{}`` are not "nothing": they are values of the wrong type, an error.
    """
    return value is None or (isinstance(value, (str, list, tuple)) and not value)


def optional_text(value: Any) -> str | None:
    if value is None:
        return None
    s = must_be_str(value)
    if not s.strip():
        return None
    return text(s)


#: An id: lowercase ASCII letters and digits in words joined by single hyphens. Anchored with
#: ``\\A``/``\\Z`` (not ``$``, which also matches before a final newline), so that a search, a
#: match and a full match agree: the JSON reader hands the same pattern to msgspec.
SLUG_PATTERN = r"\A[a-z0-9]+(?:-[a-z0-9]+)*\Z"
_SLUG = re.compile(SLUG_PATTERN).match


def is_slug(s: str) -> bool:
    """``s`` is lowercase ASCII letters and digits in words joined by single hyphens."""
    return _SLUG(s) is not None


def slug(value: Any) -> str:
    s = value = must_be_str(value)
    if len(s) > MAX_ID:
        raise Invalid(f"is {len(s):,} characters long; the limit for an id is {MAX_ID}")
    if not is_slug(s):
        raise Invalid(
            f"{_describe(value)} is not a valid id "
            "(lowercase letters and digits in words joined by single hyphens, "
            "e.g. 'a-song-to-let-children-fly')"
        )
    return s


def slugify(title: str) -> str:
    """The id derived from a title: transliterated to Latin by python-slugify (``Доклад 2021``
    gives ``doklad-2021``), lowercase, words joined by hyphens, cut at a word boundary.

    A title with nothing to transliterate (emoji alone) gets ``story-`` and a short, stable
    hash, so the same title always gives the same id.
    """
    from slugify import slugify as transliterate

    # (A typographic apostrophe is left out, as storykit's ids have always had it:
    # "Myanmar’s" gives "myanmars", where python-slugify would give "myanmar-s".)
    s = transliterate(title.replace("\u2019", ""), max_length=MAX_DERIVED_ID,
                      word_boundary=True, save_order=True)
    if not is_slug(s):
        import hashlib  # rarely needed: it costs import time

        digest = hashlib.sha1(title.encode("utf-8", "surrogatepass"), usedforsecurity=False)
        s = "story-" + digest.hexdigest()[:10]
    return s


def published(value: Any) -> date:
    """An ISO 8601 date, or a timezone-aware datetime; a datetime in a named zone (``zoneinfo``)
    or with ``fold=1`` becomes the same moment with its fixed offset (``+05:30``), as every
    format keeps it."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        return value
    elif isinstance(value, str):
        value = must_be_str(value)
        s = value.strip()
        # Every ISO date form (2021-02-03, 20210203, 2021-W05-3) fits in 10 characters and no
        # datetime does: a short value is a date, never a naive datetime at midnight.
        if len(s) <= 10:
            try:
                return date.fromisoformat(s)
            except ValueError:
                if len(s) == 10:
                    raise Invalid(f"{_describe(value)} is not a valid date") from None
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            raise Invalid(
                f"{_describe(value)} is not a valid date or datetime "
                "(ISO 8601, e.g. '2021-02-23' or '2021-02-23T09:30:00+01:00')"
            ) from None
    else:
        raise Invalid(f"must be an ISO 8601 date string (got {_got(value)})")
    try:
        offset = dt.utcoffset()
    except (TypeError, ValueError) as e:  # (not a timedelta, or a day or more)
        # (shown without its timezone: isoformat() would call the same utcoffset())
        raise Invalid(f"{_describe(dt.replace(tzinfo=None))} has a timezone with no valid "
                      f"offset ({e})") from None
    if offset is None:
        raise Invalid(
            f"{_describe(value)} has no timezone; give an offset such as '+00:00' or 'Z', "
            "or a plain date"
        )
    if offset % _MINUTE:
        raise Invalid(
            f"{_describe(value)} has a UTC offset of {_signed(offset)} with seconds; RFC 3339 "
            "offsets are whole minutes (such as '+05:30')"
        )
    if abs(offset) > _MAX_OFFSET:
        raise Invalid(
            f"{_describe(value)} has a UTC offset of {_signed(offset)}; offsets run from "
            "-14:00 to +14:00 (every time zone on Earth, and what XML Schema dates allow)"
        )
    try:
        dt.replace(tzinfo=None) - offset
    except OverflowError:  # (0001-01-01T00:00+14:00 is in year 0 in UTC)
        raise Invalid(
            f"{_describe(value)} is {'before year 1' if offset > _ZERO else 'after year 9999'} "
            "in UTC; every reader of a feed, a database or a message converts to UTC, and "
            "years 1-9999 are what they hold"
        ) from None
    if type(dt.tzinfo) is not timezone or dt.fold:
        # A named zone (zoneinfo) becomes its offset on that day, as every format writes it: a
        # datetime in a zone's repeated hour compares unequal to every datetime of another
        # zone (PEP 495), so the story read back from any file would not equal the one written.
        dt = dt.replace(tzinfo=timezone(offset) if offset else UTC, fold=0)
    return dt


_MINUTE = timedelta(minutes=1)
_ZERO = timedelta(0)
_MAX_OFFSET = timedelta(hours=14)


def _signed(offset: timedelta) -> str:
    """``offset`` as ISO 8601 writes it: ``+05:30``, ``-03:00``, ``+05:30:15``."""
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    h, rest = divmod(abs(seconds), 3600)
    m, sec = divmod(rest, 60)
    return f"{sign}{h:02d}:{m:02d}" + (f":{sec:02d}" if sec else "")


def optional_published(value: Any) -> date | None:
    return None if value is None else published(value)


# (lone surrogates and U+FFFE/U+FFFF too: no UTF-8 encoder or XML writer takes them)
_URL_BAD_CHARS = r"\s\x00-\x1f\x7f-\x9f\\<>\"`{}|^\ud800-\udfff\ufffe\uffff"
_URL_BAD = re.compile(f"[{_URL_BAD_CHARS}]")
#: The common form of a URL, which passes every check of :func:`url` as it is: a lowercase
#: http(s) scheme, a host of ASCII letters, digits, dots and hyphens (no user, no port), then
#: the end or a path, query or fragment without a character ``_URL_BAD`` refuses. urlsplit takes
#: that host as the netloc as it is. Anything else (a port, user info, brackets, an upper-case
#: scheme, a non-ASCII host, spaces at the edges) goes through the checks. Anchored as
#: :data:`SLUG_PATTERN` is: the JSON reader hands the same pattern to msgspec.
COMMON_URL_PATTERN = (r"\Ahttps?://[A-Za-z0-9][A-Za-z0-9.-]*"
                      f"(?:[/?#][^{_URL_BAD_CHARS}]*)?\\Z")
_COMMON_URL = re.compile(COMMON_URL_PATTERN).match


def url(value: Any) -> str:
    """An absolute http or https URL, with a host, without spaces or control characters."""
    value = s = must_be_str(value)
    s = s.strip()
    if len(s) <= MAX_URL and _COMMON_URL(s) is not None:
        return s
    if len(s) > MAX_URL:
        raise Invalid(f"is {len(s):,} characters long; the limit for a URL is {MAX_URL:,}")
    bad = _URL_BAD.search(s)
    if bad is not None:
        what = "a space" if bad.group() == " " else repr(bad.group())
        if bad.group() >= "\ud800":
            what = f"the character {_char_name(bad.group())}"
        raise Invalid(f"{_describe(value)} is not a valid URL: it contains {what}")
    try:
        parts = urlsplit(s)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise Invalid(f"{_describe(value)} is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        if not scheme:
            raise Invalid(f"{_describe(value)} is not an absolute URL (it needs https://...)")
        raise Invalid(f"{_describe(value)} has scheme {scheme!r}; only http and https are allowed")
    if not parts.hostname:
        raise Invalid(f"{_describe(value)} has no host")
    return s


def optional_url(value: Any) -> str | None:
    return None if value is None or value == "" else url(value)


def country(value: Any) -> str:
    value = s = must_be_str(value)
    s = s.strip().upper()
    if s not in ISO_3166_1_ALPHA_2:
        raise Invalid(f"{_describe(value)} is not an ISO 3166-1 alpha-2 country code")
    return s


# RFC 5646 language tags: language, extlang, script, region, variants, extensions, private use.
_BCP47 = re.compile(
    r"(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})"
    r"(?:-[a-z]{4})?"
    r"(?:-(?:[a-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"
    r"(?:-[0-9a-wyz](?:-[a-z0-9]{2,8})+)*"
    r"(?:-x(?:-[a-z0-9]{1,8})+)?"
    r"|x(?:-[a-z0-9]{1,8})+",
    re.IGNORECASE,
)


def language(value: Any) -> str:
    """A BCP 47 language tag, in its canonical case: ``EN-us`` -> ``en-US``."""
    value = s = must_be_str(value)
    s = s.strip()
    # ASCII first: the case-insensitive pattern also matches "İ", "ı", "ſ" and "K" (U+212A),
    # which lower() then turns into something no tag holds.
    if not s.isascii() or _BCP47.fullmatch(s) is None:
        raise Invalid(f"{_describe(value)} is not a BCP 47 language tag (e.g. 'en', 'fr-CH')")
    return _tag_case(s)


def _tag_case(tag: str) -> str:
    """The case RFC 5646 (2.1.1) recommends: language lower, script title, region upper,
    everything from the first singleton (``-x-``, ``-u-``, ...) on lower. Tags are
    case-insensitive, so this changes no meaning; it makes equal tags compare equal."""
    if tag.islower() and "-" not in tag:
        return tag  # "en", "fr": nearly every story
    parts = tag.lower().split("-")
    for i in range(1, len(parts)):
        part = parts[i]
        if len(part) == 1:
            break  # an extension or private use: lower case to the end
        if len(part) == 2 and part.isalpha():
            parts[i] = part.upper()
        elif len(part) == 4 and part.isalpha():
            parts[i] = part.title()
    return "-".join(parts)


def email(value: Any) -> str:
    """An email address, checked and normalised by email-validator (no DNS lookup):
    internationalised domains and local parts are accepted, the domain is lowercased."""
    from email_validator import EmailNotValidError, validate_email

    value = s = must_be_str(value)
    s = s.strip()
    if "=?" in s:
        # Legal in a local part, but mail parsers may decode it as an RFC 2047 encoded word
        # and deliver to another address (Python turns '=?utf-8?q?a?=@x.org' into 'a@x.org').
        raise Invalid(f"{_describe(value)} contains '=?' (an encoded word), which mail software "
                      "may decode into another address")
    try:
        checked = validate_email(s, check_deliverability=False)
    except EmailNotValidError as e:
        raise Invalid(f"{_describe(value)} is not a valid email address ({e})") from None
    return str(checked.normalized)


def phone(value: Any) -> str:
    """A phone number in international form, normalised to E.164 (``+41227997912``)."""
    value = s = must_be_str(value)
    s = s.strip()
    import phonenumbers

    try:
        number = phonenumbers.parse(s, None)
    except phonenumbers.NumberParseException as e:
        wrong = phonenumbers.NumberParseException
        if e.error_type in (wrong.TOO_SHORT_NSN, wrong.TOO_SHORT_AFTER_IDD, wrong.TOO_LONG):
            raise Invalid(f"{_describe(value)} is not a possible phone number") from None
        raise Invalid(
            f"{_describe(value)} is not a phone number in international form "
            "(start with + and the country code, e.g. '+41 22 799 7912')"
        ) from None
    if not phonenumbers.is_possible_number(number):
        raise Invalid(f"{_describe(value)} is not a possible phone number")
    if number.extension:
        # E.164 has no room for an extension; dropping it would lose the way to reach someone.
        raise Invalid(
            f"{_describe(value)} has an extension ({number.extension}), which E.164 cannot "
            "hold; give the direct number"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def credit_year(value: Any) -> int:
    if isinstance(value, str):
        value = must_be_str(value)
        if value.isdigit() and len(value) == 4:
            value = int(value)
    if type(value) is not int:
        raise Invalid(f"must be a year such as 2021 (got {_describe(value)})")
    if 1800 <= value <= _SURELY_PAST:
        return value  # (today's date only for a year that may be in the future)
    last = date.today().year + 1
    if not 1800 <= value <= last:
        raise Invalid(f"{value} is not a year between 1800 and {last}")
    return value


#: A year no later than this one is not in the future, whenever the check runs (the clock only
#: moves on): the year storykit was imported in.
_SURELY_PAST = date.today().year


_YEAR_ONLY = re.compile(r"\d{4}")
_TRAILING_COMMAS = re.compile(r"[\s,]+$")


def _no_trailing_commas(holder: str) -> str:
    """``holder`` without the commas and spaces that end it (the regex only when some do)."""
    if holder and (holder[-1] == "," or holder[-1].isspace()):
        return _TRAILING_COMMAS.sub("", holder)
    return holder


_CREDIT = re.compile(r"(?:©|\(c\)|copyright)\s*(.*?)(?:[\s,]+(\d{4}))?", re.IGNORECASE)


def parse_credit(value: str) -> tuple[str, int | None]:
    """Split a display credit ``"© Holder 2021"`` (or ``(c)``) into holder and year."""
    value = must_be_str(value)
    s = text(value)
    m = _CREDIT.fullmatch(s)
    if m is None:
        raise Invalid(
            f"{_describe(value)} is not a photo credit (write it as '© Holder 2021' "
            "or give {'holder': ..., 'year': ...})"
        )
    holder, year = _no_trailing_commas(m.group(1)), m.group(2)
    if not holder or _YEAR_ONLY.fullmatch(holder):
        raise Invalid(f"{_describe(value)} names no holder")
    return holder, (credit_year(year) if year else None)


def credit_holder(value: Any) -> str:
    """Who holds a picture's rights: text, without the trailing commas that the display
    string ``"© Holder, 2021"`` would swallow (so a credit renders and parses back equal)."""
    holder = _no_trailing_commas(text(value))
    if not holder:
        raise Invalid(f"{_describe(value)} names no holder")
    if _YEAR_ONLY.fullmatch(holder):
        raise Invalid(f"{_describe(value)} names no holder (it is a year: give it as the year)")
    return holder
