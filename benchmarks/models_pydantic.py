"""The pydantic v2 anchor: models with field validators for the same rules."""

from datetime import date
from typing import Any

from anchors import BCP47, EMAIL, SLUG, check_url, clean, parse_credit
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator
from pydantic.types import AwareDatetime

from storykit._countries import ISO_3166_1_ALPHA_2

strict = ConfigDict(extra="forbid", frozen=True)

class Credit(BaseModel):
    model_config = strict
    holder: str
    year: int | None = Field(default=None, ge=1800, le=date.today().year + 1)

class Image(BaseModel):
    model_config = strict
    url: str
    alt: str
    credit: Credit | None = None

    @field_validator("url")
    @classmethod
    def v_url(cls, v: str) -> str:
        return check_url(v)

    @field_validator("alt")
    @classmethod
    def v_alt(cls, v: str) -> str:
        return clean(v)

    @field_validator("credit", mode="before")
    @classmethod
    def v_credit(cls, v: Any) -> Any:
        return parse_credit(v) if isinstance(v, str) else v

class Link(BaseModel):
    model_config = strict
    url: str
    title: str

    @field_validator("url")
    @classmethod
    def v_url(cls, v: str) -> str:
        return check_url(v)

    @field_validator("title")
    @classmethod
    def v_title(cls, v: str) -> str:
        return clean(v)

class Translation(BaseModel):
    model_config = strict
    language: str = Field(pattern=BCP47)
    url: str
    title: str | None = None

    @field_validator("url")
    @classmethod
    def v_url(cls, v: str) -> str:
        return check_url(v)

class Story(BaseModel):
    model_config = strict
    id: str = Field(pattern=SLUG, max_length=200)
    title: str = Field(max_length=1000)
    published: date | AwareDatetime
    summary: str
    url: str | None = None
    image: Image | None = None
    topics: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    language: str = Field(default="en", pattern=BCP47)
    links: tuple[Link, ...] = ()
    translations: tuple[Translation, ...] = ()
    updated: date | AwareDatetime | None = None

    @field_validator("title")
    @classmethod
    def v_title(cls, v: str) -> str:
        return clean(v)

    @field_validator("summary")
    @classmethod
    def v_summary(cls, v: str) -> str:
        return clean(v, multiline=True)

    @field_validator("url")
    @classmethod
    def v_url(cls, v: str | None) -> str | None:
        return None if v is None else check_url(v)

    @field_validator("topics")
    @classmethod
    def v_topics(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(clean(t) for t in v)

    @field_validator("countries")
    @classmethod
    def v_countries(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        out = tuple(c.strip().upper() for c in v)
        for c in out:
            if c not in ISO_3166_1_ALPHA_2:
                raise ValueError(f"{c!r} is not an ISO 3166-1 alpha-2 code")
        return out

class Contact(BaseModel):
    model_config = strict
    name: str
    role: str | None = None
    organization: str | None = None
    email: str | None = Field(default=None, pattern=EMAIL, max_length=254)
    phone: str | None = Field(default=None, pattern=r"^\+[0-9 ()./-]{6,30}$")
    url: str | None = None

class Collection(BaseModel):
    model_config = strict
    title: str = "Stories"
    description: str | None = None
    url: str | None = None
    language: str = Field(default="en", pattern=BCP47)
    contacts: tuple[Contact, ...] = ()
    stories: tuple[Story, ...] = ()

    @model_validator(mode="after")
    def v_unique(self) -> "Collection":
        if len({s.id for s in self.stories}) != len(self.stories):
            raise ValueError("duplicate story ids")
        return self




#: One adapter, made once, as a user would keep it.
PCollectionAdapter = TypeAdapter(Collection)
