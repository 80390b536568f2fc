"""Named arrays to and from npz bytes; each member deflated at level 1, LZ4-compressed, or stored as it is.

Measured on 720p mattes (2 cores): deflate level 1 packs an alpha plane to ~8 % of its size at ~2.2 ms
a frame and inflates it in ~1.6 ms; LZ4 (fastest level) packs it as small in ~0.45 ms and unpacks it in
well under 1 ms, and even takes a quarter off the partial-alpha colours, which deflate barely shrinks.
Level 6 (what ``np.savez_compressed`` uses) gains a few per cent for three times the CPU. An LZ4 member
is the ``.npy`` file in an LZ4 frame, named ``NAME.npy.lz4``: ``np.load`` lists it and hands its bytes
to ``lz4.frame.decompress``.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Collection

import lz4.frame
import numpy as np

from base.errors import InternalError

DEFLATE_LEVEL = 1
LZ4_SUFFIX = ".npy.lz4"


def npz_bytes(
    arrays: dict[str, np.ndarray], stored: Collection[str] = (), fast: Collection[str] = ()
) -> bytes:
    """An npz of ``arrays``: members named in ``stored`` uncompressed, in ``fast`` LZ4, the rest deflated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", allowZip64=True) as archive:
        for name, array in arrays.items():
            if name in fast:
                archive.writestr(name + LZ4_SUFFIX, _lz4_npy(array), compress_type=zipfile.ZIP_STORED)
                continue
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
            archive.writestr(
                f"{name}.npy",
                member.getbuffer(),
                compress_type=zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED,
                compresslevel=None if name in stored else DEFLATE_LEVEL,
            )
    return buffer.getvalue()


def npz_arrays(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of an npz archive, read into memory (LZ4 members read-only)."""
    arrays: dict[str, np.ndarray] = {}
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        for name in archive.files:
            if name.endswith(LZ4_SUFFIX):
                arrays[name.removesuffix(LZ4_SUFFIX)] = _npy_array(lz4.frame.decompress(archive[name]))
            else:
                arrays[name] = archive[name]
    return arrays


def _lz4_npy(array: np.ndarray) -> bytes:
    """The ``.npy`` file of ``array`` in one LZ4 frame; the data is compressed from the array in place."""
    array = np.ascontiguousarray(array)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(array))
    compressor = lz4.frame.LZ4FrameCompressor(compression_level=0)
    parts = [compressor.begin(header.tell() + array.nbytes), compressor.compress(header.getvalue())]
    parts += [compressor.compress(array.reshape(-1).view(np.uint8)), compressor.flush()]
    return b"".join(parts)


def _npy_array(npy: bytes) -> np.ndarray:
    """The array an in-memory ``.npy`` file holds, as a view of its bytes (no copy)."""
    header = io.BytesIO(npy)
    version = np.lib.format.read_magic(header)
    if version != (1, 0):
        raise InternalError(f"npy version {version} in an LZ4 member; expected 1.0")
    shape, fortran, dtype = np.lib.format.read_array_header_1_0(header)
    if dtype.hasobject:
        raise InternalError("an LZ4 member holds Python objects; refused")
    array = np.frombuffer(npy, dtype, offset=header.tell(), count=int(np.prod(shape, dtype=np.int64)))
    return array.reshape(shape, order="F" if fortran else "C")
