"""The pydantic v2 anchor: models with storykit's rules as ``AfterValidator``s (text: strip,
NFC, no control characters, not blank; http(s) URLs; ISO countries; parsed photo credits)."""

from datetime import date
from typing import Annotated, Any

from anchors import BCP47, EMAIL, SLUG, check_url, clean, optional_clean, parse_credit
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    model_validator,
)
from pydantic.types import AwareDatetime

from storykit._countries import ISO_3166_1_ALPHA_2

strict = ConfigDict(extra="forbid", frozen=True)


def _country(v: str) -> str:
    c = v.strip().upper()
    if c not in ISO_3166_1_ALPHA_2:
        raise ValueError(f"{c!r} is not an ISO 3166-1 alpha-2 code")
    return c


def _credit(v: Any) -> Any:
    return parse_credit(v) if isinstance(v, str) else v


Text = Annotated[str, AfterValidator(clean)]
Summary = Annotated[str, AfterValidator(lambda v: clean(v, multiline=True))]
OptionalText = Annotated[str | None, AfterValidator(optional_clean)]
Url = Annotated[str, AfterValidator(check_url)]
Country = Annotated[str, AfterValidator(_country)]
Lang = Annotated[str, Field(pattern=BCP47)]


class Credit(BaseModel):
    model_config = strict
    holder: Text
    year: int | None = Field(default=None, ge=1800, le=date.today().year + 1)

class Image(BaseModel):
    model_config = strict
    url: Url
    alt: Text
    credit: Annotated[Credit | None, BeforeValidator(_credit)] = None

class Link(BaseModel):
    model_config = strict
    url: Url
    title: Text

class Translation(BaseModel):
    model_config = strict
    language: Lang
    url: Url
    title: Text | None = None

class Story(BaseModel):
    model_config = strict
    id: str = Field(pattern=SLUG, max_length=200)
    title: Annotated[Text, Field(max_length=1000)]
    published: date | AwareDatetime
    summary: Summary
    url: Url | None = None
    image: Image | None = None
    topics: tuple[Text, ...] = ()
    countries: tuple[Country, ...] = ()
    language: Lang = "en"
    links: tuple[Link, ...] = ()
    translations: tuple[Translation, ...] = ()
    updated: date | AwareDatetime | None = None

class Contact(BaseModel):
    model_config = strict
    name: Text
    role: OptionalText = None
    organization: OptionalText = None
    email: str | None = Field(default=None, pattern=EMAIL, max_length=254)
    phone: str | None = Field(default=None, pattern=r"^\+[0-9 ()./-]{6,30}$")
    url: Url | None = None

class Collection(BaseModel):
    model_config = strict
    title: Text = "Stories"
    description: Annotated[str | None,
                           AfterValidator(lambda v: optional_clean(v, multiline=True))] = None
    url: Url | None = None
    language: Lang = "en"
    contacts: tuple[Contact, ...] = ()
    stories: tuple[Story, ...] = ()

    @model_validator(mode="after")
    def v_unique(self) -> "Collection":
        if len({s.id for s in self.stories}) != len(self.stories):
            raise ValueError("duplicate story ids")
        return self


#: One adapter, made once, as a user would keep it.
PCollectionAdapter = TypeAdapter(Collection)
