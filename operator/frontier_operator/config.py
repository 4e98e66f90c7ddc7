"""Rendering of ``frontier.yaml`` and ``frontlas.yaml`` for a FrontierCluster.

Upstream's operator rendered no config at all: the pods ran the images' baked-in files, so the
edge TLS Secrets it mounted were never used and the control API could not be enabled. Here the
operator owns both files (in ConfigMaps), written with the Go daemons' own key names so either
implementation reads them, and each comes with a checksum that goes on the pod template: a
config change then rolls the pods, which is the only way a running daemon picks it up.

What is per pod (frontier ID, advertised address) or secret (the Redis password) is *not* in
these files; the builders pass it through the environment.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import yaml

from .spec import FRONTD_METRICS_PORT, FRONTIER_METRICS_PORT, FRONTLAS_METRICS_PORT, ClusterSpec

#: Where the ConfigMaps are mounted. Upstream's images read ``/usr/conf/<name>.yaml`` by
#: default, so an upstream image set per CR still finds the file even without our ``--config``.
CONFIG_DIR: Final = "/usr/conf"
FRONTIER_CONFIG_FILE: Final = "frontier.yaml"
FRONTLAS_CONFIG_FILE: Final = "frontlas.yaml"
FRONTD_CONFIG_FILE: Final = "frontd.yaml"

#: Mount points of the edge TLS Secrets (upstream's paths) and the keys read from them.
EDGE_TLS_CERT_DIR: Final = "/app/conf/edgebound/tls/secret"
EDGE_TLS_CA_DIR: Final = "/app/conf/edgebound/tls/ca"
TLS_CERT_KEY: Final = "tls.crt"
TLS_KEY_KEY: Final = "tls.key"
CA_CERT_KEY: Final = "ca.crt"

#: TTLs (seconds) frontlas gives edge and service metadata; upstream's shipped value.
FRONTLAS_META_EXPIRATION: Final = 30


@dataclass(frozen=True)
class RenderedConfig:
    """A config file's name in the ConfigMap, its text, and the sha256 hex of that text."""

    filename: str
    text: str
    checksum: str

    @property
    def path(self) -> str:
        return f"{CONFIG_DIR}/{self.filename}"


def _render(filename: str, header: str, doc: Mapping[str, Any]) -> RenderedConfig:
    body = yaml.safe_dump(dict(doc), sort_keys=False, default_flow_style=False)
    text = f"{header}\n{body}"
    return RenderedConfig(filename, text, hashlib.sha256(text.encode()).hexdigest())


def _header(kind: str, name: str, namespace: str) -> str:
    return (
        f"# {kind} configuration rendered by frontier-operator for FrontierCluster "
        f"{namespace}/{name}.\n# Edits are overwritten: change the FrontierCluster instead."
    )


def frontlas_address(spec: ClusterSpec, name: str, namespace: str) -> str:
    """The frontier-plane address frontier dials: the frontlas Service, namespace-qualified
    (so it resolves whatever the cluster domain is) on the frontier-plane port."""
    svc = spec.names(name).frontlas_service
    return f"{svc}.{namespace}.svc:{spec.frontlas.controlplane.frontier_plane_port}"


def _listen(port: int) -> dict[str, Any]:
    return {"network": "tcp", "addr": f"0.0.0.0:{port}"}


def render_frontier_config(spec: ClusterSpec, name: str, namespace: str) -> RenderedConfig:
    """``frontier.yaml``: listeners (edge TLS pointing at the mounted Secret files; the
    WebSocket listener, when enabled, with the same TLS), control API, frontlas registration
    and observability. Never the servicebound token: it comes from its Secret through
    ``FRONTIER_SERVICEBOUND_TOKEN``."""
    f = spec.frontier
    edge_listen = _listen(f.edgebound.port)
    tls = f.edgebound.tls
    if tls.enabled:
        edge_tls: dict[str, Any] = {
            "enable": True,
            "mtls": tls.mtls,
            "certs": [
                {
                    "cert": f"{EDGE_TLS_CERT_DIR}/{TLS_CERT_KEY}",
                    "key": f"{EDGE_TLS_CERT_DIR}/{TLS_KEY_KEY}",
                }
            ],
        }
        if tls.mtls:
            edge_tls["ca_certs"] = [f"{EDGE_TLS_CA_DIR}/{CA_CERT_KEY}"]
        edge_listen["tls"] = edge_tls
    edgebound: dict[str, Any] = {"listen": edge_listen, "edgeid_alloc_when_no_idservice_on": True}
    ws = f.edgebound.websocket
    if ws.enabled:  # disabled: no key at all, so existing clusters' configs stay byte-identical
        ws_listen = _listen(ws.port)
        if "tls" in edge_listen:
            # wss:// with the edgebound certificate (a copy: a shared dict would be dumped
            # as a YAML anchor and alias)
            ws_listen["tls"] = copy.deepcopy(edge_listen["tls"])
        edgebound["websocket"] = {
            "enable": True,
            "listen": ws_listen,
            "path": ws.path,
            "origins": list(ws.allowed_origins),
            "subprotocol": ws.subprotocol,
            "max_message": ws.max_message_bytes,
        }
    controlplane: dict[str, Any] = {"enable": f.controlplane.enabled}
    if f.controlplane.enabled:
        controlplane["listen"] = _listen(f.controlplane.port)
    doc = {
        "servicebound": {"listen": _listen(f.servicebound.port)},
        "edgebound": edgebound,
        "controlplane": controlplane,
        "frontlas": {
            "enable": True,
            "dial": {"network": "tcp", "addrs": [frontlas_address(spec, name, namespace)]},
        },
        "observability": {"enable": True, "addr": f"0.0.0.0:{FRONTIER_METRICS_PORT}"},
    }
    return _render(FRONTIER_CONFIG_FILE, _header("frontier", name, namespace), doc)


def render_frontlas_config(spec: ClusterSpec, name: str, namespace: str) -> RenderedConfig:
    """``frontlas.yaml``: the two listeners, meta TTLs, Redis topology (never its password,
    which comes from a Secret through ``REDIS_PASSWORD``) and observability."""
    fl = spec.frontlas
    r = fl.redis
    redis: dict[str, Any] = {"mode": r.redis_type}
    if r.user:
        redis["username"] = r.user
    if r.redis_type == "standalone":
        redis["standalone"] = {"network": "tcp", "addr": r.addrs[0], "db": r.db}
    elif r.redis_type == "sentinel":
        redis["sentinel"] = {"addrs": list(r.addrs), "master_name": r.master_name, "db": r.db}
    else:
        redis["cluster"] = {"addrs": list(r.addrs)}
    doc = {
        "control_plane": {"listen": _listen(fl.controlplane.port)},
        "frontier_plane": {
            "listen": _listen(fl.controlplane.frontier_plane_port),
            "expiration": {
                "service_meta": FRONTLAS_META_EXPIRATION,
                "edge_meta": FRONTLAS_META_EXPIRATION,
            },
        },
        "redis": redis,
        "observability": {"enable": True, "addr": f"0.0.0.0:{FRONTLAS_METRICS_PORT}"},
    }
    return _render(FRONTLAS_CONFIG_FILE, _header("frontlas", name, namespace), doc)


def render_frontd_config(
    spec: ClusterSpec, name: str, namespace: str, drain_seconds: int
) -> RenderedConfig:
    """``frontd.yaml``: listener (SO_REUSEPORT workers when asked), allowlist, status
    format, drain and observability; never the secret, which comes from a Secret through
    ``FRONTD_SECRET``."""
    fd = spec.frontd
    assert fd is not None, "no frontd section"
    doc = {
        "listen": {
            "addr": f"0.0.0.0:{fd.port}",
            "reuse": fd.workers > 0,
            "workers": fd.workers,
        },
        "handshake": {"status_format": fd.status_format},
        "backend": {"allow": list(fd.allow)},
        "daemon": {"drain_seconds": drain_seconds},
        "observability": {"enable": True, "addr": f"0.0.0.0:{FRONTD_METRICS_PORT}"},
    }
    return _render(FRONTD_CONFIG_FILE, _header("frontd", name, namespace), doc)


def digest_secrets(secrets: Iterable[Mapping[str, Any]]) -> str:
    """A stable sha256 over the name and data of Secrets a component reads.

    The handlers pass it to the builders, which put it on the pod template, so rotating a TLS
    certificate or the Redis password rolls the pods that read it. Independent of the order
    the Secrets are given in; only ``data`` counts (the API server folds ``stringData`` into it
    and returns no ``stringData``), so metadata churn does not roll pods.
    """
    items = []
    for s in secrets:
        meta = s.get("metadata") or {}
        items.append([meta.get("name", ""), sorted(dict(s.get("data") or {}).items())])
    items.sort(key=lambda item: str(item[0]))
    blob = json.dumps(items, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()
