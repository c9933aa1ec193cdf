"""``storykit serve SOURCE [--host] [--port] [--watch]``: the web app, run by uvicorn."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["serve"]


@click.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=True, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="The port to listen on (0: any free port).")
@click.option("--watch", is_flag=True,
              help="Reload SOURCE when it is saved; open pages reload themselves.")
def serve(source: Path, host: str, port: int, watch: bool) -> None:
    """Serve SOURCE: the site, every format at /stories.FORMAT, the JSON API at /api and the
    digest preview at /digest.

    With --watch, saving SOURCE reloads it and the open browser tabs reload themselves; while
    the file has errors the last valid version is served, with the errors in a banner.

    \b
    Examples:
      storykit serve stories.json --watch
      storykit serve archive.db --host 0.0.0.0 --port 8080
    """
    try:
        import uvicorn

        from storykit.web import create_app
    except ImportError as e:
        raise click.ClickException(f"storykit serve needs the web extra: pip install "
                                   f"'storykit[web]' ({e})") from None
    try:
        app = create_app(source, watch=watch)
    except (ValueError, OSError) as e:  # (invalid content, an unknown format, unreadable)
        raise click.ClickException(str(e)) from None
    click.echo(f"storykit: serving {source} on http://{host}:{port}/"
               + (" (watching for changes)" if watch else ""), err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)
