"""A redis.asyncio client for the configured topology: standalone, sentinel or cluster.

The client connects lazily, so frontlas starts (unready) while Redis is down and uses it as
soon as it answers. Standalone uses a *blocking* pool: with the default pool, a burst of
frontier RPCs beyond ``max_connections`` fails with "Too many connections" instead of
waiting for a connection.
"""

from __future__ import annotations

import ssl
from typing import Any

from ..gateway.addr import split_addr
from ..strict_yaml import ConfigError
from .config import RedisConfig
from .repo import CLUSTER_PREFIX, PREFIX

__all__ = ["key_prefix", "make_redis"]

_DEFAULT_POOL = 64


def _host_port(addr: str, where: str) -> tuple[str, int]:
    host, port = split_addr(addr, where)
    return host or "127.0.0.1", port


def key_prefix(config: RedisConfig) -> str:
    return CLUSTER_PREFIX if config.mode == "cluster" else PREFIX


def _connection_kwargs(config: RedisConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "username": config.username or None,
        "password": config.password or None,
        "socket_connect_timeout": config.dial_timeout or 5.0,
        "socket_timeout": config.read_timeout or 3.0,
    }
    if config.clientname:
        kwargs["client_name"] = config.clientname
    if config.protocol in (2, 3):
        kwargs["protocol"] = config.protocol
    return kwargs


def _tls_kwargs(config: RedisConfig) -> dict[str, Any]:
    """redis-py's own TLS settings from our ``tls`` block (it builds the context itself)."""
    tls = config.tls
    if not tls.enable:
        return {}
    if len(tls.ca_certs) > 1:
        raise ConfigError("redis.tls.ca_certs: give one CA bundle file")
    kwargs: dict[str, Any] = {
        "ssl_ca_certs": tls.ca_certs[0] if tls.ca_certs else None,
        "ssl_cert_reqs": ssl.CERT_NONE if tls.insecure_skip_verify else ssl.CERT_REQUIRED,
        "ssl_check_hostname": not tls.insecure_skip_verify,
        "ssl_min_version": ssl.TLSVersion.TLSv1_2,
    }
    if tls.certs:
        kwargs["ssl_certfile"] = tls.certs[0].cert
        kwargs["ssl_keyfile"] = tls.certs[0].key
    return kwargs


def make_redis(config: RedisConfig) -> Any:
    """The client; nothing is dialled until the first command."""
    from redis import asyncio as aioredis
    from redis.asyncio.connection import BlockingConnectionPool, Connection, SSLConnection

    kwargs = _connection_kwargs(config)
    tls = _tls_kwargs(config)
    pool_size = config.pool_size or _DEFAULT_POOL
    if config.mode == "standalone":
        sa = config.standalone
        if sa.network == "unix":
            return aioredis.Redis(unix_socket_path=sa.addr, db=sa.db, **kwargs)
        host, port = _host_port(sa.addr, "redis.standalone.addr")
        pool = BlockingConnectionPool(
            connection_class=SSLConnection if tls else Connection,
            max_connections=pool_size,
            timeout=config.pool_timeout or 5.0,
            host=host,
            port=port,
            db=sa.db,
            health_check_interval=10,
            **kwargs,
            **tls,
        )
        return aioredis.Redis(connection_pool=pool)
    if config.mode == "sentinel":
        from redis.asyncio.sentinel import Sentinel

        se = config.sentinel
        sentinels = [_host_port(a, "redis.sentinel.addrs") for a in se.addrs]
        sentinel_kwargs: dict[str, Any] = {
            "socket_connect_timeout": kwargs["socket_connect_timeout"],
            "socket_timeout": kwargs["socket_timeout"],
        }
        if se.password:
            sentinel_kwargs["password"] = se.password
        extra: dict[str, Any] = {"ssl": True, **tls} if tls else {}
        sentinel = Sentinel(
            sentinels,
            sentinel_kwargs=sentinel_kwargs,
            db=se.db,
            max_connections=pool_size,
            **kwargs,
            **extra,
        )
        if se.replica_only:
            return sentinel.slave_for(se.master_name)
        return sentinel.master_for(se.master_name)
    from redis.asyncio.cluster import ClusterNode, RedisCluster

    cl = config.cluster
    nodes = [ClusterNode(*_host_port(a, "redis.cluster.addrs")) for a in cl.addrs]
    cluster_kwargs: dict[str, Any] = {"max_connections": pool_size}
    if tls:
        cluster_kwargs.update(ssl=True, **tls)
    if cl.max_redirects:
        cluster_kwargs["max_redirects"] = cl.max_redirects
    return RedisCluster(startup_nodes=nodes, **kwargs, **cluster_kwargs)
