"""The rebalancing policy (`gateway.rebalance.shed_count`): when a frontier sheds edges and
how many, as pure arithmetic."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from frontier.gateway.config import ConfigError, Rebalance, parse_config
from frontier.gateway.rebalance import shed_count

ON = Rebalance(enable=True, interval=10.0, tolerance=0.2, min_excess=10, rate=5.0)


@pytest.mark.parametrize(
    ("own", "others", "expected"),
    [
        (200, {"b": 0}, 50),  # 100 above the mean of 100, capped at 5/s x 10 s
        (120, {"b": 80}, 0),  # 20 above the mean of 100: within (1 + 0.2) x the mean
        (130, {"b": 70}, 30),  # 30 above, beyond the tolerance: shed down to the mean
        (14, {"b": 0}, 0),  # 7 above the mean: under min_excess
        (300, {}, 0),  # alone: nowhere to go
        (300, {"b": 300, "c": 0}, 50),  # a third frontier came back empty: mean 200
        (100, {"b": 300, "c": 0}, 0),  # below the mean: the busiest one sheds, not us
    ],
)
def test_shed_count(own: int, others: dict[str, int], expected: int) -> None:
    assert shed_count(own, others, "a", ON) == expected


def test_our_count_is_our_own_not_frontlas_s() -> None:
    """frontlas may lag behind (reports in flight): the local number is the truth."""
    assert shed_count(200, {"a": 0, "b": 0}, "a", ON) == 50
    assert shed_count(0, {"a": 500, "b": 0}, "a", ON) == 0


def test_the_budget_is_at_least_one_edge_per_round() -> None:
    slow = Rebalance(enable=True, interval=1.0, tolerance=0.0, min_excess=1, rate=0.1)
    assert shed_count(100, {"b": 0}, "a", slow) == 1


def test_rebalance_config_keys_and_checks() -> None:
    config = parse_config({"frontlas": {"rebalance": {"enable": True, "rate": 2, "interval": 5}}})
    assert config.frontlas.rebalance == Rebalance(enable=True, interval=5.0, rate=2.0)
    assert config.frontlas.peer_timeout == 50.0
    for bad in ({"rate": 0}, {"tolerance": -1}, {"interval": 0}, {"min_excess": 1.5}):
        with pytest.raises(ConfigError, match="rebalance"):
            parse_config({"frontlas": {"rebalance": bad}})
    with pytest.raises(ConfigError, match="peer_timeout"):
        parse_config({"frontlas": {"peer_timeout": -1}})


def test_the_yaml_in_docs_frontlas_md_is_a_valid_frontier_config() -> None:
    text = (Path(__file__).resolve().parents[3] / "docs" / "frontlas.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        config = parse_config(yaml.safe_load(block))
        assert config.frontlas.rebalance.enable
