"""Where webhooks may connect, without a network: the address classes, literal hosts in their
odd spellings, and the resolve-then-check rule (one refused address refuses the host)."""
from __future__ import annotations

import ipaddress
import socket

import pytest

from shared.netguard import AddressRefused, address_problem, literal_ip, resolve_checked, url_problem

ALWAYS = ["169.254.169.254", "169.254.0.1", "fe80::1", "fd00:ec2::254", "100.100.100.200", "192.0.0.192",
          "224.0.0.1", "ff02::1", "0.0.0.0", "0.1.2.3", "::", "240.0.0.1", "255.255.255.255",
          "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1"]
PRIVATE = ["127.0.0.1", "127.8.8.8", "::1", "::ffff:127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.0.1",
           "100.64.0.1", "fc00::1", "fd12:3456::1"]
PUBLIC = ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"]


@pytest.mark.parametrize("address", ALWAYS)
def test_link_local_metadata_multicast_unspecified_and_reserved_are_always_refused(address):
    ip = ipaddress.ip_address(address)
    assert address_problem(ip, allow_private=True) and address_problem(ip, allow_private=False)


@pytest.mark.parametrize("address", PRIVATE)
def test_loopback_and_private_networks_follow_the_setting(address):
    ip = ipaddress.ip_address(address)
    assert address_problem(ip, allow_private=True) is None
    assert address_problem(ip, allow_private=False) in ("a loopback address", "a private-network address")


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address):
    assert address_problem(ipaddress.ip_address(address), allow_private=False) is None


def test_literal_hosts_in_every_spelling_a_resolver_accepts():
    loopback = ipaddress.ip_address("127.0.0.1")
    for host in ("127.0.0.1", "127.1", "0x7f.0.0.1", "2130706433", "017700000001"):
        assert literal_ip(host) == loopback, host
    assert literal_ip("[::1]") == ipaddress.ip_address("::1")
    for host in ("example.com", "1password.com", "localhost", "", None):
        assert literal_ip(host) is None, host


def test_url_problem_names_the_address_and_the_way_out():
    assert url_problem("http://169.254.169.254/latest", allow_private=True) == (
        "refused: 169.254.169.254 is a link-local address (cloud metadata services live there); "
        "webhooks may never reach it")
    assert "SLUICE_WEBHOOK_ALLOW_PRIVATE=true" in url_problem("http://10.1.2.3/", allow_private=False)
    assert url_problem("http://10.1.2.3/", allow_private=True) is None
    assert url_problem("https://hooks.example/in", allow_private=False) is None  # names: at send time
    assert url_problem("http://[::1/", allow_private=False) is None              # malformed: the URL check's job


def fake_resolver(answers: dict[str, list[str]]):
    def resolve(host, port, family=0, type_=0, *rest):
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in answers[host]]
    return resolve


def test_every_resolved_address_is_checked():
    resolve = fake_resolver({"public.test": ["93.184.216.34", "2606:4700:4700::1111"],
                             "mixed.test": ["93.184.216.34", "127.0.0.1"],
                             "meta.test": ["169.254.169.254"], "lan.test": ["10.0.0.7", "10.0.0.7"]})
    assert resolve_checked("public.test", 443, allow_private=False, resolve=resolve) == [
        "93.184.216.34", "2606:4700:4700::1111"]
    # one inside address among public ones refuses the host: a name that points inside is not trusted
    with pytest.raises(AddressRefused, match=r"mixed\.test resolves to 127\.0\.0\.1, which is a loopback"):
        resolve_checked("mixed.test", 80, allow_private=False, resolve=resolve)
    assert resolve_checked("mixed.test", 80, allow_private=True, resolve=resolve) == ["93.184.216.34", "127.0.0.1"]
    with pytest.raises(AddressRefused, match="webhooks may never reach it"):
        resolve_checked("meta.test", 80, allow_private=True, resolve=resolve)
    assert resolve_checked("lan.test", 80, allow_private=True, resolve=resolve) == ["10.0.0.7"]
    with pytest.raises(socket.gaierror):  # an unknown name stays a (retryable) resolution error
        resolve_checked("nowhere.test", 80, allow_private=True, resolve=resolve)


def test_localhost_resolves_to_a_refused_address():
    with pytest.raises(AddressRefused, match="localhost resolves to"):
        resolve_checked("localhost", 80, allow_private=False)
    assert resolve_checked("localhost", 80, allow_private=True)


def test_through_a_proxy_the_target_name_is_still_checked(monkeypatch):
    from shared.netguard import guarded_session

    # The proxy would resolve and connect itself; the guard checks the name before handing over.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    with guarded_session(False) as session, pytest.raises(AddressRefused, match="localhost resolves to"):
        session.post("http://localhost:8080/hook", data=b"{}", timeout=2)
