"""How many connections the gateway takes, from the descriptors it has.

Each connection is a file descriptor. A gateway that accepts until `accept()` fails with
EMFILE has none left for what keeps it alive: the health probe (so the kubelet restarts a
pod that was merely full), metrics, the control API, frontlas and the brokers. So the
listeners stop accepting before that, with a reserve kept aside:

- At start-up the soft RLIMIT_NOFILE is raised to the hard limit, as the Go runtime does
  (and `daemon.rlimit` sets both, when enabled and permitted).
- The reserve is 5 % of the limit, at least 64 and at most 4096 descriptors.
- Services get a twentieth of the rest (at least 16, at most 1024): they are few backends.
  Edges get everything else; with the WebSocket listener on, the two edge listeners
  share it half and half (a configured side keeps its figure, the other gets the rest).
- An explicit `max_connections` wins; one that does not fit the limit is logged at start.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

from ..geminio.aio.listener import ListenerLimits
from ..geminio.conn_config import ConnectionConfig
from .config import Daemon, Edgebound, Servicebound, WebSocket

__all__ = [
    "ConnectionBudget",
    "bound_settings",
    "connection_budget",
    "raise_nofile_limit",
    "websocket_settings",
]

log = logging.getLogger("frontier.gateway")

RESERVE_MIN = 64
RESERVE_MAX = 4096


def raise_nofile_limit(daemon: Daemon) -> int:
    """Raise the soft descriptor limit as far as allowed; the limit in force after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted_soft, wanted_hard = hard, hard
    if daemon.rlimit.enable and daemon.rlimit.nofile > 0:
        wanted_soft = wanted_hard = daemon.rlimit.nofile
    if (wanted_soft, wanted_hard) != (soft, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted_soft, wanted_hard))
        except (ValueError, OSError) as exc:
            log.warning(
                "cannot set RLIMIT_NOFILE to %d/%d (%s); keeping %d/%d",
                wanted_soft, wanted_hard, exc, soft, hard,
            )  # fmt: skip
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass(frozen=True)
class ConnectionBudget:
    nofile: int
    reserve: int
    edges: int
    services: int
    websocket_edges: int = 0
    """The WebSocket listener's max_connections (0: the listener is off)."""


def connection_budget(
    nofile: int, edgebound: Edgebound, servicebound: Servicebound
) -> ConnectionBudget:
    """Each listener's `max_connections`: the configured one, else its share of `nofile`."""
    reserve = min(RESERVE_MAX, max(RESERVE_MIN, nofile // 20))
    usable = max(nofile - reserve, 2)
    services = servicebound.max_connections or min(1024, max(16, usable // 20))
    rest = max(1, usable - services)
    ws = edgebound.websocket
    websocket = 0
    if not ws.enable:
        edges = edgebound.max_connections or rest
    elif edgebound.max_connections and ws.max_connections:
        edges, websocket = edgebound.max_connections, ws.max_connections
    elif edgebound.max_connections:
        edges = edgebound.max_connections
        websocket = max(1, rest - edges)
    elif ws.max_connections:
        websocket = ws.max_connections
        edges = max(1, rest - websocket)
    else:
        edges = max(1, rest // 2)
        websocket = max(1, rest - edges)
    budget = ConnectionBudget(nofile, reserve, edges, services, websocket)
    if edges + websocket + services + RESERVE_MIN > nofile:
        log.warning(
            "max_connections (edges %d + WebSocket edges %d + services %d) leaves fewer "
            "than %d of %d descriptors for health probes, metrics and brokers: expect "
            "EMFILE when full",
            edges, websocket, services, RESERVE_MIN, nofile,
        )  # fmt: skip
    return budget


def bound_settings(
    bound: Edgebound | Servicebound, max_connections: int
) -> tuple[ListenerLimits, ConnectionConfig]:
    """A listener's limits and its connections' protocol settings from the config."""
    return _settings(bound, bound, max_connections)


def websocket_settings(
    edgebound: Edgebound, max_connections: int
) -> tuple[ListenerLimits, ConnectionConfig]:
    """The WebSocket listener's limits: its own connection caps and deadlines; the edge's
    protocol bounds (streams, heartbeat, meta) are the edgebound ones, as it is the same
    edge."""
    return _settings(edgebound.websocket, edgebound, max_connections)


def _settings(
    listen: Edgebound | Servicebound | WebSocket,
    peer: Edgebound | Servicebound,
    max_connections: int,
) -> tuple[ListenerLimits, ConnectionConfig]:
    """`listen`'s caps and deadlines, `peer`'s protocol bounds."""
    listener = ListenerLimits(
        max_connections=max_connections,
        max_connections_per_ip=listen.max_connections_per_ip or None,
        backlog=listen.backlog or None,
        handshake_timeout=listen.handshake_timeout,
    )
    connection = ConnectionConfig(
        connect_timeout=listen.handshake_timeout,
        write_timeout=listen.write_timeout or None,
        max_heartbeat=peer.max_heartbeat or None,
        max_meta=peer.max_meta,
        max_sessions=peer.max_streams + 1,  # the default session is not a stream
        split_streams=True,  # streams are relayed: pieces go on as read, never joined
    )
    return listener, connection
