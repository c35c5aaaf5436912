"""`python -m benchmarks NAME [options]`: run one benchmark script; without a NAME, list them."""

from __future__ import annotations

import importlib
import sys

from benchmarks import SCRIPTS


def listing() -> str:
    width = max(map(len, SCRIPTS))
    return "\n".join(["usage: python -m benchmarks NAME [options]   (NAME --help for its options)", "",
                      *(f"  {name:{width}}  {s.summary}" for name, s in SCRIPTS.items())])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help", "list"):
        print(listing())
        return 0
    name = args[0].replace("-", "_")
    if name not in SCRIPTS:
        print(f"python -m benchmarks: no script {args[0]!r}\n\n{listing()}", file=sys.stderr)
        return 2
    result = importlib.import_module(f"benchmarks.{name}").main(args[1:])
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # spawned workers re-import this module as __mp_main__: nothing runs then
    sys.exit(main())
