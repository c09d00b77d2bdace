"""``python -m satchel.cli``: the ``satchel`` command."""

from satchel.cli.main import main

main()
