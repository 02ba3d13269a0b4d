#!/usr/bin/env python3
"""A tiny authoritative DNS server for tests: answers A queries for names
given on the command line (name=ip) and NXDOMAIN otherwise, over UDP.

usage: dns_server.py HOST PORT name=ip [name=ip ...]
"""
import socket
import struct
import sys


def parse_name(data, off):
    labels = []
    while True:
        n = data[off]
        off += 1
        if n == 0:
            return ".".join(labels).lower(), off
        labels.append(data[off:off + n].decode("ascii", "replace"))
        off += n


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    table = dict(a.split("=", 1) for a in sys.argv[3:])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    while True:
        data, addr = s.recvfrom(512)
        if len(data) < 12:
            continue
        qid, _flags, qd = struct.unpack("!HHH", data[:6])
        if qd < 1:
            continue
        name, end = parse_name(data, 12)
        qtype, _qclass = struct.unpack("!HH", data[end:end + 4])
        question = data[12:end + 4]
        ip = table.get(name)
        if ip and qtype == 1:
            answer = (b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) +
                      socket.inet_aton(ip))
            head = struct.pack("!HHHHHH", qid, 0x8580, 1, 1, 0, 0)
            s.sendto(head + question + answer, addr)
        else:
            rcode = 3 if not ip else 0
            head = struct.pack("!HHHHHH", qid, 0x8580 | rcode, 1, 0, 0, 0)
            s.sendto(head + question, addr)


if __name__ == "__main__":
    main()
