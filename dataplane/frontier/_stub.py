"""Shared placeholder for console scripts whose issue has not landed yet.

The entry points are reserved in pyproject.toml from the start so that packaging, images and
charts can refer to them; until the real command exists, it says so plainly and fails.
"""

import sys


def not_implemented(command: str) -> int:
    print(f"{command}: not implemented yet", file=sys.stderr)
    return 1
