"""CAS ticket validation beside django-cas-server (bench/cas/compare.py), on its own:

    python -m bench.cas [--tickets 30000] [--seconds 5] [--rounds 2] [--connections 16]

``python -m bench`` runs the same comparison after its other scenarios."""

from __future__ import annotations

import argparse
import json
import sys

from bench.cas import compare


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=30000, help="Yihaotong's, a round")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="per side, interleaved")
    parser.add_argument("--connections", type=int, default=compare.CONNECTIONS, help="both sides'")
    options = parser.parse_args(argv)
    result = compare.run(
        options.tickets, options.seconds, options.rounds, connections=options.connections
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
