"""``python -m frontier.tunnel``: the `frontier-tunnel` command."""

from .cli import main

raise SystemExit(main())
