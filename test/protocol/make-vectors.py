#!/usr/bin/env python3
"""Writes vectors.json: status-packet test vectors built with Python's struct,
the way the system qtstatus replaces packs them, so the TypeScript codec is
checked against an independent encoder; and the email vectors (`emails`), each
address with its verdict under src/protocol/email.ts and the refusal code.
Run: python3 test/protocol/make-vectors.py, then node scripts/protocol-vectors.ts
"""
import json
import os
import struct
import unicodedata


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
    valid("IDN domain as punycode", "user@xn--bcher-kva.example", TS, "127.0.0.1", 80, "the A-label of the one above"),
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
    # Issue #10, defect 2: what a URL parser would have cut off or stripped.
    bad("quoted local part with ESC", pack(b"\"\x1b[31mred\"@example.com", TS, b"127.0.0.1", 1), "invalid_email",
        "Django accepts control characters in quotes; qtstatus refuses them"),
    bad("terminal escapes after a slash", pack("mallory@qt-t\u00e9st.com/\x1b[2J\x1b[H\x1b[32m204 all good".encode(), TS,
                                                 b"127.0.0.1", 1), "invalid_email"),
    bad("a forged line after a slash", pack("a@b\u00e9.co/\nFORGED LINE".encode(), TS, b"127.0.0.1", 1), "invalid_email"),
    bad("a word joiner after the address", pack("valid_user@qt-test.com\u2060".encode(), TS, b"127.0.0.1", 1),
        "invalid_email", "looks exactly like valid_user@qt-test.com"),
    bad("invalid punycode", pack(b"a@xn--zz.example", TS, b"127.0.0.1", 1), "invalid_email"),
    bad("invalid UTF-8 byte", pack(b"a\xff@example.com", TS, b"127.0.0.1", 1), "invalid_utf8"),
    bad("UTF-8 surrogate", pack(b"a\xed\xa0\x80@example.com", TS, b"127.0.0.1", 1), "invalid_utf8"),
    bad("IPv4 octet over 255", pack(b"a@b.cd", TS, b"256.1.1.1", 1), "invalid_ip"),
    bad("host name as IP", pack(b"a@b.cd", TS, b"localhost", 1), "invalid_ip"),
    bad("non-ASCII IP", pack(b"a@b.cd", TS, "1.2.3.\u0664".encode(), 1), "invalid_ip"),
    bad("IP with a newline", pack(b"a@b.cd", TS, b"1.2.3.4\n", 1), "invalid_ip"),
]

# The email rule (src/protocol/email.ts, docs/protocol.md#email-rule): each
# address with the verdict and, when refused, the stable refusal code.
EMAILS = [
    # Accepted: ASCII exactly as Django 5.2's EmailValidator accepts it.
    ("valid_user@qt-test.com", None, ""),
    ("USER@EXAMPLE.COM", None, "case is kept as given, as Django does"),
    ("\"quoted@local\"@example.com", None, "quoted local part"),
    ("\"a\\ b\"@example.com", None, "a quoted-pair space"),
    ("bob@localhost", None, "Django's one allowed bare name"),
    ("user@[192.0.2.1]", None, "address literal"),
    ("user@[2001:db8::1]", None, ""),
    ("user@[::ffff:192.0.2.1]", None, ""),
    ("user@ab--cd.example", None, "an ASCII label with -- is Django's to judge"),
    # Accepted: IDNs already in their canonical form, and their A-labels.
    ("user@b\u00fccher.example", None, "U-label"),
    ("user@xn--bcher-kva.example", None, "its A-label"),
    ("user@fa\u00df.de", None, "non-transitional: \u00df stays"),
    ("user@xn--fa-hia.de", None, ""),
    ("user@\u4f8b\u3048.\u30c6\u30b9\u30c8", None, ""),
    ("user@xn--r8jz45g.xn--zckzah", None, ""),
    ("user@col\u00b7legi.cat", None, "middle dot between two l (RFC 5892 A.3)"),
    ("user@\u05de\u05d1\u05d7\u05df.\u05d9\u05e9\u05e8\u05d0\u05dc", None, "right-to-left labels"),
    ("user@test.\u0440\u0444", None, ""),
    ("user@test.xn--p1ai", None, ""),
    # Refused: the strings, which a URL parser cut or stripped.
    ("mallory@qt-t\u00e9st.com/\x1b[2J\x1b[H\x1b[32m204 all good", "control_character", "issue #10"),
    ("a@b\u00e9.co/\nFORGED LINE", "control_character", "issue #10"),
    ("a@b\u00e9.co/evil", "bad_domain", "what follows / is not ignored"),
    ("a@b\u00e9.co\\evil", "bad_domain", ""),
    ("a@b\u00e9.co?evil", "bad_domain", ""),
    ("a@b\u00e9.co#evil", "bad_domain", ""),
    ("a@b\t\u00e9.co", "control_character", "TAB is not stripped"),
    ("a@b\u00e9.co\r", "control_character", ""),
    ("\"\x1b[31mred\"@example.com", "control_character", "Django accepts it; qtstatus does not"),
    ("\"a\\\tb\"@example.com", "control_character", "nor a quoted-pair TAB"),
    # Refused: invisible, format and bidi-control characters.
    ("valid_user@qt-test.com\u2060", "invisible_character", "word joiner: looks like valid_user@qt-test.com"),
    ("valid_user@qt-test.com\u2061", "invisible_character", ""),
    ("valid_user@qt-test.com\u2062", "invisible_character", ""),
    ("valid_user@qt-test.com\u2063", "invisible_character", ""),
    ("valid_user@qt-test.com\u2064", "invisible_character", ""),
    ("valid_user@qt-te\u00adst.com", "invisible_character", "soft hyphen"),
    ("valid_user@qt-test\u200d.com", "invisible_character", "zero-width joiner"),
    ("valid_user@qt-test\u200c.com", "invisible_character", "zero-width non-joiner"),
    ("valid_user@qt-test.com\ufe0f", "invisible_character", "variation selector 16"),
    ("valid_user@qt-test.com\ufe00", "invisible_character", "variation selector 1"),
    ("valid_user@qt-test.com\u3164", "invisible_character", "Hangul filler"),
    ("valid_user@qt-test.com\u202e", "invisible_character", "right-to-left override"),
    ("valid_user@qt-test.com\u200f", "invisible_character", "right-to-left mark"),
    ("valid_user@qt-test.com\u2066", "invisible_character", "left-to-right isolate"),
    ("valid_user@qt-test.com\u061c", "invisible_character", "Arabic letter mark"),
    # Refused: ASCII that Django 5.2 refuses (the old rule accepted it).
    ("a@example.123", "bad_domain", "the last label has letters only"),
    ("a@b.c1", "bad_domain", ""),
    ("a@b.1c", "bad_domain", ""),
    ("a@123.123.123.123", "bad_domain", "an IPv4 address needs brackets"),
    ("a@b.-c", "bad_domain", ""),
    ("a@example.com.", "bad_domain", "no trailing dot"),
    ("a@LOCALHOST", "bad_domain", "localhost is matched exactly"),
    ("a@[127.0.0.01]", "bad_domain", "no leading zeros (Python's ipaddress)"),
    ("a@[IPv6:::1]", "bad_domain", "no IPv6: tag, as Django"),
    ("\"quoted space\"@example.com", "bad_local_part", "space only as a quoted-pair"),
    ("jos\u00e9@example.com", "bad_local_part", "the local part is ASCII"),
    ("\u017f@example.com", "bad_local_part", "long s: Django's IGNORECASE lets it in"),
    # Refused: A-labels that are not exactly IDNA 2008.
    ("a@xn--zz.example", "bad_a_label", "invalid punycode"),
    ("a@XN--BCHER-KVA.example", "bad_a_label", "an A-label is lowercase"),
    ("a@xn--ab--c.example", "bad_a_label", ""),
    ("a@xn--ls8h.example", "idna_disallowed", "decodes to an emoji"),
    ("a@1.xn--4db.example", "idna_disallowed", "bidi rule across labels (RFC 5893)"),
    ("a@xn---bcher-kva.example", "idna_disallowed", "decodes to -b\u00fccher"),
    ("a@xn--j50i.example", "bad_domain", "Django refuses its U-label (beyond U+FFFF), so both forms are refused"),
    ("a@\U00020000.example", "bad_domain", "beyond U+FFFF, as Django"),
    ("a@i\u03b1.\u3048z", "bad_domain", "Django refuses its A-label form xn--z-87t as a last label"),
    # Refused: non-ASCII domains not written in their one canonical form.
    ("user@B\u00fccher.example", "not_canonical", "UTS #46 would map B to b"),
    ("user@B\u00dcCHER.EXAMPLE", "not_canonical", ""),
    ("user@b\u00fccher.EXAMPLE", "not_canonical", "all of an IDN in lowercase"),
    ("user@bu\u0308cher.example", "not_canonical", "NFD, not NFC"),
    ("user@b\u00fccher\uff0eexample.com", "not_canonical", "fullwidth full stop"),
    ("user@b\u00fccher\u3002example.com", "not_canonical", "ideographic full stop"),
    ("user@\uff45xample.com", "not_canonical", "fullwidth e"),
    ("user@xn--p1ai.\u0440\u0444", "not_canonical", "an A-label beside U-labels"),
    # Refused: what IDNA 2008 disallows.
    ("user@\u2260.example", "idna_disallowed", "a symbol"),
    ("user@a\u00b7b.cat", "idna_disallowed", "middle dot not between two l"),
    ("user@a\u05d0.example", "idna_disallowed", "bidi rule in a label"),
    ("user@1.\u05d0.example", "idna_disallowed", "bidi rule across labels"),
    ("user@\u0301a.example", "idna_disallowed", "a label starting with a combining mark"),
    ("user@\u00fca--x.example", "idna_disallowed", "-- in positions 3 and 4"),
    ("user@b\u00fccher" + "x" * 51 + ".example", "idna_disallowed", "its A-label has 64 characters"),
    ("user@qt-t\u00e9st\u0640.com", "idna_disallowed", "Arabic tatweel"),
]

REFUSALS = {"bad_length", "control_character", "invisible_character", "no_at", "bad_local_part", "bad_domain",
            "bad_a_label", "not_canonical", "idna_disallowed"}


def email_vector(address, reason, note):
    # A cross-check independent of email.ts: nothing accepted carries a
    # control or format character, and every accepted IDN is NFC.
    if reason is None:
        assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in address), address
        assert unicodedata.normalize("NFC", address) == address, address
    else:
        assert reason in REFUSALS, reason
    entry = {"email": address, "ok": reason is None, "note": note}
    if reason is not None:
        entry["reason"] = reason
    return entry


emails = [email_vector(*e) for e in EMAILS]
assert len({e["email"] for e in emails}) == len(emails), "duplicate email vector"

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors.json")
with open(out, "w", encoding="utf-8") as f:
    json.dump({"format": "qtstatus status packet v0", "vectors": vectors, "emails": emails}, f, indent=2, ensure_ascii=True)
    f.write("\n")
print(f"wrote {len(vectors)} packet vectors and {len(emails)} email vectors to {out}")
