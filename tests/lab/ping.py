#!/usr/bin/python3
"""ping.py ADDRESS [COUNT]: ICMP echo with a raw socket (the machine has no ping).

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
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        for seq in range(1, count + 1):
            payload = b"vmm-lab-ping"
            header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
            packet = struct.pack("!BBHHH", 8, 0, checksum(header + payload), ident, seq) + payload
            sent = time.monotonic()
            sock.sendto(packet, (address, 0))
            deadline = sent + timeout
            while time.monotonic() < deadline:
                ready, _, _ = select.select([sock], [], [], deadline - time.monotonic())
                if not ready:
                    break
                data, (source, _) = sock.recvfrom(2048)
                icmp = data[(data[0] & 0x0F) * 4:]
                kind, _code, _sum, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
                if kind == 0 and rid == ident and rseq == seq and source == address:
                    replies += 1
                    print(f"reply from {source}: seq={seq} time={(time.monotonic() - sent) * 1000:.1f} ms")
                    break
    return replies


if __name__ == "__main__":
    sys.exit(0 if ping(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3) else 1)
