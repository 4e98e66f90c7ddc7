"""The ``frontier-operator`` command: kopf with this operator's handlers and settings.

kopf and the Kubernetes client are imported only after the arguments are parsed, so
``--help`` and argument errors work without the ``operator`` extra installed.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Sequence
from typing import Any, Final

from frontier.cli_flags import add_log_flags, add_version_flag, choice
from frontier.version import package_version

DEFAULT_LIVENESS: Final = "http://0.0.0.0:8080/healthz"
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS: Final = ("text", "json", "plain")
"""``text`` is kopf's full format (time, logger, level, message; ``full`` is accepted too),
``plain`` the message only; the names shared with frontier and frontlas mean the same."""

_EPILOG = """\
environment:
  FRONTIER_IMAGE, FRONTLAS_IMAGE      data-plane images for clusters that name none
  FRONTD_IMAGE                        likewise, for clusters with a frontd section
  FRONTIER_OPERATOR_RETRY_DELAY       seconds before retrying after an API failure (10)
  FRONTIER_OPERATOR_FRONTLAS_POLL     seconds between frontlas readiness checks (10)
  FRONTIER_OPERATOR_RESYNC_INTERVAL   seconds between full resyncs of each cluster (300)
  FRONTIER_OPERATOR_REQUEST_TIMEOUT   seconds per API request (30)
  FRONTIER_OPERATOR_LOG_LEVEL         default for --log-level
  KUBECONFIG                          used outside a cluster (in a pod: the service account)
"""


def _identity() -> Any:
    """The operator's identity for kopf: the pod's name when known (kopf's ``POD_ID``), else
    host and pid. kopf's own default asks ``getpass.getuser()``, which raises KeyError for a
    UID with no passwd entry, such as the images' 65532: the operator pod crashed on start."""
    return os.environ.get("POD_ID") or f"frontier-operator@{socket.gethostname()}/{os.getpid()}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="frontier-operator",
        description="Reconcile FrontierCluster resources (frontier.singchia.io/v1alpha1) into "
        "frontier gateways and their frontlas coordinator.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="serve only this namespace (repeatable; kopf's glob patterns allowed)",
    )
    scope.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="serve the whole cluster (the default when no --namespace is given)",
    )
    parser.add_argument(
        "--liveness",
        default=DEFAULT_LIVENESS,
        metavar="URL",
        help=f"liveness endpoint to serve (default {DEFAULT_LIVENESS}; 'none' disables it)",
    )
    add_log_flags(
        parser,
        level_type=_LOG_LEVEL,
        level_default=os.environ.get("FRONTIER_OPERATOR_LOG_LEVEL", "INFO"),
        level_help="; default info (env FRONTIER_OPERATOR_LOG_LEVEL)",
        formats=LOG_FORMATS,
        format_aliases={"full": "text"},
        format_default="text",
        format_help="; default text (kopf's full format; plain: the message only)",
    )
    parser.add_argument("--kubeconfig", metavar="PATH", help="kubeconfig file to use")
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context to use")
    add_version_flag(parser)
    return parser


_LOG_LEVEL = choice(LOG_LEVELS, {"WARN": "WARNING"})
"""Upper-case canonical names (kopf's and logging's); any case is accepted."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    try:
        import kopf
        import kubernetes.config

        from .handlers import make_registry
        from .kube import KubeConnection
        from .settings import OperatorConfig, make_settings
    except ImportError as exc:
        hint = "install the operator extra: pip install 'frontier-py[operator]'"
        print(f"frontier-operator: {exc}; {hint}", file=sys.stderr)
        return 2

    try:
        config = OperatorConfig.from_env()
    except ValueError as exc:
        parser.error(str(exc))

    kopf.configure(
        debug=args.log_level == "DEBUG",
        quiet=args.log_level in ("WARNING", "ERROR"),
        log_format={
            "text": kopf.LogFormat.FULL,
            "plain": kopf.LogFormat.PLAIN,
            "json": kopf.LogFormat.JSON,
        }[args.log_format],
    )
    logging.getLogger().setLevel(args.log_level)

    connection = KubeConnection(
        kubeconfig=args.kubeconfig, context=args.context, request_timeout=config.request_timeout
    )
    try:
        connection.configuration()  # kopf would retry a login that cannot work, forever
    except (kubernetes.config.ConfigException, OSError) as exc:
        print(f"frontier-operator: no Kubernetes credentials: {exc}", file=sys.stderr)
        return 1
    registry = make_registry(config=config, connection=connection)
    namespaces: list[str] = args.namespace
    liveness = None if args.liveness.lower() in ("", "none") else args.liveness
    logging.getLogger(__name__).info(
        "frontier-operator %s: %s; images %s, %s",
        package_version(),
        f"namespaces {', '.join(namespaces)}" if namespaces else "all namespaces",
        config.images.frontier,
        config.images.frontlas,
    )
    kopf.run(
        identity=_identity(),
        registry=registry,
        settings=make_settings(config, namespaces),
        standalone=True,
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=liveness,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
