#!/usr/bin/env python3
"""Turns irqlat recordings into 'structured' fuzz seeds (see recording_fuzz.cpp):
'S', then per block [u8 kind (| 0x80: zstd)][u16 le length][uncompressed payload].

    tests/fuzz/make_seeds.py OUT_DIR REC...

Blocks with payloads over 65535 bytes are cut (the fuzzer only sees prefixes)."""
import os
import struct
import subprocess
import sys
import zlib


def blocks(data):
    pos = 8
    while pos + 24 <= len(data):
        _sync, kind, codec, _r2, _r3, _seq, _ulen, clen, _crc = struct.unpack("<IBBBBIIII", data[pos:pos + 24])
        comp = data[pos + 24:pos + 24 + clen]
        if codec == 1:  # zstd (format 3): no zstd module in Debian's python3
            payload = subprocess.run(["zstd", "-dc"], input=comp, capture_output=True, check=True).stdout
            kind |= 0x80
        else:
            payload = zlib.decompress(comp)
        pos += 24 + clen
        yield kind, payload


def main():
    out_dir = sys.argv[1]
    for path in sys.argv[2:]:
        seed = bytearray(b"S")
        for kind, payload in blocks(open(path, "rb").read()):
            payload = payload[:65535]
            seed += struct.pack("<BH", kind, len(payload)) + payload
        name = "structured-" + os.path.basename(path)
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(seed)


if __name__ == "__main__":
    main()
