#!/usr/bin/env python3
# A synthetic capture for the response side's throughput: CONNS connections, each EXCHANGES
# keep-alive exchanges of a ~400-byte browser-like GET and a ~1 KB answer (a ~160-byte head,
# an 816-byte body), each acknowledged by the client; Ethernet, IPv4, TCP, classic pcap.
#
#   bench/synthetic-responses.py OUT.pcap CONNS EXCHANGES
#   cargo bench -p replayer --bench capture -- --responses OUT.pcap 80   (pairs_per_s=...)
#
# Deterministic: the same arguments write the same file.
import struct
import sys

out, conns, exch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
f = open(out, "wb")
f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
ts = [1_700_000_000_000_000]
def frame(src, dst, sport, dport, seq, ack, flags, payload):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff, 0x50, flags, 65535, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 1, 0x4000, 64, 6, 0, bytes(src), bytes(dst))
    eth = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00"
    data = eth + ip + tcp + payload
    ts[0] += 10
    f.write(struct.pack("<IIII", ts[0] // 1_000_000, ts[0] % 1_000_000, len(data), len(data)))
    f.write(data)
req_tpl = ("GET /government/publications/some-report?page={i} HTTP/1.1\r\nHost: www.example.org\r\n"
           "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
           "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
           "Accept-Language: en-GB,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n"
           "Cookie: _ga=GA1.3.123456789.1700000000; cookies_policy=%7B%22essential%22%3Atrue%7D\r\n\r\n")
body = (b"<p>" + b"x" * 40 + b"</p>\n") * 17
resp = (b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Thu, 03 Dec 2026 17:00:00 GMT\r\n"
        b"Content-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\nConnection: keep-alive\r\n\r\n" % len(body)) + body
S, A, SA, PA, F = 0x02, 0x10, 0x12, 0x18, 0x11
state = []
for c in range(conns):
    cli = (10, 0, (c >> 8) & 255, c & 255); srv = (10, 1, 0, 1); cp = 20000 + c % 40000
    state.append([cli, srv, cp, 1000, 50000])
    frame(cli, srv, cp, 80, 999, 0, S, b""); frame(srv, cli, 80, cp, 49999, 1000, SA, b""); frame(cli, srv, cp, 80, 1000, 50000, A, b"")
for i in range(exch):
    for st in state:
        cli, srv, cp, cs, ss = st
        req = req_tpl.format(i=i).encode()
        frame(cli, srv, cp, 80, cs, ss, PA, req); cs += len(req)
        frame(srv, cli, 80, cp, ss, cs, PA, resp); ss += len(resp)
        frame(cli, srv, cp, 80, cs, ss, A, b"")
        st[3], st[4] = cs, ss
for cli, srv, cp, cs, ss in state:
    frame(cli, srv, cp, 80, cs, ss, F, b""); frame(srv, cli, 80, cp, ss, cs + 1, F | A, b"")
f.close()
print(len(body), len(resp))
