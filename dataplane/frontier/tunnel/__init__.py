"""frontier-tunnel: reach TCP, HTTP and WebSocket apps behind an edge, with no inbound port.

A **connector** (``frontier-tunnel connect``) runs on the private network as an edge of a
frontier gateway: it only dials out. The **entry** (``frontier-tunnel serve``) is a
service on the same gateway that publishes apps: a TCP listener per TCP app, an aiohttp
reverse proxy (WebSockets included) for HTTP apps. Each user connection becomes a geminio
stream from the entry to the connector's edge ID, which the connector relays to the app
if its allowlist says so. docs/tunnel.md has the walkthrough, the trust model and the
reference.

Sans-I/O parts: `wire` (requests, frames, flow control, proofs), `allow` (the connector's
allowlist), `routes` (HTTP routing and access checks), the fingerprinting in `scan`.
asyncio: `relay` (a socket <-> a stream), `connector`, `tunnels` (the entry's directory of
connectors and tunnel opening), `apps` (listeners), `http_front`, `scans`, `entry`, `api`,
`cli`.
"""

from .config import ConnectorConfig, EntryConfig
from .wire import connector_edge_id

__all__ = ["ConnectorConfig", "EntryConfig", "connector_edge_id"]
