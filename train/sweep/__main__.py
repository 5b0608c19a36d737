"""``python -m train.sweep ...``: the ``sweep`` subcommand on its own."""

from train.sweep.cli import main

main()
