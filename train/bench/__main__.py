"""``python -m train.bench``: run the benchmarks (``--help`` for the options)."""

from train.bench.cli import main

main()
