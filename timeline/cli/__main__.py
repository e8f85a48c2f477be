"""``python -m timeline.cli``: the same as the ``timeline`` command."""

from timeline.cli.main import main

main()
