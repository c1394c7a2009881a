"""``python -m benchmarks``: see :mod:`benchmarks`."""

from benchmarks.runner import main

if __name__ == "__main__":
    main()
