"""HTTP routing by host and path, and the access checks of an app."""

from __future__ import annotations

import base64

import pytest

from frontier.tunnel.config import Auth, BasicUser
from frontier.tunnel.routes import (
    RouteTable,
    check_auth,
    check_source,
    normalise_path,
    request_host,
)


def table() -> RouteTable[str]:
    routes: RouteTable[str] = RouteTable()
    routes.add("", "/", "default")
    routes.add("", "/api", "any-api")
    routes.add("*.example.com", "/", "wildcard")
    routes.add("grafana.example.com", "/", "grafana")
    routes.add("grafana.example.com", "/api/v2", "grafana-v2")
    return routes


@pytest.mark.parametrize(
    ("host", "path", "app"),
    [
        ("other.org", "/", "default"),
        ("other.org", "/api", "any-api"),
        ("other.org", "/api/x", "any-api"),
        ("other.org", "/apix", "default"),  # whole segments only
        ("x.example.com", "/api", "wildcard"),  # a host match beats a longer path
        ("example.com", "/", "default"),  # *.example.com is not example.com
        ("grafana.example.com", "/d", "grafana"),
        ("grafana.example.com", "/api/v2/q", "grafana-v2"),
    ],
)
def test_the_most_specific_route_wins(host: str, path: str, app: str) -> None:
    assert table().match(host, path) == app


def test_no_route_and_duplicates() -> None:
    routes: RouteTable[str] = RouteTable()
    routes.add("a.test", "/x/", "x")
    assert routes.match("a.test", "/y") is None
    with pytest.raises(ValueError, match="another app"):
        routes.add("A.test.", "/x", "again")  # the same route, spelled differently
    routes.remove("a.test", "/x")
    assert len(routes) == 0


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("Example.COM:8080", "example.com"),
        ("example.com.", "example.com"),
        ("[::1]:80", "[::1]"),
        (None, ""),
    ],
)
def test_request_host(header: str | None, host: str) -> None:
    assert request_host(header) == host


@pytest.mark.parametrize("bad", ["api", "/a?b", "/a#b"])
def test_paths_must_be_prefixes(bad: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        normalise_path(bad)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_bearer_and_basic_are_alternatives() -> None:
    auth = Auth(bearer_tokens=("t1", "t2"), basic=(BasicUser("ann", "pw"),))
    assert check_auth(auth, "Bearer t2", client_cert=False) is None
    assert check_auth(auth, basic("ann", "pw"), client_cert=False) is None
    missing = check_auth(auth, None, client_cert=False)
    assert missing is not None
    assert (missing.status, missing.reason) == (401, "missing_credentials")
    assert "Bearer" in missing.challenge
    assert "Basic" in missing.challenge
    for header in ("Bearer t3", basic("ann", "no"), basic("bob", "pw"), "Basic !!!", "Digest x"):
        denial = check_auth(auth, header, client_cert=False)
        assert denial is not None
        assert denial.reason == "bad_credentials"


def test_a_client_certificate_is_required_on_its_own() -> None:
    auth = Auth(bearer_tokens=("t",), client_cert=True)
    denial = check_auth(auth, "Bearer t", client_cert=False)
    assert denial is not None
    assert (denial.status, denial.reason) == (403, "client_cert")
    assert check_auth(auth, "Bearer t", client_cert=True) is None
    assert check_auth(Auth(), None, client_cert=False) is None  # no auth: open


def test_client_networks() -> None:
    assert check_source((), "203.0.113.9") is None
    assert check_source(("10.0.0.0/8",), "10.1.2.3") is None
    assert check_source(("10.0.0.0/8",), "::ffff:10.1.2.3") is None
    for peer in ("11.0.0.1", None, "nonsense"):
        denial = check_source(("10.0.0.0/8",), peer)
        assert denial is not None
        assert denial.reason == "source"
