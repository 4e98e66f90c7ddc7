"""The frontier gateway: edgebound, servicebound, exchange, control API and metrics."""
