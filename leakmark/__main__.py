"""`python -m leakmark`."""

from leakmark.cli import main

if __name__ == "__main__":
    main()
