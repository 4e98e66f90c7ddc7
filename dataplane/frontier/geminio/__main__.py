"""`python -m frontier.geminio {echo-server,probe}`: see `frontier.geminio.aio.cli`."""

from __future__ import annotations

import sys

from .aio.cli import main

if __name__ == "__main__":
    sys.exit(main())
