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
from importlib import metadata
from typing import Any, Final

DEFAULT_LIVENESS: Final = "http://0.0.0.0:8080/healthz"
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS: Final = ("full", "plain", "json")

_EPILOG = """\
environment:
  FRONTIER_IMAGE, FRONTLAS_IMAGE      data-plane images for clusters that name none
  FRONTIER_OPERATOR_RETRY_DELAY       seconds before retrying after an API failure (10)
  FRONTIER_OPERATOR_FRONTLAS_POLL     seconds between frontlas readiness checks (10)
  FRONTIER_OPERATOR_RESYNC_INTERVAL   seconds between full resyncs of each cluster (300)
  FRONTIER_OPERATOR_REQUEST_TIMEOUT   seconds per API request (30)
  FRONTIER_OPERATOR_LOG_LEVEL         default for --log-level
  KUBECONFIG                          used outside a cluster (in a pod: the service account)
"""


def _version() -> str:
    try:
        return metadata.version("frontier-py")
    except metadata.PackageNotFoundError:
        return "unknown"


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
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=os.environ.get("FRONTIER_OPERATOR_LOG_LEVEL", "INFO").upper(),
        help="log level (default INFO)",
    )
    parser.add_argument(
        "--log-format", choices=LOG_FORMATS, default="full", help="log line format (default full)"
    )
    parser.add_argument("--kubeconfig", metavar="PATH", help="kubeconfig file to use")
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context to use")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.log_level not in LOG_LEVELS:
        parser.error(f"unknown log level {args.log_level!r} (FRONTIER_OPERATOR_LOG_LEVEL?)")

    try:
        import kopf

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
            "full": kopf.LogFormat.FULL,
            "plain": kopf.LogFormat.PLAIN,
            "json": kopf.LogFormat.JSON,
        }[args.log_format],
    )
    logging.getLogger().setLevel(args.log_level)

    connection = KubeConnection(
        kubeconfig=args.kubeconfig, context=args.context, request_timeout=config.request_timeout
    )
    registry = make_registry(config=config, connection=connection)
    namespaces: list[str] = args.namespace
    liveness = None if args.liveness.lower() in ("", "none") else args.liveness
    logging.getLogger(__name__).info(
        "frontier-operator %s: %s; images %s, %s",
        _version(),
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
