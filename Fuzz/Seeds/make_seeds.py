#!/usr/bin/env python3
"""Writes the hand-made seed inputs of the fuzz targets (Fuzz/<Target>/) into OUT/<Target>/.

    python3 Fuzz/Seeds/make_seeds.py OUT

scripts/fuzz.sh runs it before fuzzing; the campaign's corpora, minimised, are committed under
Fuzz/Corpora/<Target>/ and already contain what these seeds led to. Each seed is a valid (or
nearly valid) input in the layout the target's Properties file describes, so libFuzzer starts
from deep inside the parser instead of from random bytes.
"""
import gzip
import hashlib
import io
import json
import os
import struct
import sys
import tarfile

OUT = sys.argv[1]


def write(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    with open(os.path.join(OUT, target, "seed-" + name), "wb") as f:
        f.write(bytes(data))


# --- the distribution handshake -------------------------------------------------------------

NUMBAT_FLAGS = (0x4 | 0x10 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x20000 | 0x40000 | 0x1000000  # mandatory 25
                | (1 << 34) | 0x2000000  # mandatory 26
                | 0x8 | 0x20 | 0x2000 | 0x4000 | 0x80000 | 0x100000 | 0x400000 | 0x800000 | (1 << 32) | (1 << 35)
                | 0x1000 | 0x4000000)
OUR_CHALLENGE = 0x0A0B0C0D
PEER_CHALLENGE = 0x01020304


def md5(cookie, challenge):
    return hashlib.md5((cookie + str(challenge)).encode()).digest()


def frame2(message):
    return struct.pack(">H", len(message)) + message


def name16(name):
    return struct.pack(">H", len(name)) + name.encode()


def send_name(name, flags=NUMBAT_FLAGS, creation=3):
    return b"N" + struct.pack(">QI", flags, creation) + name16(name)


def challenge(name, flags=NUMBAT_FLAGS, creation=5):
    return b"N" + struct.pack(">QII", flags, PEER_CHALLENGE, creation) + name16(name)


H = "HandshakeFuzz"
write(H, "initiator-ok", b"\x00" + frame2(b"sok") + frame2(challenge("peer@fuzz")) + frame2(b"a" + md5("fuzzcookie", OUR_CHALLENGE)))
write(H, "initiator-alive", b"\x00" + frame2(b"salive") + frame2(challenge("peer@fuzz")) + frame2(b"a" + md5("wrong", OUR_CHALLENGE)))
write(H, "initiator-nok", b"\x00" + frame2(b"snok"))
write(H, "initiator-wrong-peer", b"\x00" + frame2(b"sok_simultaneous") + frame2(challenge("other@fuzz")))
write(H, "initiator-old-flags", b"\x00" + frame2(b"sok") + frame2(challenge("peer@fuzz", flags=0x4 | 0x4000000 | 0x2000000)))
write(H, "acceptor-ok", b"\x01" + frame2(send_name("peer@fuzz")) + frame2(b"r" + struct.pack(">I", PEER_CHALLENGE) + md5("fuzzcookie", OUR_CHALLENGE)))
write(H, "acceptor-special", b"\x01" + frame2(send_name("special@fuzz.example")) + frame2(b"r" + struct.pack(">I", PEER_CHALLENGE) + md5("special-cookie", OUR_CHALLENGE)) + frame2(b"a"))
write(H, "acceptor-bad-name", b"\x01" + frame2(send_name("no-at-sign")))
write(H, "acceptor-v5", b"\x01" + frame2(b"n\x00\x05" + struct.pack(">I", 0x7499C) + b"peer@fuzz"))
write(H, "acceptor-missing-flags", b"\x01" + frame2(send_name("peer@fuzz", flags=0x4)))
write(H, "pair-ok", b"\x02" + struct.pack(">QQ", NUMBAT_FLAGS, NUMBAT_FLAGS) + b"\x00" + b"client@fuzz")
write(H, "pair-cookie", b"\x02" + struct.pack(">QQ", NUMBAT_FLAGS, NUMBAT_FLAGS) + b"\x01" + b"client@fuzz")
write(H, "pair-digest-flag", b"\x02" + struct.pack(">QQ", 0x4000000 | 0x2000000, NUMBAT_FLAGS) + b"\x00" + b"c@h.example")

# --- external term format, for the frame receiver ----------------------------------------------


def atom(text):
    b = text.encode()
    return bytes([119, len(b)]) + b


def small_int(n):
    return bytes([97, n])


def tuple_(*elements):
    return bytes([104, len(elements)]) + b"".join(elements)


def pid(node="peer@fuzz", id_=7, serial=0, creation=5):
    return bytes([88]) + atom(node) + struct.pack(">III", id_, serial, creation)


def ref(node="peer@fuzz", creation=5, ids=(1, 2, 3)):
    return bytes([90]) + struct.pack(">H", len(ids)) + atom(node) + struct.pack(">I", creation) + b"".join(struct.pack(">I", i) for i in ids)


def binary(data):
    return bytes([109]) + struct.pack(">I", len(data)) + data


def string_list(text):
    return bytes([107]) + struct.pack(">H", len(text)) + text.encode()


def frame4(body):
    return struct.pack(">I", len(body)) + body


NO_CACHE = bytes([131, 68, 0])
F = "FrameReceiverFuzz"
reg_send = tuple_(small_int(6), pid(), atom(""), atom("numbat_agent"))
payload = tuple_(atom("call"), ref(), binary(b"hello"), string_list("abc"))
write(F, "reg-send", b"\x00" + frame4(NO_CACHE + reg_send + payload))
write(F, "ticks-and-send", b"\x02" + frame4(b"") + frame4(NO_CACHE + tuple_(small_int(22), pid(), pid(id_=9)) + atom("ping")) + frame4(b""))
write(F, "link-exit", b"\x00" + frame4(NO_CACHE + tuple_(small_int(1), pid(), pid(id_=9)))
      + frame4(NO_CACHE + tuple_(small_int(3), pid(), pid(id_=9), atom("normal")))
      + frame4(NO_CACHE + tuple_(small_int(24), pid(), pid(id_=9)) + atom("killed")))
write(F, "monitor", b"\x00" + frame4(NO_CACHE + tuple_(small_int(19), pid(), atom("kernel"), ref()))
      + frame4(NO_CACHE + tuple_(small_int(21), atom("kernel"), pid(), ref(), atom("noproc"))))
write(F, "spawn", b"\x00" + frame4(NO_CACHE + tuple_(small_int(29), ref(), pid(), pid(id_=1), tuple_(atom("erlang"), atom("node"), small_int(0)), bytes([106])) + bytes([106]))
      + frame4(NO_CACHE + tuple_(small_int(31), ref(), pid(), small_int(0), pid(id_=12))))
write(F, "unlink-id", b"\x00" + frame4(NO_CACHE + tuple_(small_int(35), small_int(4), pid(), pid(id_=9)))
      + frame4(NO_CACHE + tuple_(small_int(36), small_int(4), pid(), pid(id_=9))))
write(F, "alias-group-leader", b"\x00" + frame4(NO_CACHE + tuple_(small_int(33), pid(), ref()) + atom("hi"))
      + frame4(NO_CACHE + tuple_(small_int(7), pid(), pid(id_=9))))
# An atom cache header: two new entries (slots 3 and 0x105), then a frame reusing slot 3.
flags = bytes([0x8 | 0x0 | ((0x8 | 0x1) << 4), 0x0])  # entry 0: new, segment 0; entry 1: new, segment 1; short atoms
cache_header = bytes([131, 68, 2]) + flags + bytes([3, 4]) + b"send" + bytes([5, 6]) + b"kernel"
write(F, "atom-cache", b"\x00" + frame4(cache_header + tuple_(small_int(6), pid(), atom(""), bytes([82, 1])) + bytes([82, 0]))
      + frame4(bytes([131, 68, 1, 0x0, 3]) + tuple_(small_int(6), pid(), atom(""), bytes([82, 0])) + atom("again")))
long_flags = bytes([0x18])  # one new entry (low nibble), long atoms (the next nibble)
write(F, "atom-cache-long", b"\x00" + frame4(bytes([131, 68, 1]) + long_flags + bytes([9]) + struct.pack(">H", 5) + b"hello" + tuple_(small_int(6), pid(), atom(""), bytes([82, 0])) + atom("x")))
# A fragmented message: the first fragment (131, 69) with the atom cache, then a continuation.
body = tuple_(small_int(6), pid(), atom(""), atom("numbat_agent")) + binary(b"x" * 40)
seq = struct.pack(">Q", 77)
write(F, "fragments", b"\x01" + frame4(bytes([131, 69]) + seq + struct.pack(">Q", 2) + bytes([0]) + body[:30])
      + frame4(bytes([131, 70]) + seq + struct.pack(">Q", 1) + body[30:]))
write(F, "fragments-reversed", b"\x03" + frame4(bytes([131, 70]) + seq + struct.pack(">Q", 1) + body[30:])
      + frame4(bytes([131, 69]) + seq + struct.pack(">Q", 2) + bytes([0]) + body[:30]))
write(F, "fragment-single", b"\x00" + frame4(bytes([131, 69]) + seq + struct.pack(">Q", 1) + bytes([0]) + body))
write(F, "fragments-stalled", b"\x03" + frame4(bytes([131, 69]) + seq + struct.pack(">Q", 3) + bytes([0]) + body[:30])
      + frame4(b"") + frame4(NO_CACHE + tuple_(small_int(1), pid(), pid())) + frame4(NO_CACHE + tuple_(small_int(1), pid(), pid()))
      + frame4(NO_CACHE + tuple_(small_int(1), pid(), pid())) + frame4(bytes([131, 70]) + seq + struct.pack(">Q", 1) + body[30:]))
write(F, "pass-through", b"\x00" + frame4(bytes([112, 131]) + tuple_(small_int(2), atom(""), pid()) + bytes([131]) + atom("msg")))

# --- EPMD ------------------------------------------------------------------------------------------

E = "EPMDFuzz"
write(E, "port2-resp", bytes([119, 0]) + struct.pack(">H", 40000) + bytes([77, 0]) + struct.pack(">HH", 6, 5) + name16("peer") + b"\x00\x00")
write(E, "port2-resp-missing", bytes([119, 1]))
write(E, "names-resp", struct.pack(">I", 4369) + b"name peer at port 40000\nname numbat at port 40001\n")
write(E, "alive2-x-resp", bytes([118, 0]) + struct.pack(">I", 1700000000))
write(E, "alive2-resp", bytes([121, 0]) + struct.pack(">H", 3))
write(E, "alive2-refused", bytes([118, 1, 0, 0, 0, 0]))
write(E, "requests", frame2(bytes([122]) + b"peer") + frame2(bytes([110])) + frame2(bytes([120]) + b"\x9c\x40"))

# --- release archives ------------------------------------------------------------------------------


def tar_bytes(members, fmt=tarfile.USTAR_FORMAT):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif isinstance(content, tuple):
                info.type = tarfile.SYMTYPE
                info.linkname = content[0]
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    data = buffer.getvalue()
    # tarfile pads to 10 KiB records; the reader stops at the first zero block.
    end = len(data)
    while end >= 512 and data[end - 512:end] == bytes(512):
        end -= 512
    return data[:end] + bytes(512)


release = [
    ("releases/1.0/app.rel", b'{release,{"app","1.0"},{erts,"13.0"},[]}.'),
    ("releases/1.0/start.boot", b"\x83j"),
    ("releases/1.0/vm.args", b"-name app@host\n"),
    ("lib/app-1.0/ebin/app.app", b"{application,app,[]}."),
]
R = "ReleaseArchiveFuzz"
plain = tar_bytes(release)
# config: bits 0-1 mode, bits 2-4 chunk size index, bit 6 fixes checksums up, bit 7 asks for the vm.args template.
write(R, "tar-release", bytes([0 | (2 << 2)]) + plain)
write(R, "tar-release-bytewise", bytes([0 | (0 << 2)]) + plain)
write(R, "gzip-release", bytes([1 | (4 << 2) | 0x80]) + plain)
write(R, "gzip-release-small-chunks", bytes([1 | (1 << 2)]) + plain)
write(R, "upload-release", bytes([2 | (3 << 2) | 0x80]) + gzip.compress(plain, mtime=0))
write(R, "tar-gnu-long-name", bytes([0 | (5 << 2)]) + tar_bytes([("lib/" + "x" * 120 + "/ebin/a.app", b"{}"), ("erts-13/", None)], tarfile.GNU_FORMAT))
write(R, "tar-pax", bytes([0 | (6 << 2)]) + tar_bytes([("releases/1.0/" + "é" * 60 + ".rel", b"x"), ("lib/l", ("../x",))], tarfile.PAX_FORMAT))
write(R, "tar-dotdot", bytes([0]) + tar_bytes([("./a/../../b", b"x")]))
write(R, "gzip-not-release", bytes([1 | (7 << 2)]) + tar_bytes([("README", b"hello")]))
# The same archives with the checksum fix-up bit, so mutated headers are read.
write(R, "tar-release-fixed", bytes([0 | (1 << 2) | 0x40]) + plain)
write(R, "tar-pax-fixed", bytes([0 | (0 << 2) | 0x40]) + tar_bytes([("releases/1.0/" + "a" * 100 + ".rel", b"x")], tarfile.PAX_FORMAT))
write(R, "tar-gnu-fixed", bytes([0 | (2 << 2) | 0x40]) + tar_bytes([("lib/" + "x" * 120 + "/ebin/a.app", b"{}")], tarfile.GNU_FORMAT))
write(R, "gzip-release-fixed", bytes([1 | (3 << 2) | 0x40 | 0x80]) + plain)

# --- JSON bodies ---------------------------------------------------------------------------------

bodies = [
    ("AddNodeRequest", {"node": "app@host", "cookie": "c", "discover": True, "port": 4369,
                        "tls": {"certificate": "-----BEGIN", "key": "k", "ca": "ca"}}),
    ("TLSSettingsBody", {"certificate": "c", "key": "k", "ca": "a"}),
    ("CreateFamilyRequest", {"name": "f", "description": "d", "bootstrap_node_selection": "first",
                             "bootstrap_strategy": "s", "bootstrap_strategy_opts": {"a": "b"}}),
    ("RPCRequest", {"module": "erlang", "function": "node", "args": [1, "a", 2.5, True, None, [1], {"k": "v"}],
                    "args_erlang": "[1]", "timeout_ms": 5000}),
    ("CreateProviderRequest", {"type": "physical", "name": "p", "hosts": ["h1"], "directory": "/opt", "private_key": "k"}),
    ("SetFamilyReleaseRequest", {"release": "00000000-0000-0000-0000-000000000001"}),
    ("AddDomainRequest", {"provider": "00000000-0000-0000-0000-000000000001", "ssh_user": "u", "vdisk": "d", "hw_profile": "h", "type": "t"}),
    ("DeployRequest", {"amount": 2, "provider": "00000000-0000-0000-0000-000000000001", "autostart": True}),
    ("AcknowledgeAlarmRequest", {"comment": "seen"}),
    ("SetNotificationLevelRequest", {"level": "warning"}),
    ("AlarmThresholds.Update", {"interval_seconds": 30, "processes": {"warning": 0.8}, "cpu_load": None}),
    ("UploadReleaseRequest", {"name": "r", "description": "d", "start_cmd": "bin/app start", "stop_cmd": "bin/app stop",
                              "cookie": "c", "node_name_templates": ["releases/1.0/vm.args"], "environment": {"A": "1"}, "release": "1.0"}),
]
for index, (name, body) in enumerate(bodies):
    write("StrictJSONFuzz", name, bytes([index]) + json.dumps(body).encode())
write("StrictJSONFuzz", "CreateProviderRequest-ec2", bytes([4]) + json.dumps({"type": "ec2", "name": "e", "region": "eu-west-1", "access_key_id": "a", "secret_access_key": "s"}).encode())
write("StrictJSONFuzz", "unknown-field", bytes([0]) + b'{"node": "a@b", "cookie": "c", "discovr": true}')
write("StrictJSONFuzz", "not-object", bytes([3]) + b"[1, 2]")

# --- stored metric blocks (NodeBlock, the series codec) ------------------------------------------
# A mirror of SeriesEncoder: version 1, varint series count, per series varint metric id, width,
# point count, bit count, then the bits (times as delta-of-delta from the block start, integral
# values as delta-of-delta, the first fractional one escaping its column to XOR floats).


class Bits:
    def __init__(self):
        self.bits = []

    def write(self, value, n):
        for i in range(n - 1, -1, -1):
            self.bits.append((value >> i) & 1)

    def to_bytes(self):
        out = bytearray((len(self.bits) + 7) // 8)
        for i, bit in enumerate(self.bits):
            if bit:
                out[i // 8] |= 0x80 >> (i % 8)
        return bytes(out)


def write_delta(bits, value):
    zigzag = ((value << 1) ^ (value >> 63)) & (2**64 - 1)
    for prefix, plen, n, limit in ((0b10, 2, 7, 1 << 7), (0b110, 3, 14, 1 << 14), (0b1110, 4, 24, 1 << 24), (0b11110, 5, 40, 1 << 40)):
        if zigzag == 0:
            bits.write(0, 1)
            return
        if zigzag < limit:
            bits.write(prefix, plen)
            bits.write(zigzag, n)
            return
    bits.write(0b111110, 6)
    bits.write(zigzag, 64)


def encode_series(points, width, block_start):
    bits = Bits()
    prev_time, prev_delta = block_start, 0
    cols = [{"integral": True, "prev": 0, "pdelta": 0, "bits": 0, "lead": 0, "trail": 0, "started": False} for _ in range(width)]
    for time, values in points:
        delta = time - prev_time
        write_delta(bits, delta - prev_delta)
        prev_time, prev_delta = time, delta
        for col, value in zip(cols, values):
            if col["integral"]:
                if float(value).is_integer():
                    d = int(value) - col["prev"]
                    write_delta(bits, d - col["pdelta"])
                    col["prev"], col["pdelta"] = int(value), d
                    continue
                col["integral"] = False
                bits.write(0b111111, 6)
                col["bits"] = struct.unpack(">Q", struct.pack(">d", value))[0]
                bits.write(col["bits"], 64)
                continue
            b = struct.unpack(">Q", struct.pack(">d", value))[0]
            xor = b ^ col["bits"]
            col["bits"] = b
            if xor == 0:
                bits.write(0, 1)
                continue
            bits.write(1, 1)
            lead = min(64 - xor.bit_length(), 31)
            trail = (xor & -xor).bit_length() - 1
            if col["started"] and lead >= col["lead"] and trail >= col["trail"]:
                bits.write(0, 1)
                bits.write(xor >> col["trail"], 64 - col["lead"] - col["trail"])
            else:
                length = 64 - lead - trail
                bits.write(1, 1)
                bits.write(lead, 5)
                bits.write(length - 1, 6)
                bits.write(xor >> trail, length)
                col["lead"], col["trail"], col["started"] = lead, trail, True
    return len(bits.bits), bits.to_bytes()


def varint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def metric_block(series, block_start=1_796_083_200_000):
    out = bytearray([1]) + varint(len(series))
    for metric, width, points in series:
        bit_count, body = encode_series(points, width, block_start)
        out += varint(metric) + varint(width) + varint(len(points)) + varint(bit_count) + body
    return bytes(out)


M = "MetricBlockFuzz"
T0 = 1_796_083_200_000
write(M, "raw-gauges", metric_block([(1, 1, [(T0 + 60_000 * i, [50_000_000 + 1_000 * i]) for i in range(8)]),
                                      (2, 1, [(T0 + 60_000 * i + 7, [0.25 * i + 0.1]) for i in range(8)])]))
write(M, "chunk-one-point", metric_block([(m, 1, [(T0 + 1_234_000, [m * 1_000])]) for m in range(1, 6)]))
write(M, "rollups-width-4", metric_block([(3, 4, [(T0 + 300_000 * i, [10.0 * i, 1, 9, 5]) for i in range(4)])]))
write(M, "mixed-widths", metric_block([(1, 1, [(T0, [1])]), (2, 4, [(T0, [1, 1, 1, 1])])]))
write(M, "repeated-series", metric_block([(7, 1, [(T0 + 1000, [1]), (T0 + 2000, [2])]), (7, 1, [(T0 + 3000, [3])])]))
write(M, "late-repeat", metric_block([(7, 1, [(T0 + 5000, [1])]), (7, 1, [(T0 + 3000, [3])])]))
write(M, "empty-series", metric_block([(9, 1, [])]))
write(M, "empty", metric_block([]))


def collection_chunk(time, points, block_start=1_796_083_200_000):
    """A raw chunk of one collection (NodeBlock+OneCollection.swift): ids ascending."""
    def zigzag(value):
        return ((value << 1) ^ (value >> 63)) & (2**64 - 1)
    out = bytearray([2]) + varint(len(points)) + varint(zigzag(time - block_start))
    previous = None
    for metric, value in points:
        out += varint(metric if previous is None else metric - previous)
        previous = metric
        if float(value).is_integer() and abs(value) <= 2**53 and not (value == 0 and str(float(value)).startswith("-")):
            out += varint(zigzag(int(value)) << 1)
        else:
            out += b"\x01" + struct.pack("<d", value)
    return bytes(out)


write(M, "collection", collection_chunk(T0 + 1_234_000, [(m, m * 1_000 - 3_000) for m in range(1, 6)] + [(9, 0.25), (400, -0.0)]))
write(M, "collection-sparse", collection_chunk(T0 + 7, [(1_000_003, 2**53), (2_000_006, 2**53 + 2), (2**40, float("inf"))]))
write(M, "collection-empty", collection_chunk(T0, []))
