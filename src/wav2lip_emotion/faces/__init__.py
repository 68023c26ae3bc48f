"""Faces: detection (BlazeFace), 468-point landmarks (face mesh), tracking, crops, masks, paste-back,
hands and other occluders, and the fold-free warp of a face region."""

from __future__ import annotations

from .blazeface import BlazeFace, Detection
from .crop import (
    CropConfig,
    FaceCrop,
    MaskMode,
    PasteMode,
    face_mask,
    full_mask,
    half_mask,
    paste_back,
    pose_prior,
    soft_mask,
)
from .hands import Hand, HandDetector
from .mesh import FACE_OVAL, FaceMesh, Roi
from .occluders import OccluderConfig, OccluderDetector
from .smoothing import OneEuroFilter
from .tracker import DetectorKind, FaceObservation, FaceTracker, TrackerConfig

__all__ = [
    "FACE_OVAL",
    "BlazeFace",
    "CropConfig",
    "Detection",
    "DetectorKind",
    "FaceCrop",
    "FaceMesh",
    "FaceObservation",
    "FaceTracker",
    "Hand",
    "HandDetector",
    "MaskMode",
    "OccluderConfig",
    "OccluderDetector",
    "OneEuroFilter",
    "PasteMode",
    "Roi",
    "TrackerConfig",
    "face_mask",
    "full_mask",
    "half_mask",
    "paste_back",
    "pose_prior",
    "soft_mask",
]
