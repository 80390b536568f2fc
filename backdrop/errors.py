"""One root error; each subclass says how it is handled and carries a stable code."""

from __future__ import annotations


class BackdropError(Exception):
    """Root of every error Backdrop raises on purpose; ``code`` is stable, ``str()`` says what to do."""

    code = "backdrop_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InfraError(BackdropError):
    """A local server could not be installed, started, reached or stopped."""

    code = "infra_error"


class MissingSystemPackage(InfraError):
    """A Debian package is missing and we may not install it (not root)."""

    code = "missing_system_package"
