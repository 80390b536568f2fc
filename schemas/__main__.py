"""``python -m schemas export [--check] [--dir DIR]``: write or verify the JSON Schema files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from schemas.export import JSON_DIR, export


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m schemas", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    export_cmd = commands.add_parser("export", help="Write the JSON Schema of every event family.")
    export_cmd.add_argument(
        "--check", action="store_true", help="Write nothing; exit 1 and list the files that differ."
    )
    export_cmd.add_argument("--dir", type=Path, default=JSON_DIR, help=f"Target folder (default {JSON_DIR}).")
    args = parser.parse_args(argv)
    differing = export(args.dir, check=args.check)
    for name in differing:
        sys.stdout.write(f"{'differs' if args.check else 'wrote'}: {args.dir / name}\n")
    if args.check and differing:
        sys.stdout.write("run `python -m schemas export` and commit the result\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
