"""``python -m storykit.cli``: the ``storykit`` command, as ``python -m storykit`` runs it."""

from storykit.cli import main

if __name__ == "__main__":
    main()
