"""The default model's weights: MediaPipe's selfie segmentation .tflite files, from the mediapipe wheel."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from base.errors import ModelUnavailable

SelfieVariant = Literal["general", "landscape"]

# The .tflite files are byte-identical in the 0.10.14 and 0.10.21 wheels of all platforms; 0.10.30+ have none.
MEDIAPIPE_VERSION = "0.10.14"
_MEMBER_DIR = "mediapipe/modules/selfie_segmentation"


@dataclass(frozen=True)
class SelfieAsset:
    """One pinned .tflite inside the mediapipe wheel."""

    file_name: str
    sha256: str


SELFIE_ASSETS: dict[SelfieVariant, SelfieAsset] = {
    "general": SelfieAsset(
        "selfie_segmentation.tflite", "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c"
    ),
    "landscape": SelfieAsset(
        "selfie_segmentation_landscape.tflite",
        "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
    ),
}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def selfie_tflite_path(cache_dir: Path, variant: SelfieVariant) -> Path:
    """Where the cached .tflite of ``variant`` lives (it may not exist yet)."""
    return cache_dir / "models" / SELFIE_ASSETS[variant].file_name


def _is_valid(path: Path, asset: SelfieAsset) -> bool:
    return path.is_file() and _sha256(path.read_bytes()) == asset.sha256


def _download_wheel(into: Path) -> Path:
    # Any x86-64 CPython 3.11 wheel will do: the model files inside are the same on every platform,
    # and naming the platform lets this run on machines (ARM, other Pythons) that could not install it.
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        "manylinux2014_x86_64",
        "--python-version",
        "3.11",
        "--implementation",
        "cp",
        "--disable-pip-version-check",
        "--quiet",
        f"mediapipe=={MEDIAPIPE_VERSION}",
        "-d",
        str(into),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(into.glob("mediapipe-*.whl"))
    if result.returncode != 0 or not wheels:
        raise ModelUnavailable(
            f"could not download mediapipe=={MEDIAPIPE_VERSION} from PyPI for the default segmentation model "
            f"({result.stderr.strip()[-400:] or 'no wheel saved'}); PyPI must be reachable once: run "
            "`python -m agents.segment.assets` (part of `make install`) on a machine with network access, "
            "or copy the cache folder's models/ from one"
        )
    return wheels[0]


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=path.name, suffix=".part", delete=False
    ) as handle:
        handle.write(data)
        temporary = Path(handle.name)
    temporary.chmod(0o644)  # NamedTemporaryFile makes it private; the cache is meant to be shared
    os.replace(temporary, path)


def _extract(wheel: Path, asset: SelfieAsset) -> bytes:
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(f"{_MEMBER_DIR}/{asset.file_name}")
    except (KeyError, zipfile.BadZipFile) as error:
        raise ModelUnavailable(f"{wheel.name} does not hold {asset.file_name}: {error}") from error


def _why_unusable(path: Path, asset: SelfieAsset) -> str:
    if not path.is_file():
        return f"{path} does not exist"
    return f"{path} has sha256 {_sha256(path.read_bytes())}, expected {asset.sha256} (corrupt or replaced)"


def ensure_selfie_tflites(
    cache_dir: Path, variants: tuple[SelfieVariant, ...], *, download: bool = True
) -> list[Path]:
    """Paths of the verified .tflite files, downloading the mediapipe wheel once for all that are missing."""
    paths = [selfie_tflite_path(cache_dir, variant) for variant in variants]
    missing = [v for v, p in zip(variants, paths, strict=True) if not _is_valid(p, SELFIE_ASSETS[v])]
    if not missing:
        return paths
    if not download:
        reasons = "; ".join(
            _why_unusable(selfie_tflite_path(cache_dir, v), SELFIE_ASSETS[v]) for v in missing
        )
        raise ModelUnavailable(
            f"the default segmentation model is not usable: {reasons}; run `backdrop models fetch` once "
            f"(part of `make install`; it needs PyPI) to put it in {cache_dir}"
        )
    with tempfile.TemporaryDirectory(prefix="backdrop-mediapipe-") as temporary:
        wheel = _download_wheel(Path(temporary))
        for variant in missing:
            asset = SELFIE_ASSETS[variant]
            data = _extract(wheel, asset)
            if _sha256(data) != asset.sha256:
                raise ModelUnavailable(
                    f"{asset.file_name} in {wheel.name} has sha256 {_sha256(data)}, expected {asset.sha256}; "
                    "the download is corrupt or PyPI served a different file: try again"
                )
            write_atomically(selfie_tflite_path(cache_dir, variant), data)
    return paths


def ensure_selfie_tflite(cache_dir: Path, variant: SelfieVariant, *, download: bool = True) -> Path:
    """The verified .tflite of ``variant`` under ``cache_dir/models``; fetched from PyPI when absent."""
    return ensure_selfie_tflites(cache_dir, (variant,), download=download)[0]
