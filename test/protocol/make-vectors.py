#!/usr/bin/env python3
"""Writes vectors.json: status-packet test vectors built with Python's struct,
the way the system qtstatus replaces packs them, so the TypeScript codec is
checked against an independent encoder. Run: python3 test/protocol/make-vectors.py
"""
import json
import os
import struct


def pack(email: bytes, ts: int, ip: bytes, port: int) -> bytes:
    return struct.pack(f">B{len(email)}sQB{len(ip)}sH", len(email), email, ts, len(ip), ip, port)


def valid(name, email, ts, ip, port, note=""):
    raw = pack(email.encode(), ts, ip.encode(), port)
    return {"name": name, "note": note, "hex": raw.hex(),
            "expect": {"ok": True, "email": email, "lastSeenNs": str(ts), "ip": ip, "port": port}}


def bad(name, raw, reason, note=""):
    return {"name": name, "note": note, "hex": raw.hex(), "expect": {"ok": False, "reason": reason}}


TS = 1734700000123456789
long_email = "x" * 64 + "@" + "a" * 63 + "." + "b" * 63 + "." + "c" * 57 + ".com"
assert len(long_email) == 254, len(long_email)
ok = pack(b"valid_user@qt-test.com", TS, b"172.18.0.1", 62453)

vectors = [
    valid("typical IPv4", "valid_user@qt-test.com", TS, "172.18.0.1", 62453),
    valid("IPv6 client", "alice@example.org", TS, "2001:db8::1", 443),
    valid("port 0 means unknown", "alice@example.org", TS, "127.0.0.1", 0),
    valid("port 65535", "alice@example.org", TS, "127.0.0.1", 65535),
    valid("last seen 0", "alice@example.org", 0, "10.0.0.1", 1),
    valid("last seen 2^64-1", "alice@example.org", 2**64 - 1, "10.0.0.1", 1),
    valid("254-byte email", long_email, TS, "192.0.2.7", 5000),
    valid("shortest IPv6 text", "bob@localhost", TS, "::", 7),
    valid("45-byte IPv6 text", "bob@localhost", TS, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 7),
    valid("IDN domain", "user@b\u00fccher.example", TS, "127.0.0.1", 80, "UTF-8 email, domain valid as punycode"),
    valid("quoted local part with ESC", "\"\x1b[31mred\"@example.com", TS, "127.0.0.1", 80,
          "valid by the rule, and must be shown escaped on a terminal"),
    bad("empty datagram", b"", "too_short"),
    bad("13 bytes", ok[:13], "too_short"),
    bad("email length 0", b"\x00" + ok[1:], "bad_email_length"),
    bad("email length 255", b"\xff" + b"a" * 300, "bad_email_length"),
    bad("email runs past the end", b"\x40" + ok[1:], "truncated"),
    bad("IP runs past the end", ok[:-2], "truncated"),
    bad("IP length 0", pack(b"a@b.cd", TS, b"", 1), "bad_ip_length"),
    bad("one trailing byte", ok + b"\x00", "trailing_bytes"),
    bad("1-byte email", pack(b"a", TS, b"127.0.0.1", 1), "invalid_email"),
    bad("not an email", pack(b"not_an_email", TS, b"127.0.0.1", 1), "invalid_email"),
    bad("email with a space", pack(b"a b@example.com", TS, b"127.0.0.1", 1), "invalid_email"),
    bad("non-ASCII local part", pack("jos\u00e9@example.com".encode(), TS, b"127.0.0.1", 1), "invalid_email"),
    bad("invalid UTF-8 byte", pack(b"a\xff@example.com", TS, b"127.0.0.1", 1), "invalid_utf8"),
    bad("UTF-8 surrogate", pack(b"a\xed\xa0\x80@example.com", TS, b"127.0.0.1", 1), "invalid_utf8"),
    bad("IPv4 octet over 255", pack(b"a@b.cd", TS, b"256.1.1.1", 1), "invalid_ip"),
    bad("host name as IP", pack(b"a@b.cd", TS, b"localhost", 1), "invalid_ip"),
    bad("non-ASCII IP", pack(b"a@b.cd", TS, "1.2.3.\u0664".encode(), 1), "invalid_ip"),
    bad("IP with a newline", pack(b"a@b.cd", TS, b"1.2.3.4\n", 1), "invalid_ip"),
]

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors.json")
with open(out, "w", encoding="utf-8") as f:
    json.dump({"format": "qtstatus status packet v0", "vectors": vectors}, f, indent=2, ensure_ascii=True)
    f.write("\n")
print(f"wrote {len(vectors)} vectors to {out}")
