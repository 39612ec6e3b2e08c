"""A hand-written ICC v2 RGB display profile (matrix/TRC), for testing colour-profile handling.

Pillow can create an sRGB profile but no other RGB space, and the tests must not depend on profile
files installed on the machine. The profile here has sRGB's primaries and white point but a linear
tone curve (gamma 1.0): pixels tagged with it are *linear-light* sRGB, so the correct conversion
to sRGB is the sRGB encoding curve alone (IEC 61966-2-1), computed independently in the tests.
Layout: ICC.1:2001-04 (header, tag table, XYZType, curveType, textDescriptionType, textType).
"""

import struct

#: sRGB's colorants adapted to the D50 PCS (Bradford), as in the sRGB IEC61966-2.1 profile.
SRGB_COLORANTS_D50 = {
    "rXYZ": (0.4360747, 0.2225045, 0.0139322),
    "gXYZ": (0.3850649, 0.7168786, 0.0971045),
    "bXYZ": (0.1430804, 0.0606169, 0.7141733),
}
D50 = (0.9642, 1.0, 0.8249)


def _s15f16(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(values) -> bytes:
    return b"XYZ " + b"\0" * 4 + b"".join(_s15f16(v) for v in values)


def _curve(gamma: float) -> bytes:
    return b"curv" + b"\0" * 4 + struct.pack(">I", 1) + struct.pack(">H", round(gamma * 256))


def _description(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    body = b"desc" + b"\0" * 4 + struct.pack(">I", len(ascii_text)) + ascii_text
    body += struct.pack(">II", 0, 0)  # no Unicode description
    body += struct.pack(">HB", 0, 0) + b"\0" * 67  # no ScriptCode description
    return body


def _text(text: str) -> bytes:
    return b"text" + b"\0" * 4 + text.encode("ascii") + b"\0"


def linear_rgb_profile(description: str = "Linear-light RGB (test)", gamma: float = 1.0) -> bytes:
    """ICC bytes of an RGB display profile with sRGB primaries and a pure-gamma tone curve."""
    tags = [
        (b"desc", _description(description)),
        (b"cprt", _text("No copyright, test data")),
        (b"wtpt", _xyz(D50)),
        *((name.encode(), _xyz(value)) for name, value in SRGB_COLORANTS_D50.items()),
        *((channel, _curve(gamma)) for channel in (b"rTRC", b"gTRC", b"bTRC")),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    table, data = [struct.pack(">I", len(tags))], []
    for signature, body in tags:
        padded = body + b"\0" * (-len(body) % 4)
        table.append(signature + struct.pack(">II", offset, len(body)))
        data.append(padded)
        offset += len(padded)
    size = offset
    header = struct.pack(">I", size) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"mntr" + b"RGB " + b"XYZ "
    header += struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + b"APPL" + b"\0" * 4
    header += b"\0" * 8 + b"\0" * 8 + struct.pack(">I", 0)  # device manufacturer/model, attributes, intent
    header += b"".join(_s15f16(v) for v in D50) + b"test" + b"\0" * 16 + b"\0" * 28
    assert len(header) == 128, len(header)
    return header + b"".join(table) + b"".join(data)
