"""Edge IDs a frontier allocates itself must not collide with another frontier's."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from frontier.gateway.frontlas_link import advertised_addr
from frontier.gateway.hooks import CLUSTER_ID_NODES, IdAllocator, cluster_id_node


def test_frontiers_started_together_allocate_disjoint_ids() -> None:
    a = IdAllocator(lambda _: False, cluster_id_node("frontier-a"))
    b = IdAllocator(lambda _: False, cluster_id_node("frontier-b"))
    assert cluster_id_node("frontier-a") != cluster_id_node("frontier-b")
    ids_a = {a() for _ in range(5000)}
    ids_b = {b() for _ in range(5000)}
    assert not ids_a & ids_b
    assert max(ids_a | ids_b) < 2**53  # exact in JSON numbers and JavaScript


@given(st.text(min_size=1, max_size=30))
def test_cluster_ids_stay_in_their_residue_class(frontier_id: str) -> None:
    node = cluster_id_node(frontier_id)
    taken = {0}
    allocate = IdAllocator(lambda i: i in taken, node)
    for _ in range(20):
        edge_id = allocate()
        assert edge_id % CLUSTER_ID_NODES == node
        assert edge_id not in taken
        taken.add(edge_id)


def test_advertised_addresses() -> None:
    assert advertised_addr("lb.example:443", "0.0.0.0:30012", 30012, "fl:40012") == (
        "lb.example:443"
    )
    assert advertised_addr("", "127.0.0.1:0", 41000, "127.0.0.1:40012") == "127.0.0.1:41000"
    # an unspecified host becomes our address on the route to frontlas
    assert advertised_addr("", "0.0.0.0:30011", 30011, "127.0.0.1:40012") == "127.0.0.1:30011"
