"""``python -m frontier_operator.uninstall``: refuse to uninstall while FrontierClusters exist.

The operator's finalizer (``frontier.singchia.io/finalizer``) is released by the operator
only: removed before its clusters, a FrontierCluster deleted later waits for it forever, and
so does its namespace. The operator chart runs this as a ``pre-delete`` hook Job, under the
operator's ServiceAccount: it lists the FrontierClusters in the namespaces the operator serves
and exits 1 naming them (``helm uninstall`` then fails and deletes nothing), or 0 when there
are none. Exit 2: it could not tell (the API failed), which also stops the uninstall.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from .settings import FINALIZER

GROUP, VERSION, PLURAL = "frontier.singchia.io", "v1alpha1", "frontierclusters"


def remaining_clusters(namespaces: Sequence[str], kubeconfig: str | None = None) -> list[str]:
    """``namespace/name`` of every FrontierCluster in ``namespaces`` (all when empty)."""
    import kubernetes.client

    from .kube import KubeConnection

    api = kubernetes.client.CustomObjectsApi(
        kubernetes.client.ApiClient(KubeConnection(kubeconfig=kubeconfig).configuration())
    )
    listed: list[Any] = (
        [api.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL) for ns in namespaces]
        if namespaces
        else [api.list_cluster_custom_object(GROUP, VERSION, PLURAL)]
    )
    items = [item for page in listed for item in page["items"]]
    return sorted(f"{i['metadata']['namespace']}/{i['metadata']['name']}" for i in items)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m frontier_operator.uninstall",
        description="Exit 1 while FrontierClusters exist in the served namespaces.",
    )
    parser.add_argument(
        "-n", "--namespace", action="append", default=[], metavar="NS",
        help="a namespace the operator serves (repeatable; none: the whole cluster)",
    )  # fmt: skip
    parser.add_argument("--kubeconfig", metavar="PATH", help="default: in-cluster, $KUBECONFIG")
    args = parser.parse_args(argv)
    try:
        clusters = remaining_clusters(args.namespace, args.kubeconfig)
    except Exception as exc:
        print(f"cannot list FrontierClusters, refusing to uninstall: {exc}", file=sys.stderr)
        return 2
    if not clusters:
        print("no FrontierCluster left: the operator can be uninstalled")
        return 0
    print(
        f"refusing to uninstall frontier-operator: {len(clusters)} FrontierCluster(s) still "
        f"exist ({', '.join(clusters)}). Their finalizer {FINALIZER} is released only by the "
        "operator: delete them first (kubectl delete frontierclusters --all -n <namespace>), "
        "or keep them unmanaged with `helm uninstall --no-hooks` and remove the finalizer "
        "from each (docs/deploy.md, Uninstalling).",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
