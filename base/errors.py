"""One root error; each subclass says how it is handled and carries a stable code.

The rule every stage core follows, so a worker knows what to do with what a core raises:
- the job's own input cannot be processed (corrupt, truncated, unsupported, empty, over a limit): raise an
  ``InputError`` subclass; the job fails at once with its code and nothing is retried;
- a broken contract between our own parts (a caller handed over the wrong shape, dtype or state: a bug):
  raise ``InternalError``; the worker retries it, then dead-letters the event and fails the job with
  ``internal_error``;
- anything transient (a store or broker away) is the adapters' to raise, as ``streams.errors.RetryableError``.
Cores never raise ``ValueError`` or ``TypeError`` for either case.
"""

from __future__ import annotations


class BackdropError(Exception):
    """Root of every error Backdrop raises on purpose; ``code`` is stable, ``str()`` says what to do."""

    code = "backdrop_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InternalError(BackdropError):
    """A broken contract between our own parts (a bug, not the input): retried, then dead-lettered."""

    code = "internal_error"


class InfraError(BackdropError):
    """A local server could not be installed, started, reached or stopped."""

    code = "infra_error"


class MissingSystemPackage(InfraError):
    """A Debian package is missing and we may not install it (not root)."""

    code = "missing_system_package"


class InputError(BackdropError):
    """The input cannot be processed as given: the job fails with this reason and is not retried."""

    code = "input_error"


class InputNotFound(InputError):
    code = "input_not_found"


class InputEmpty(InputError):
    code = "input_empty"


class CorruptInput(InputError):
    """Corrupt, truncated or not media at all."""

    code = "input_corrupt"


class UnsupportedInput(InputError):
    """Valid media we cannot handle (codec, pixel format, no video stream)."""

    code = "input_unsupported"


class LimitExceeded(InputError):
    """Resolution, duration, frame count or file size over the configured limits."""

    code = "input_limit_exceeded"


class UrlRefused(InputError):
    """A source or webhook URL that is not plain http(s) or leads to a non-public address (SSRF guard)."""

    code = "input_url_refused"


class ObjectRefused(InputError):
    """An object reference outside what the job's owner may read: another owner's prefix, another bucket."""

    code = "input_object_refused"


class UrlUnreachable(InputError):
    """A source URL that answered with an error, never answered, or redirected too often."""

    code = "input_url_unreachable"


class OutputError(BackdropError):
    """The output cannot be written (unwritable path, unknown extension)."""

    code = "output_unwritable"


class ModelUnknown(InputError):
    """The job names a segmentation model this deployment does not serve."""

    code = "model_unknown"


class DeviceUnavailable(BackdropError):
    """A device asked for by name (a GPU to decode on) is not on this machine."""

    code = "device_unavailable"


class ModelUnavailable(BackdropError):
    """A model or inference backend cannot be loaded here (missing weights, no GPU, no TensorRT)."""

    code = "model_unavailable"
