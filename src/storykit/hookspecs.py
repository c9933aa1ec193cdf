"""Every hook storykit calls, typed and documented.

A plugin implements a hook by defining a function of the same name decorated with
``@storykit.hookimpl``. The docstrings here are rendered as the hook reference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from storykit.exporter import Exporter

hookspec = pluggy.HookspecMarker("storykit")

# --- formats ------------------------------------------------------------------------------------


@hookspec
def register_exporters() -> Iterable[Exporter]:
    """Return the exporters (output formats) this plugin provides.

    Each exporter has ``name``, ``media_type``, ``suffix``, a one-line ``description`` and
    ``write(collection, out, **options)``, which writes the collection to the binary stream
    ``out``. An exporter may declare its options as an attrs class in ``options_type``; storykit
    then rejects unknown options and converts command-line strings to the declared types. An
    exporter without ``options_type`` takes no options.

    Format names are lowercase (``markdown``, ``atom``); the first plugin to register a name
    keeps it, and a later plugin claiming the same name is reported as an error naming both
    (built-in formats are registered first). A plugin whose hook raises, or returns something
    other than a list of exporters, is reported and left out; every other format keeps working.

    :returns: a list of exporter objects (an empty list is fine).

    .. code-block:: python

        @storykit.hookimpl
        def register_exporters():
            return [Markdown()]

    A distribution makes its module a plugin with an entry point of group ``storykit``:

    .. code-block:: toml

        [project.entry-points.storykit]
        markdown = "storykit_markdown"
    """
    raise NotImplementedError


@hookspec
def register_readers() -> Iterable[Any]:
    """Return the readers (input formats) this plugin provides.

    A reader has ``name``, ``suffixes`` (``(".atom",)``; ``()`` for none), ``media_types``, a
    one-line ``description``, ``options_type`` (an attrs class of options, or ``None``),
    ``input`` (``"stream"``, the default, or ``"folder"``) and ``read(source, **options)``,
    which returns a :class:`~storykit.Collection`: ``source`` is a binary file object for a
    stream reader (its ``name``, if any, names it in messages) and a :class:`pathlib.Path` of a
    directory for a folder reader. An optional ``sniff(head)`` says whether the first bytes
    (at most 4,096) look like the reader's format.

    A reader builds its collection with :func:`storykit.convert.collection_from_data`, so
    every problem is reported at once with a path a person can find, and raises a one-line
    :class:`~storykit.ValidationError` for a document that is not what it reads: never another
    exception. Names are registered as exporters' are: the first plugin to claim a name keeps it.

    .. code-block:: python

        @storykit.hookimpl
        def register_readers():
            return [WordPressReader()]
    """
    raise NotImplementedError


# --- themes: templates, filters, globals ---------------------------------------------------------


@hookspec
def register_template_dirs() -> Iterable[str | Path]:
    """Return folders of jinja2 templates that override or add to the built-in ones.

    A theme plugin overrides ``page.html`` (or any other built-in template) by shipping a file of
    the same name. Folders from plugins are searched before the built-in templates, and a
    ``template_dir`` option given to an exporter is searched before both.
    """
    raise NotImplementedError


@hookspec
def register_template_filters() -> Mapping[str, Callable[..., Any]]:
    """Return jinja2 filters to add to the template environment, by name.

    .. code-block:: python

        @storykit.hookimpl
        def register_template_filters():
            return {"shout": lambda s: s.upper()}
    """
    raise NotImplementedError


@hookspec
def register_template_globals() -> Mapping[str, Any]:
    """Return values and functions to add to every template's globals, by name."""
    raise NotImplementedError


# --- languages ----------------------------------------------------------------------------------


@hookspec
def register_translations() -> Iterable[str | Path]:
    """Return folders of gettext catalogues for the labels of the HTML page and email digest.

    Each folder holds ``<language>/LC_MESSAGES/storykit.po`` (or a compiled ``storykit.mo``),
    ``<language>`` in Babel's spelling: ``de``, ``pt_BR``, ``zh_Hant``. A ``.po`` file is
    compiled in memory the first time its language is used: no build step. Catalogues from
    plugins add languages to the built-in ones (en, fr, es, ar, he) or override their messages
    one by one: the built-in catalogue is read first, then the plugins' folders, the most recently
    registered plugin last (it wins). A message that no catalogue translates, or translates
    with an empty or fuzzy entry, stays English: never blank. Dates need no catalogue: they
    come from Babel's CLDR data for every language.

    Start from ``storykit/locale/en/LC_MESSAGES/storykit.po``: copy it, keep each ``msgid``,
    translate each ``msgstr``, and set the ``Language`` and ``Plural-Forms`` headers.

    .. code-block:: python

        from pathlib import Path

        @storykit.hookimpl
        def register_translations():
            return [Path(__file__).parent / "locale"]   # locale/de/LC_MESSAGES/storykit.po
    """
    raise NotImplementedError
