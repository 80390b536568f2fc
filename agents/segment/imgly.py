"""The optional ``isnet`` model's weights: ISNet (DIS) as ONNX, from IMG.LY's npm package.

The package is AGPL-3.0 (its LICENSE.md; its ThirdPartyLicenses.json lists the ISNet weights as MIT), so
Backdrop neither ships nor installs it by default: ``backdrop models fetch isnet`` fetches it with npm on
request, and keeps the licence beside the weights.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import orjson

from agents.segment.assets import write_atomically
from base.errors import ModelUnavailable

PACKAGE = "@imgly/background-removal-data"
VERSION = "1.4.5"
# The package's "medium" model (float16 weights, float32 input and output): 3.2 s a frame on two CPU
# cores against 3.7 s for its 8-bit "small" one, which is also the coarser.
RESOURCE = "/models/medium"
SHA256 = "b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb"


def isnet_path(cache_dir: Path) -> Path:
    return cache_dir / "models" / f"isnet-imgly-{VERSION}.onnx"


def isnet_licence_path(cache_dir: Path) -> Path:
    return cache_dir / "models" / f"isnet-imgly-{VERSION}-LICENSE.md"


def ensure_isnet(cache_dir: Path, *, download: bool = True) -> Path:
    """The verified ISNet ONNX file; fetched with ``npm pack`` when absent and ``download`` allows."""
    path = isnet_path(cache_dir)
    if path.is_file() and _sha256(path) == SHA256:
        return path
    if not download:
        raise ModelUnavailable(
            f"the isnet model is not installed ({path} is missing or corrupt): run `backdrop models fetch "
            f"isnet` once (it needs npm and the npm registry; the weights are AGPL-3.0)"
        )
    npm = shutil.which("npm")
    if npm is None:
        raise ModelUnavailable(
            "fetching the isnet model needs npm (Node.js): install it (`apt-get install npm`) or copy "
            f"{path.name} from a machine that has it into {path.parent}"
        )
    with tempfile.TemporaryDirectory(prefix="backdrop-isnet-") as temporary:
        result = subprocess.run(
            [npm, "pack", f"{PACKAGE}@{VERSION}", "--silent", "--pack-destination", temporary],
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        tarballs = sorted(Path(temporary).glob("*.tgz"))
        if result.returncode != 0 or not tarballs:
            raise ModelUnavailable(
                f"`npm pack {PACKAGE}@{VERSION}` failed ({result.stderr.strip()[-400:] or 'no tarball'}); "
                "the npm registry must be reachable once"
            )
        weights, licence = _from_tarball(tarballs[0])
    if hashlib.sha256(weights).hexdigest() != SHA256:
        raise ModelUnavailable(
            f"the isnet weights in {PACKAGE}@{VERSION} do not have the sha256 this Backdrop pins ({SHA256}); "
            "the download is corrupt or the registry served another file: try again"
        )
    write_atomically(isnet_licence_path(cache_dir), licence)
    write_atomically(path, weights)
    return path


def _from_tarball(tarball: Path) -> tuple[bytes, bytes]:
    """The model's bytes (the package splits it in chunks named by their hash) and the licence's."""
    try:
        with tarfile.open(tarball, "r:gz") as archive:

            def member(name: str) -> bytes:
                handle = archive.extractfile(f"package/{name}")
                if handle is None:
                    raise KeyError(name)
                return handle.read()

            resources = orjson.loads(member("dist/resources.json"))
            chunks = resources[RESOURCE]["chunks"]
            weights = b"".join(member(f"dist/{chunk['hash']}") for chunk in chunks)
            return weights, member("LICENSE.md")
    except (KeyError, TypeError, tarfile.TarError, orjson.JSONDecodeError) as error:
        raise ModelUnavailable(
            f"{tarball.name} is not laid out as {PACKAGE}@{VERSION} was: {error}"
        ) from error


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
