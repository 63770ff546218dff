"""Project benchmarks (``make bench``). Each ``bench_*.py`` module defines ``run(quick: bool) -> list[Row]``."""
