"""`python -m mixtape.probe URL`: a container health check that needs no curl in the image.

Exits 0 when URL answers 200 within the timeout, 1 otherwise (saying why on stderr), as
compose's `healthcheck` expects.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 4.0


def probe(url: str, timeout: float = TIMEOUT_SECONDS) -> tuple[bool, str]:
    """Whether `url` answers 200, and what it said."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return response.status == 200, f"{response.status} {response.read(200)!r}"
    except urllib.error.HTTPError as exc:
        return False, f"{exc.code} {exc.read(200)!r}"
    except (urllib.error.URLError, OSError) as exc:
        return False, str(exc)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m mixtape.probe URL", file=sys.stderr)
        return 2
    healthy, said = probe(args[0])
    if not healthy:
        print(f"unhealthy: {args[0]}: {said}", file=sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
