"""ICE for the api's peers: the host addresses they offer and the STUN
servers they ask.

aioice offers every address of the machine's interfaces except loopback
(``aioice.ice.get_host_addresses``), and nothing else. On a machine whose
only interface is loopback (an isolated network namespace, some CI
runners) no candidate exists at all, and a client on the same machine
cannot reach a peer that offers only an outside address in some setups. So
the addresses are a setting: ``FABULA_RTC_HOST_ADDRESSES`` (comma-separated,
e.g. ``127.0.0.1`` for loopback-only tests); empty keeps aioice's choice
and falls back to ``127.0.0.1`` when that finds nothing.

aioice reads the addresses through that one module function when a peer
gathers its candidates, so ``offer_host_addresses`` installs a replacement
once per process; it applies to every peer the process makes (the api makes
all of its peers with the same settings)."""

from __future__ import annotations

import ipaddress

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

from core.settings import Settings

LOOPBACK = "127.0.0.1"

_aioice_choice = aioice.ice.get_host_addresses
_configured: list[str] = []


def parse_addresses(text: str) -> list[str]:
    """The addresses of a comma-separated setting; ValueError naming a bad one."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if part:
            out.append(str(ipaddress.ip_address(part)))
    return out


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    if _configured:
        return [a for a in _configured if (use_ipv4 if ipaddress.ip_address(a).version == 4 else use_ipv6)]
    found = _aioice_choice(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
    return found or ([LOOPBACK] if use_ipv4 else [])


def offer_host_addresses(addresses: list[str]) -> None:
    """Offer ``addresses`` (empty: the machine's, or loopback) from every peer this process makes."""
    _configured[:] = addresses
    aioice.ice.get_host_addresses = _host_addresses


def configure(settings: Settings) -> RTCConfiguration:
    """Apply ``settings``' host addresses; the configuration a new peer is made with."""
    offer_host_addresses(parse_addresses(settings.rtc_host_addresses))
    servers = [url.strip() for url in settings.rtc_ice_servers.split(",") if url.strip()]
    # an empty list, not None: aiortc's default asks a public STUN server
    return RTCConfiguration(iceServers=[RTCIceServer(urls=url) for url in servers])
