"""Writer for the parity fixture format read by tests/unit/fixture.c.

"LFFIX 1\\n", then per array a line "<name> <f32|i64> <ndim> <d0> <d1> ...\\n" followed by the
little-endian values. Usage: write_fixture(path, [("x0", array), ("target", int_array), ...]).
"""
import numpy as np


def write_fixture(path, arrays):
    with open(path, "wb") as f:
        f.write(b"LFFIX 1\n")
        for name, a in arrays:
            a = np.asarray(a)
            if a.dtype.kind in "iu":
                a, kind = a.astype("<i8"), "i64"
            else:
                a, kind = a.astype("<f4"), "f32"
            dims = " ".join(str(d) for d in a.shape)
            f.write(f"{name} {kind} {a.ndim} {dims}".rstrip().encode() + b"\n")
            f.write(np.ascontiguousarray(a).tobytes())
