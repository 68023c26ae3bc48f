"""A thin wrapper over the LiteRT (TensorFlow Lite) interpreter, the runtime of the MediaPipe models."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import Wav2LipEmotionError


class TFLiteModel:
    """One ``.tflite`` model with a single float32 input, run on the CPU (XNNPACK)."""

    def __init__(self, path: str | Path, num_threads: int = 1) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise Wav2LipEmotionError(
                "the face models need the 'ai-edge-litert' package (pip install ai-edge-litert)"
            ) from exc
        self.path = Path(path)
        try:
            self._interp = Interpreter(model_path=str(self.path), num_threads=num_threads)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise Wav2LipEmotionError(f"{self.path}: not a usable TFLite model ({exc})") from None
        inp = self._interp.get_input_details()[0]
        self._input_index = inp["index"]
        self.input_shape = tuple(int(v) for v in inp["shape"])  # (1, H, W, 3)
        self._outputs = [d["index"] for d in self._interp.get_output_details()]

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the model input."""
        return self.input_shape[1], self.input_shape[2]

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        """Run on one [H, W, 3] float32 image; returns the output tensors in model order."""
        self._interp.set_tensor(self._input_index, np.ascontiguousarray(x[None], dtype=np.float32))
        self._interp.invoke()
        return [self._interp.get_tensor(i) for i in self._outputs]
