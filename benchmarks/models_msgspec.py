"""The msgspec anchor: Structs with Meta constraints, and storykit's text rules (strip, NFC, no
control characters, not blank) in __post_init__ on every text field storykit applies them to."""

from datetime import date, datetime
from typing import Annotated, Literal

from anchors import BCP47, EMAIL, SLUG, URL, clean, optional_clean, parse_credit
from msgspec import Meta, Struct, field

from storykit._countries import ISO_3166_1_ALPHA_2

Slug = Annotated[str, Meta(pattern=SLUG, max_length=200)]
Url = Annotated[str, Meta(pattern=URL, max_length=8000)]
Text = Annotated[str, Meta(min_length=1)]
Title = Annotated[str, Meta(min_length=1, max_length=1000)]
Lang = Annotated[str, Meta(pattern=BCP47)]
Country = Literal[tuple(sorted(ISO_3166_1_ALPHA_2))]  # type: ignore[valid-type]
Aware = Annotated[datetime, Meta(tz=True)]
Year = Annotated[int, Meta(ge=1800, le=date.today().year + 1)]

class Credit(Struct, forbid_unknown_fields=True, omit_defaults=True):
    holder: Text
    year: Year | None = None

    def __post_init__(self) -> None:
        self.holder = clean(self.holder)

class Image(Struct, forbid_unknown_fields=True, omit_defaults=True):
    url: Url
    alt: Text
    credit: Credit | str | None = None

    def __post_init__(self) -> None:
        self.alt = clean(self.alt)
        if isinstance(self.credit, str):
            self.credit = Credit(**parse_credit(self.credit))

class Link(Struct, forbid_unknown_fields=True):
    url: Url
    title: Text

    def __post_init__(self) -> None:
        self.title = clean(self.title)

class Translation(Struct, forbid_unknown_fields=True, omit_defaults=True):
    language: Lang
    url: Url
    title: Text | None = None

    def __post_init__(self) -> None:
        if self.title is not None:
            self.title = clean(self.title)

class Story(Struct, forbid_unknown_fields=True, omit_defaults=True):
    id: Slug
    title: Title
    published: date
    summary: Text
    url: Url | None = None
    image: Image | None = None
    topics: list[Text] = field(default_factory=list)
    countries: list[Country] = field(default_factory=list)
    language: Lang = "en"
    links: list[Link] = field(default_factory=list)
    translations: list[Translation] = field(default_factory=list)
    updated: Aware | None = None

    def __post_init__(self) -> None:
        self.title = clean(self.title)
        self.summary = clean(self.summary, multiline=True)
        self.topics = [clean(t) for t in self.topics]

class Contact(Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: Text
    role: str | None = None
    organization: str | None = None
    email: Annotated[str, Meta(pattern=EMAIL, max_length=254)] | None = None
    phone: Annotated[str, Meta(pattern=r"^\+[0-9 ()./-]{6,30}$")] | None = None
    url: Url | None = None

    def __post_init__(self) -> None:
        self.name = clean(self.name)
        self.role = optional_clean(self.role)
        self.organization = optional_clean(self.organization)

class Collection(Struct, forbid_unknown_fields=True, omit_defaults=True):
    title: Text = "Stories"
    description: str | None = None
    url: Url | None = None
    language: Lang = "en"
    contacts: list[Contact] = field(default_factory=list)
    stories: list[Story] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.title = clean(self.title)
        self.description = optional_clean(self.description, multiline=True)
        ids = {s.id for s in self.stories}
        if len(ids) != len(self.stories):
            raise ValueError("duplicate story ids")



