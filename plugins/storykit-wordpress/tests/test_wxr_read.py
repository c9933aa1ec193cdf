"""The wxr reader: published posts of a WordPress export become stories; everything else is
skipped and counted; hostile exports are refused."""

from __future__ import annotations

import io
import warnings

import pytest
from storykit_wordpress import SkippedWarning, WXRReader

import storykit
from storykit import Collection, ValidationError
from storykit.testing import check_reader


def item(title: str, *, kind: str = "post", status: str = "publish", post_id: int = 1,
         extra: str = "") -> str:
    return f"""<item><title>{title}</title><link>https://blog.example.org/{post_id}/</link>
<pubDate>Tue, 23 Feb 2021 09:30:00 +0000</pubDate>
<guid isPermaLink="false">https://blog.example.org/?p={post_id}</guid>
<wp:post_id>{post_id}</wp:post_id><wp:post_date_gmt>2021-02-23 09:30:00</wp:post_date_gmt>
<wp:post_modified_gmt>2021-02-24 10:00:00</wp:post_modified_gmt>
<wp:post_name>{title.lower().replace(' ', '-')}</wp:post_name>
<wp:status>{status}</wp:status><wp:post_type>{kind}</wp:post_type>{extra}</item>"""


def export(*items: str, head: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>{head}
<rss version="2.0" xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"
 xmlns:content="http://purl.org/rss/1.0/modules/content/"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">
<channel><title>The Blog</title><link>https://blog.example.org</link>
<description>Notes</description><language>en-US</language><wp:wxr_version>1.2</wp:wxr_version>
{"".join(items)}</channel></rss>""".encode()


POST = item("Bees matter", post_id=10, extra="""
<content:encoded><![CDATA[First paragraph <script>alert(1)</script>

Second <a href="javascript:x" onclick="y">line</a>]]></content:encoded>
<excerpt:encoded><![CDATA[<b>Short</b> &amp; sweet]]></excerpt:encoded>
<category domain="category" nicename="rural"><![CDATA[Rural work]]></category>
<category domain="post_tag" nicename="bees"><![CDATA[bees]]></category>
<category domain="category" nicename="uncategorized"><![CDATA[Uncategorized]]></category>
<wp:postmeta><wp:meta_key>_thumbnail_id</wp:meta_key><wp:meta_value>11</wp:meta_value></wp:postmeta>""")
ATTACHMENT = item("Bee photo", kind="attachment", status="inherit", post_id=11, extra="""
<wp:attachment_url>https://blog.example.org/uploads/bee.jpg</wp:attachment_url>
<excerpt:encoded><![CDATA[© ILO 2021]]></excerpt:encoded>
<wp:postmeta><wp:meta_key>_wp_attachment_image_alt</wp:meta_key>
<wp:meta_value>A bee on a flower</wp:meta_value></wp:postmeta>""")
SAMPLE = export(POST, ATTACHMENT, item("Draft", status="draft", post_id=12),
                item("About", kind="page", post_id=13),
                item("Rev", kind="revision", status="inherit", post_id=14),
                item("Menu", kind="nav_menu_item", post_id=15))


def read(data: bytes) -> Collection:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedWarning)
        return WXRReader().read(io.BytesIO(data))


def test_published_posts_map() -> None:
    reader = WXRReader()
    with pytest.warns(SkippedWarning) as caught:
        col = reader.read(io.BytesIO(SAMPLE))
    assert reader.skipped == {"attachments": 1, "drafts": 1, "pages": 1, "revisions": 1,
                              "nav_menu_item": 1}
    assert caught[0].message.counts == reader.skipped  # type: ignore[union-attr]
    assert (col.title, col.description, col.url, col.language) == (
        "The Blog", "Notes", "https://blog.example.org", "en-US")
    (story,) = col.stories
    assert story.id == "bees-matter"
    assert story.summary == "Short & sweet"
    assert story.topics == ("Rural work", "bees")
    assert story.body == ('<p>First paragraph </p><p>Second <a rel="noopener noreferrer">'
                          "line</a></p>")
    assert story.url == "https://blog.example.org/10/"
    assert str(story.published) == "2021-02-23 09:30:00+00:00"
    assert str(story.updated) == "2021-02-24 10:00:00+00:00"
    assert story.image is not None
    assert (story.image.url, story.image.alt) == ("https://blog.example.org/uploads/bee.jpg",
                                                  "A bee on a flower")
    assert str(story.image.credit) == "© ILO 2021"


def test_problems_name_the_post() -> None:
    bad = export(item("", post_id=20))
    with pytest.raises(ValidationError) as e:
        read(bad)
    assert [d.path for d in e.value.errors] == ["item https://blog.example.org/20/: title",
                                                  "item https://blog.example.org/20/: summary"]


def test_entities_are_refused() -> None:
    laughs = ('<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
              ']>')
    with pytest.raises(ValidationError, match="refused"):
        read(export(item("&b;"), head=laughs))
    xxe = '<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    with pytest.raises(ValidationError, match="refused"):
        read(export(item("&x;"), head=xxe))


def test_deep_nesting_is_refused() -> None:
    deep = "<a>" * 1000 + "</a>" * 1000
    with pytest.raises(ValidationError, match="deeper than the limit of"):
        read(export(item("Deep", extra=deep)))


@pytest.mark.parametrize("data", [b"", b"<rss><channel></channel></rss>", b"<html/>",
                                  b"not xml"])
def test_not_an_export(data: bytes) -> None:
    with pytest.raises(ValidationError) as e:
        read(data)
    assert len(e.value.errors) == 1


def test_conformance() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedWarning)
        check_reader(WXRReader(), sample=SAMPLE, max_examples=10)


def test_registered() -> None:
    assert "wxr" in storykit.readers()  # type: ignore[attr-defined]


@pytest.mark.parametrize("encoding", ["mac", "shift_jis", "bogus"])
def test_an_encoding_the_parser_cannot_read_is_one_validation_error(encoding: str) -> None:
    """Found by the reader fuzzer: an unknown or multi-byte encoding in the XML declaration
    raised LookupError or ValueError; it is a one-line ValidationError."""
    data = f'<?xml version="1.0" encoding="{encoding}"?><rss></rss>'.encode()
    with pytest.raises(storykit.ValidationError, match="encoding"):
        storykit.loads(data, "wxr")
