"""``python -m frontier.frontd``: the `frontd` command."""

from .cli import main

raise SystemExit(main())
