"""Exceptions with messages meant for people: each names the file or setting and the problem."""

from __future__ import annotations


class Wav2LipEmotionError(Exception):
    """Base class of every error this package raises on purpose (the CLI prints it on one line)."""


class ConfigError(Wav2LipEmotionError, ValueError):
    """A setting or model profile is invalid."""


class CheckpointError(Wav2LipEmotionError):
    """A checkpoint file cannot be used: missing, corrupt, unsafe, wrong kind or wrong profile."""


class MediaError(Wav2LipEmotionError):
    """An audio or video file cannot be read or written."""


class AssetError(Wav2LipEmotionError):
    """A pretrained model or media file from a package cannot be had: unknown, not downloadable, or wrong."""


class AffectError(Wav2LipEmotionError, ValueError):
    """Valence/arousal data cannot be used: a bad per-frame CSV, or probabilities that are not a distribution."""


class DataError(Wav2LipEmotionError, ValueError):
    """Dataset contents cannot be used: a malformed or unknown file-list entry, or no usable videos or pairs."""


class CacheError(Wav2LipEmotionError):
    """A preprocessed face cache is missing, of another format, or a video in it is damaged."""


class TrainingError(Wav2LipEmotionError):
    """A training run cannot go on (a NaN loss, a checkpoint that does not fit the config, ...)."""


class TranslationError(Wav2LipEmotionError):
    """A video cannot be translated: no face in it, no audio, or a model that cannot do what was asked."""
