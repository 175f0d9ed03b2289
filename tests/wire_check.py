#!/usr/bin/env python3
"""wire_check.py: a second implementation of the gochan.nats wire format,
written from docs/wire.md alone (Python 3 standard library only).

  wire_check.py decode HEX...    each message -> one line of JSON (below)
  wire_check.py roundtrip HEX... decode then encode again: prints OK if
                                 every message comes back byte for byte
  wire_check.py samples          messages this side wrote, one per line:
                                 NAME HEX

The JSON form of a value: null, true, false, {"int": n}, {"float": "repr"},
{"str": "hex"}, {"chan": "subject"}, {"ref": i} and
{"table": i, "pairs": [[k, v], ...]}; a message is
{"kind": "value"|"error"|"close", "value": ...}. A malformed message prints
{"error": "..."}.
"""
import json
import math
import struct
import sys

KINDS = {0: "value", 1: "error", 2: "close"}
MAX_DEPTH = 1000


class Malformed(Exception):
    pass


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0
        self.ntables = 0

    def byte(self):
        if self.pos >= len(self.data):
            raise Malformed("truncated")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def take(self, n):
        if n > len(self.data) - self.pos:
            raise Malformed("truncated")
        s = self.data[self.pos:self.pos + n]
        self.pos += n
        return s

    def varint(self):
        value, shift = 0, 0
        for i in range(10):
            b = self.byte()
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                if value >= 1 << 64:
                    raise Malformed("varint over 64 bits")
                return value
            shift += 7
        raise Malformed("varint longer than 10 bytes")

    def value(self, depth):
        tag = self.byte()
        if tag == 0:
            return None
        if tag == 1:
            return False
        if tag == 2:
            return True
        if tag == 3:
            return {"int": struct.unpack("<q", self.take(8))[0]}
        if tag == 4:
            return {"float": repr(struct.unpack("<d", self.take(8))[0])}
        if tag == 5:
            return {"str": self.take(self.varint()).hex()}
        if tag == 8:
            n = self.varint()
            return {"chan": self.take(n).decode("utf-8", "surrogateescape")}
        if tag == 7:
            i = self.varint()
            if i >= self.ntables:
                raise Malformed("reference to a table not started")
            return {"ref": i}
        if tag == 6:
            if depth >= MAX_DEPTH:
                raise Malformed("nested too deep")
            n = self.varint()
            index = self.ntables
            self.ntables += 1
            pairs = []
            for _ in range(n):
                if self.pos < len(self.data) and self.data[self.pos] == 0:
                    raise Malformed("nil key")
                k = self.value(depth + 1)
                if isinstance(k, dict) and "float" in k and \
                        math.isnan(float(k["float"])):
                    raise Malformed("NaN key")
                pairs.append([k, self.value(depth + 1)])
            return {"table": index, "pairs": pairs}
        raise Malformed("unknown tag %d" % tag)


def decode(data):
    if len(data) < 2:
        raise Malformed("too short")
    if data[0] != 1:
        raise Malformed("version %d" % data[0])
    if data[1] not in KINDS:
        raise Malformed("kind %d" % data[1])
    kind = KINDS[data[1]]
    if kind == "close":
        if len(data) != 2:
            raise Malformed("bytes after a close")
        return {"kind": kind}
    r = Reader(data)
    r.pos = 2
    v = r.value(0)
    if r.pos != len(data):
        raise Malformed("bytes after the value")
    return {"kind": kind, "value": v}


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_value(v):
    if v is None:
        return b"\x00"
    if v is False:
        return b"\x01"
    if v is True:
        return b"\x02"
    if "int" in v:
        return b"\x03" + struct.pack("<q", v["int"])
    if "float" in v:
        return b"\x04" + struct.pack("<d", float(v["float"]))
    if "str" in v:
        s = bytes.fromhex(v["str"])
        return b"\x05" + varint(len(s)) + s
    if "chan" in v:
        s = v["chan"].encode("utf-8", "surrogateescape")
        return b"\x08" + varint(len(s)) + s
    if "ref" in v:
        return b"\x07" + varint(v["ref"])
    out = b"\x06" + varint(len(v["pairs"]))
    for k, x in v["pairs"]:
        out += encode_value(k) + encode_value(x)
    return out


def encode(msg):
    kind = {"value": 0, "error": 1, "close": 2}[msg["kind"]]
    out = bytes([1, kind])
    if msg["kind"] != "close":
        out += encode_value(msg["value"])
    return out


def s(text):
    return {"str": text.encode().hex()}


def samples():
    """Messages written here, for the C reader (spec/nats_wire_spec.lua)."""
    t0 = {"table": 0, "pairs": [
        [{"int": 1}, s("hi")],
        [s("self"), {"ref": 0}],
        [s("f"), {"float": "0.5"}],
        [s("i"), {"int": -(1 << 63)}],
        [s("yes"), True], [s("no"), False],
        [s("sub"), {"table": 1, "pairs": [[s("x"), {"float": "1.0"}]]}],
        [s("again"), {"ref": 1}],
    ]}
    return [
        ("table", {"kind": "value", "value": t0}),
        ("string", {"kind": "value", "value": {"str": "00ff41"}}),
        ("int", {"kind": "value", "value": {"int": 42}}),
        ("float", {"kind": "value", "value": {"float": "-0.0"}}),
        ("inf", {"kind": "value", "value": {"float": "inf"}}),
        ("nil", {"kind": "value", "value": None}),
        ("error", {"kind": "error", "value": s("boom")}),
        ("close", {"kind": "close"}),
    ]


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "samples":
        for name, msg in samples():
            print(name, encode(msg).hex())
        return 0
    if cmd not in ("decode", "roundtrip"):
        print("unknown command: " + cmd, file=sys.stderr)
        return 2
    status = 0
    for h in args:
        data = bytes.fromhex(h)
        try:
            msg = decode(data)
        except Malformed as e:
            print(json.dumps({"error": str(e)}))
            status = 1
            continue
        if cmd == "decode":
            print(json.dumps(msg, sort_keys=True))
        else:
            again = encode(msg)
            print("OK" if again == data else "DIFFERS " + again.hex())
            if again != data:
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
