"""Frames to network input, and network output to foreground probability, as a model's spec declares."""

from __future__ import annotations

import cv2
import numpy as np

from agents.segment.registry import ModelSpec
from base.errors import ModelUnavailable, UnsupportedInput


def check_frames(frames: np.ndarray) -> None:
    """Reject anything but the frames contract: uint8 ``[T, H, W, 3]``."""
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] != 3:
        raise UnsupportedInput(
            f"segmentation takes uint8 RGB frames shaped [T, H, W, 3], got {frames.dtype} {frames.shape}"
        )


def resize_frame(frame: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """``[H, W, 3]`` uint8 → ``[h, w, 3]`` uint8 at the model's input size."""
    height, width = spec.input_size
    if frame.shape[:2] == (height, width):
        return frame
    if spec.resize == "mediapipe":
        # MediaPipe's ImageToTensorCalculator maps the image's outer corners onto the tensor's (no half-pixel
        # shift) and samples bilinearly with a zero border; matching it keeps the model on its trained inputs.
        scale_x, scale_y = width / frame.shape[1], height / frame.shape[0]
        matrix = np.array([[scale_x, 0.0, 0.0], [0.0, scale_y, 0.0]])
        return cv2.warpAffine(
            frame,
            matrix,
            (width, height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
    interpolation = cv2.INTER_AREA if spec.resize == "area" else cv2.INTER_LINEAR
    return cv2.resize(frame, (width, height), interpolation=interpolation)


def to_network_input(frames: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """``[T, H, W, 3]`` uint8 RGB → ``[T, 3, h, w]`` float32, normalised as the spec says."""
    check_frames(frames)
    height, width = spec.input_size
    resized = np.empty((frames.shape[0], height, width, 3), np.uint8)  # [T, h, w, 3]
    for index, frame in enumerate(frames):
        resized[index] = resize_frame(frame, spec)
    if spec.channel_order == "bgr":
        resized = resized[..., ::-1]
    # Transposing the uint8 first and scaling in place is ~6x faster than float maths on the NHWC view.
    network_input = np.ascontiguousarray(resized.transpose(0, 3, 1, 2)).astype(np.float32)  # [T, 3, h, w]
    std = np.asarray(spec.std, np.float32)
    # (x * scale - mean) / std folded into one multiply-add per channel.
    network_input *= (spec.scale / std).astype(np.float32)[None, :, None, None]
    network_input += (-np.asarray(spec.mean, np.float32) / std)[None, :, None, None]
    return network_input


def to_probability(output: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """A network output ``[T, C, h, w]`` (or ``[T, h, w]``) → float32 ``[T, h, w]`` in [0, 1]."""
    if output.ndim == 3:
        output = output[:, None]
    if output.ndim != 4 or spec.output_channel >= output.shape[1]:
        raise ModelUnavailable(
            f"model {spec.name!r} returned shape {output.shape}; expected [T, C, h, w] with channel "
            f"{spec.output_channel} — check its output_index / output_channel"
        )
    output = output.astype(np.float32, copy=False)
    # A model may answer NaN or ±inf (fp16 overflow, say). A NaN, and the NaN of inf − inf in a softmax, is
    # no answer: background, as the matte stage reads it too; ±inf elsewhere is a certain one. No warnings
    # either: numpy would print one per batch for what is handled here.
    with np.errstate(over="ignore", invalid="ignore"):
        if spec.output == "softmax":
            shifted = np.exp(output - output.max(axis=1, keepdims=True))
            probability = shifted[:, spec.output_channel] / shifted.sum(axis=1)
        elif spec.output == "logits":
            probability = 1.0 / (1.0 + np.exp(-output[:, spec.output_channel]))  # exp overflows to inf: 0
        else:
            probability = output[:, spec.output_channel]
    probability = np.nan_to_num(probability, nan=0.0, posinf=1.0, neginf=0.0)
    if probability.shape[1:] != spec.input_size:
        resized = np.empty((len(probability), *spec.input_size), np.float32)  # np.stack refuses no frames
        for index, plane in enumerate(probability):
            resized[index] = cv2.resize(plane, spec.input_size[::-1], interpolation=cv2.INTER_LINEAR)
        probability = resized
    return np.ascontiguousarray(np.clip(probability, 0.0, 1.0), dtype=np.float32)
