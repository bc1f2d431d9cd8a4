"""Which client sent a request, as far as the infrastructure in front of the function can vouch for it.

Google's front ends append the address they received the connection from to `X-Forwarded-For`; whatever the
client wrote there itself comes before. So the trustworthy entry is the one `trusted_hops` places from the right:
1 behind Cloud Run's own front end, 2 behind an external HTTPS load balancer (which appends its own address
too). With 0, or without the header, the socket's peer address is used (the local stack).
"""

from __future__ import annotations


def client_address(forwarded_for: str | None, remote_addr: str | None, *, trusted_hops: int) -> str:
    entries = [part.strip() for part in (forwarded_for or "").split(",") if part.strip()]
    if trusted_hops > 0 and entries:
        return entries[-trusted_hops] if len(entries) >= trusted_hops else entries[0]
    return remote_addr or "unknown"
