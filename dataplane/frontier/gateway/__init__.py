"""The frontier gateway: edgebound and servicebound listeners joined by the exchange."""

from .app import Gateway, split_addr
from .config import ConfigError, FrontierConfig, load_config, parse_config

__all__ = ["ConfigError", "FrontierConfig", "Gateway", "load_config", "parse_config", "split_addr"]
