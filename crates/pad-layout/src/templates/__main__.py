"""Command line of {{name}}: `python -m {{package}} --snapshot YYYY-MM-DD`."""

import argparse

from {{package}} import run


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m {{package}}", description=__doc__)
    parser.add_argument("--snapshot", required=True, help="the date to process, YYYY-MM-DD")
    args = parser.parse_args()
    print(run(args.snapshot))


if __name__ == "__main__":
    main()
