"""storykit-webpage: the stories of a web page, from its schema.org data.

Installed, it adds the reader ``html``::

    storykit import page.html --from html -o stories.json

Each schema.org ``NewsArticle``, ``Article``, ``BlogPosting`` or ``ReportageNewsArticle`` in
the page's JSON-LD (``<script type="application/ld+json">``, ``@graph`` too) or microdata
(``itemscope``/``itemprop``, read by extruct) is a story: ``headline`` the title,
``description`` the summary, ``datePublished``/``dateModified``, ``url``, ``inLanguage``,
``keywords`` the topics, ``contentLocation`` countries, ``workTranslation`` translations,
``citation`` items with a ``url`` and a ``name`` the related links, ``articleBody`` (text) the
body; the image's ``creditText`` or ``copyrightHolder`` and ``copyrightYear`` the photo
credit. An article inside an element ``id="story-ID"`` (as storykit's own page writes) keeps
``ID`` as its id, and the HTML of its ``class="sk-article"`` element is its body. The page's
``<title>``, description, canonical link and ``lang`` give the collection's, and the
``Person`` items of the JSON-LD inside its ``class="sk-contact"`` element its media contacts.
"""

from __future__ import annotations

import html
import re
from typing import Any, BinaryIO

import storykit
from storykit.errors import ValidationError
from storykit.sources import (
    MAX_DEPTH,
    depth_of,
    language_tag,
    read_bytes,
    refuse,
    source_name,
    stable_id,
)
from storykit.sources import with_paths as _with_paths

__all__ = ["WebPageReader", "register_readers"]

ARTICLE_TYPES = frozenset({"NewsArticle", "Article", "BlogPosting", "ReportageNewsArticle",
                           "AnalysisNewsArticle", "OpinionNewsArticle", "ScholarlyArticle",
                           "TechArticle", "Report"})


class WebPageReader:
    """The ``html`` reader."""

    name = "html"
    suffixes: tuple[str, ...] = (".html", ".htm")
    media_types = ("text/html", "application/xhtml+xml")
    description = "Web page: schema.org NewsArticle/Article JSON-LD and microdata (extruct)."
    options_type = None
    input = "stream"

    def sniff(self, head: bytes) -> bool:
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:200].lower()
        return start.startswith((b"<!doctype html", b"<html"))

    def read(self, source: BinaryIO, **options: Any) -> storykit.Collection:
        from storykit.exporter import parse_options

        parse_options(self, options)
        name = source_name(source)
        return read_page(read_bytes(source, what="page"), name)


def _tree(data: bytes, name: str | None) -> Any:
    if not re.search(rb"<[A-Za-z!]", data[:65536]):
        raise refuse("is not an HTML page (no markup)", name)
    import html5lib
    import lxml.etree
    import lxml.html

    # libxml2's parser first (C, fast; its own depth limit stays on, no huge-tree mode): a page
    # nested past the limit is refused before html5lib (pure Python) walks it.
    try:
        quick = lxml.html.document_fromstring(
            data, parser=lxml.html.HTMLParser(no_network=True, huge_tree=False))
    except (lxml.etree.LxmlError, ValueError) as e:
        raise refuse(f"is not an HTML page ({e})", name) from None
    if _depth(quick) > MAX_DEPTH:
        raise refuse(f"nests elements deeper than the limit of {MAX_DEPTH}", name)

    # html5lib parses as a browser does (a body's <b><p>..</p></b> stays as it is, where
    # libxml2's HTML parser moves it); it reads no DTD and fetches nothing. The tree is lxml's,
    # for extruct's microdata.
    try:
        tree = html5lib.parse(data, treebuilder="lxml", namespaceHTMLElements=False)
    except (ValueError, LookupError, lxml.etree.LxmlError) as e:
        raise refuse(f"is not an HTML page ({e})", name) from None
    return tree.getroot() if hasattr(tree, "getroot") else tree


def _depth(root: Any) -> int:
    deepest = 0
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in element)
    return deepest


def read_page(data: bytes, name: str | None = None) -> storykit.Collection:
    """The collection of a page's bytes."""
    tree = _tree(data, name)
    found: list[tuple[dict[str, Any], str | None]] = []
    contacts: list[dict[str, Any]] = []
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            import orjson

            value = orjson.loads((script.text or "").strip() or "null")
        except orjson.JSONDecodeError as e:
            if "depth" in str(e).lower() or "recursion" in str(e).lower():
                raise refuse(f"holds JSON-LD nested deeper than the limit of {MAX_DEPTH}",
                             name) from None
            continue  # broken JSON-LD is common on the web: the rest of the page still reads
        if depth_of(value) > MAX_DEPTH:
            raise refuse(f"holds JSON-LD nested deeper than the limit of {MAX_DEPTH}", name)
        if _in_contacts(script):
            contacts.extend(_contacts(value))
            continue
        article_id, body = _article_of(script)
        for article in _articles(value):
            if body is not None:  # (the HTML itself: articleBody is its text)
                article = {**article, "_body_html": body}  # noqa: PLW2901
            found.append((article, article_id))
    from extruct.w3cmicrodata import MicrodataExtractor

    for item in MicrodataExtractor().extract_items(tree, None):
        found.extend((a, None) for a in _articles(_from_microdata(item)))
    collection = _page_meta(tree)
    taken: set[str] = set()
    stories = [_story(item, article_id, collection["language"], taken)
               for item, article_id in found]
    collection["stories"] = stories
    if contacts:
        collection["contacts"] = contacts
    from storykit.convert import collection_from_data

    try:
        return collection_from_data(collection, name)
    except ValidationError as e:
        raise _with_paths(e, lambda i: f"articles[{i}]") from None


def _article_of(script: Any) -> tuple[str | None, str | None]:
    """The id of the ``id="story-ID"`` element around a JSON-LD block, and the HTML inside
    its ``class="sk-article"`` element (the body, as storykit's page shows it)."""
    import lxml.html

    for ancestor in script.iterancestors():
        element_id = ancestor.get("id") or ""
        if element_id.startswith("story-") and len(element_id) > 6:
            body = None
            for element in ancestor.iterdescendants():
                if "sk-article" in (element.get("class") or "").split():
                    # (lxml gives the leading text unescaped: "&lt;p&gt;" as "<p>")
                    body = html.escape(element.text or "", quote=False) + "".join(
                        lxml.html.tostring(child, encoding="unicode") for child in element)
                    break
            return element_id[6:], body
    return None, None


def _in_contacts(script: Any) -> bool:
    """Whether a JSON-LD block is inside the ``class="sk-contact"`` element (storykit's page
    writes its media contacts there, as schema.org ``Person`` items)."""
    return any("sk-contact" in (a.get("class") or "").split() for a in script.iterancestors())


def _contacts(value: Any) -> list[dict[str, Any]]:
    """The media contacts of a JSON-LD value: its ``Person`` and ``ContactPoint`` items."""
    out: list[dict[str, Any]] = []
    for item in value if isinstance(value, list) else [value]:
        if not (isinstance(item, dict) and _types(item) & {"Person", "ContactPoint"}):
            continue
        contact: dict[str, Any] = {"name": _first(item.get("name"))}
        for field, key in (("role", "jobTitle"), ("email", "email"), ("phone", "telephone"),
                           ("url", "url")):
            if item.get(key) is not None:
                contact[field] = _first(item[key])
        if item.get("worksFor") is not None:
            contact["organization"] = _name(item["worksFor"])
        out.append(contact)
    return out


def _types(item: dict[str, Any]) -> set[str]:
    kind = item.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {k.rsplit("/", 1)[-1] for k in kinds if isinstance(k, str)}


def _articles(value: Any) -> list[dict[str, Any]]:
    """The article objects of a JSON-LD value (a list, an ``@graph``, or one object)."""
    out: list[dict[str, Any]] = []
    stack = [value]
    while stack:
        item = stack.pop(0)
        if isinstance(item, list):
            stack[:0] = item
        elif isinstance(item, dict):
            if "@graph" in item:
                stack[:0] = item["@graph"] if isinstance(item["@graph"], list) else [
                    item["@graph"]]
            elif _types(item) & ARTICLE_TYPES:
                out.append(item)
    return out


def _from_microdata(item: dict[str, Any]) -> dict[str, Any]:
    """extruct's microdata item (``type``, ``properties``) in JSON-LD's shape."""
    out: dict[str, Any] = {"@type": item.get("type")}
    for key, value in (item.get("properties") or {}).items():
        if isinstance(value, dict) and "properties" in value:
            out[key] = _from_microdata(value)
        elif isinstance(value, list):
            out[key] = [_from_microdata(v) if isinstance(v, dict) and "properties" in v else v
                        for v in value]
        else:
            out[key] = value
    return out


def _page_meta(tree: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    title = tree.findtext(".//title")
    if title and title.strip():
        meta["title"] = title.strip()
    for element in tree.iter("meta"):
        if (element.get("name") or "").lower() == "description" and element.get("content"):
            meta["description"] = element.get("content")
            break
    for element in tree.iter("link"):
        if "canonical" in (element.get("rel") or "").lower().split() and element.get("href"):
            meta["url"] = element.get("href")
            break
    lang = (tree.get("lang") or "").strip()
    meta["language"] = language_tag(lang) or "en"
    return meta


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _name(value: Any) -> str | None:
    value = _first(value)
    if isinstance(value, dict):
        value = value.get("name") or value.get("alternateName") or value.get("@id")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _url(value: Any) -> str | None:
    value = _first(value)
    if isinstance(value, dict):
        value = value.get("contentUrl") or value.get("url") or value.get("@id")
    return value if isinstance(value, str) and value.strip() else None


def _image(value: Any, title: Any) -> dict[str, Any] | None:
    value = _first(value)
    url = _url(value)
    if url is None:
        return None
    image: dict[str, Any] = {"url": url, "alt": title or "Image"}
    if isinstance(value, dict):
        alt = value.get("description") or value.get("caption") or value.get("name")
        if isinstance(alt, str) and alt.strip():
            image["alt"] = alt
        holder = value.get("creditText") or _name(value.get("copyrightHolder"))
        year = value.get("copyrightYear")
        if isinstance(holder, str) and holder.strip():
            credit: dict[str, Any] = {"holder": holder.strip()}
            if year is not None:
                credit["year"] = year
            image["credit"] = credit
        elif isinstance(value.get("copyrightNotice"), str):
            image["credit"] = value["copyrightNotice"]
    return image


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{html.escape(p.strip())}</p>" for p in re.split(r"\n\s*\n", text)
                   if p.strip())


def _story(item: dict[str, Any], article_id: str | None, language: str,
           taken: set[str]) -> dict[str, Any]:
    title = item.get("headline") or item.get("name")
    story: dict[str, Any] = {"title": _first(title)}
    story["published"] = _first(item.get("datePublished") or item.get("dateCreated")
                                or item.get("dateModified"))
    if item.get("dateModified") and (item.get("datePublished") or item.get("dateCreated")):
        story["updated"] = _first(item["dateModified"])  # (else it stood in for published)
    body = item.get("articleBody")
    summary = item.get("description") or item.get("abstract")
    if not summary and isinstance(body, str):
        summary = body.strip()[:500] or None
    story["summary"] = _first(summary) or story["title"]
    if isinstance(item.get("_body_html"), str):
        story["body"] = item["_body_html"]
    elif isinstance(body, str) and body.strip():
        story["body"] = _paragraphs(body)
    url = _url(item.get("url")) or _url(item.get("mainEntityOfPage"))
    if url:
        story["url"] = url
    story["language"] = _name(item.get("inLanguage")) or language
    keywords = item.get("keywords")
    if isinstance(keywords, str):
        keywords = [k.strip() for k in keywords.split(",") if k.strip()]
    if isinstance(keywords, list) and keywords:
        story["topics"] = [_name(k) or k for k in keywords]
    countries = []
    places = item.get("contentLocation")
    for place in places if isinstance(places, list) else [places]:
        if isinstance(place, dict):
            code = place.get("identifier") or _name((place.get("address") or {}).get(
                "addressCountry") if isinstance(place.get("address"), dict) else None)
            if isinstance(code, str) and code.strip():
                countries.append(code.strip())
    if countries:
        story["countries"] = countries
    links = []
    cited = item.get("citation")
    for work in cited if isinstance(cited, list) else [cited]:
        if isinstance(work, dict) and _url(work.get("url")) and _name(work.get("name")):
            links.append({"url": _url(work.get("url")), "title": work["name"]})
    if links:
        story["links"] = links
    translations = []
    works = item.get("workTranslation")
    for work in works if isinstance(works, list) else [works]:
        if isinstance(work, dict) and _url(work.get("url")):
            tr: dict[str, Any] = {"language": _name(work.get("inLanguage")),
                                  "url": _url(work.get("url"))}
            if work.get("headline"):
                tr["title"] = work["headline"]
            translations.append(tr)
    if translations:
        story["translations"] = translations
    image = _image(item.get("image"), story["title"])
    if image is not None:
        story["image"] = image
    if article_id is not None:
        story["id"] = article_id
        taken.add(article_id)
    elif isinstance(item.get("identifier"), str):
        story["id"] = stable_id(item["identifier"], taken)
    elif url:
        story["id"] = stable_id(url, taken)
    return story


@storykit.hookimpl
def register_readers() -> list[Any]:
    """The ``html`` reader."""
    return [WebPageReader()]
