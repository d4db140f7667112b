#!/usr/bin/python3
"""ping.py ADDRESS [COUNT]: ICMP (or ICMPv6) echo with a raw socket (the machine has no ping).

Exits 0 when at least one reply came back; prints one line per reply.
Run as root, on the host or inside a lab node (ssh NODE python3 - < ping.py).
"""

import os
import select
import socket
import struct
import sys
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def ping(address, count=3, timeout=2.0):
    replies = 0
    ident = os.getpid() & 0xFFFF
    v6 = ":" in address
    # ICMPv6 (echo 128/129): the kernel computes the checksum and hands over no IP header.
    family, proto, request, reply = ((socket.AF_INET6, socket.IPPROTO_ICMPV6, 128, 129) if v6
                                     else (socket.AF_INET, socket.IPPROTO_ICMP, 8, 0))
    with socket.socket(family, socket.SOCK_RAW, proto) as sock:
        for seq in range(1, count + 1):
            payload = b"vmm-lab-ping"
            header = struct.pack("!BBHHH", request, 0, 0, ident, seq)
            packet = struct.pack("!BBHHH", request, 0, 0 if v6 else checksum(header + payload), ident, seq) + payload
            sent = time.monotonic()
            sock.sendto(packet, (address, 0))
            deadline = sent + timeout
            while time.monotonic() < deadline:
                ready, _, _ = select.select([sock], [], [], deadline - time.monotonic())
                if not ready:
                    break
                data, peer = sock.recvfrom(2048)
                icmp = data if v6 else data[(data[0] & 0x0F) * 4:]
                kind, _code, _sum, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
                if kind == reply and rid == ident and rseq == seq and peer[0] == address:
                    replies += 1
                    print(f"reply from {peer[0]}: seq={seq} time={(time.monotonic() - sent) * 1000:.1f} ms")
                    break
    return replies


if __name__ == "__main__":
    sys.exit(0 if ping(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3) else 1)
