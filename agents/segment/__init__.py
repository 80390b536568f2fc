"""Segment stage core: foreground probability per frame from a registered model, on torch, ORT or TensorRT.

Entry points: ``backends.load_segmenter`` / ``backends.Segmenter``, ``registry.builtin_registry`` /
``registry.user_model_spec``, ``assets.ensure_selfie_tflite``. Nothing is imported here, so that
``python -m agents.segment.assets`` (run at install time) loads neither torch nor ONNX Runtime.
"""
