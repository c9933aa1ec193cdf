"""``python -m storykit``: the ``storykit`` command, where its script is not on ``PATH``."""

from storykit.cli import main

if __name__ == "__main__":
    main()
