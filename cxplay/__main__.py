"""``python -m cxplay``: the same command as ``cxplay``."""

from cxplay._cli import main

if __name__ == "__main__":
    main()
