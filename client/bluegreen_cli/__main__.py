"""`python -m bluegreen_cli ...`: the same as the `bluegreen` command."""

from .cli import run

if __name__ == "__main__":
    run()
