"""The work of one job (run in the job's own process by :class:`~.jobs.JobRunner`): translate, then measure.

:func:`run_job` writes into the job's folder the translated video (or photo), the side-by-side
(source | translated) and ``summary.json`` (the translation's summary, the judge's per-frame emotion
probabilities of source and result, and the realism checks), and returns that summary.

:func:`call_translate` calls :func:`wav2lip_emotion.translate` with the arguments this install's
version takes: the ``engine`` setting, intensity schedules and the ``on_progress`` callback are used
when present; without ``on_progress`` the progress is read from translate's progress bar.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import inspect
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_json_atomic
from ..errors import Wav2LipEmotionError
from ..media import is_image_path
from .inputs import public_message, safe_stem
from .jobs import AppError, JobRequest, Reporter

#: the judge of the per-frame emotion plot
JUDGE = "faceapi"
#: the realism thresholds of ``wav2lip-emotion demo`` (same person, lips still follow the speech)
IDENTITY_MAX = 0.6
MOUTH_MIN = 0.7
REALISM_MODULE = "wav2lip_emotion.evaluation.realism"

ProgressFn = Callable[[int, "int | None"], None]


# ---------------------------------------------------------------------------------------- translate


def translate_capabilities() -> set[str]:
    """Which of the newer translate settings this install has: engine, on_progress, schedule."""
    from ..translation import TranslateConfig, translate

    names = {f.name for f in dataclasses.fields(TranslateConfig)} | set(inspect.signature(translate).parameters)
    caps = {n for n in ("engine", "on_progress") if n in names}
    if "engine" in caps:  # the same change brought intensity schedules
        caps.add("schedule")
    return caps


@contextlib.contextmanager
def _tqdm_progress(on_progress: ProgressFn) -> Iterator[None]:
    """Route translate's tqdm bar to ``on_progress`` (for a translate without ``on_progress``)."""
    import tqdm

    class _Bar:
        def __init__(self, *args: Any, total: int | None = None, **kwargs: Any) -> None:
            self.total = total
            self.n = 0
            on_progress(0, total)

        def update(self, n: int = 1) -> None:
            self.n += int(n)
            on_progress(self.n, self.total)

        def close(self) -> None:
            pass

        def set_postfix(self, *args: Any, **kwargs: Any) -> None:
            pass

        def __enter__(self) -> _Bar:
            return self

        def __exit__(self, *exc: object) -> None:
            self.close()

    saved = tqdm.tqdm
    tqdm.tqdm = _Bar  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        tqdm.tqdm = saved  # type: ignore[misc]


def call_translate(
    input: Path,
    output: Path,
    *,
    to: str,
    engine: str,
    checkpoint: Path | None,
    intensity: float | str,
    source: str | None,
    side_by_side: Path | None,
    on_progress: ProgressFn,
) -> tuple[Any, list[str]]:
    """Run translate with what this install supports; returns (TranslateResult, notes for the page)."""
    from ..translation import translate

    caps = translate_capabilities()
    notes: list[str] = []
    kwargs: dict[str, Any] = {"source": source}
    if side_by_side is not None:
        kwargs["side_by_side"] = side_by_side
    if "engine" in caps:
        kwargs["engine"] = engine
        if engine == "model":
            kwargs["checkpoint"] = checkpoint
    elif engine == "mesh":
        raise AppError("the mesh engine is not in this install of wav2lip-emotion yet; choose a learned model")
    else:
        kwargs["checkpoint"] = checkpoint
    if isinstance(intensity, str) and "schedule" not in caps:
        raise AppError("intensity schedules are not in this install of wav2lip-emotion yet; leave the schedule empty")
    if not isinstance(intensity, str) and "schedule" not in caps and intensity > 1.0:
        notes.append(f"intensity {intensity:g} used as 1: this install's translate stops at full strength")
        intensity = 1.0
    kwargs["intensity"] = intensity
    if "on_progress" in caps:
        return translate(input, output, to, progress=False, on_progress=on_progress, **kwargs), notes
    with _tqdm_progress(on_progress):
        return translate(input, output, to, progress=True, **kwargs), notes


# ---------------------------------------------------------------------------------------- measure


def _counting_tracker(report: Callable[[int], None]) -> Any:
    """A FaceTracker (unsmoothed, as measure_video uses) that reports each frame it sees."""
    from ..faces import FaceTracker, TrackerConfig

    class _Counting(FaceTracker):
        seen = 0

        def reset(self) -> None:
            super().reset()
            self.seen = 0

        def update(self, rgb: np.ndarray, time: float | None = None) -> Any:
            self.seen += 1
            report(self.seen)
            return super().update(rgb, time)

    return _Counting(TrackerConfig(smooth=False))


def measure_media(path: Path, judge: Any, identity: Any, on_frame: Callable[[int], None]) -> Any:
    """The evaluation's measurement of a video (:func:`measure_video`) or of a photo (one frame)."""
    import torch

    from ..errors import MediaError
    from ..evaluation.measure import VideoMeasurement, measure_video, mouth_opening
    from ..faces import FaceCrop
    from ..media import read_image
    from ..perception.report import CLASSIFIER_CROP

    tracker = _counting_tracker(on_frame)
    if not is_image_path(path):
        return measure_video(path, judge, identity=identity, tracker=tracker)
    rgb = read_image(path)
    obs = tracker.update(rgb)
    if not obs.found:
        raise MediaError(f"{path}: no face found in the image")
    crop = FaceCrop.from_box(obs.box, CLASSIFIER_CROP).extract(rgb)
    with torch.inference_mode():
        probs = judge(torch.from_numpy(crop[None]).permute(0, 3, 1, 2).float() / 255.0).numpy().astype(np.float64)
    descriptor = None
    with contextlib.suppress(MediaError):
        descriptor = identity.descriptor(rgb, obs.box, box_kind="mesh", what=str(path))
    return VideoMeasurement(
        path=str(path),
        fps=0.0,
        judge=judge.name,
        classes=tuple(judge.classes),
        probs=probs,
        opening=np.array([mouth_opening(obs.landmarks)]),
        features=np.zeros((0, 0), dtype=np.float32),
        identity=descriptor,
    )


def _num(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _rows(probs: np.ndarray) -> list[list[float | None]]:
    return [[_num(v) for v in row] for row in probs]


def realism_checks(source: Any, result: Any, video: bool) -> dict[str, Any]:
    """Identity distance (dlib, < 0.6: same person) and mouth-opening correlation (videos; > 0.7: the
    lips still follow the speech) between source and result."""
    from ..evaluation.measure import pearson

    identity = None
    if source.identity is not None and result.identity is not None:
        identity = float(np.linalg.norm(result.identity - source.identity))
    mouth = pearson(result.opening, source.opening) if video else math.nan
    checks: list[dict[str, Any]] = [
        {
            "name": "identity distance",
            "value": _num(identity, 3),
            "limit": f"< {IDENTITY_MAX}",
            "passed": None if identity is None else identity < IDENTITY_MAX,
            "meaning": "dlib face-descriptor distance from the source (< 0.6: the same person)",
        }
    ]
    if video:
        checks.append(
            {
                "name": "mouth-opening correlation",
                "value": _num(mouth, 3),
                "limit": f"> {MOUTH_MIN}",
                "passed": None if not math.isfinite(mouth) else mouth > MOUTH_MIN,
                "meaning": "correlation of the lip gap per frame with the source's (> 0.7: lips still follow)",
            }
        )
    known = [c["passed"] for c in checks if c["passed"] is not None]
    return {
        "source": "measure.py",
        "checks": checks,
        "passed": all(known) if known else None,
        "verdict": (
            "realistic: same person, lips follow the speech"
            if known and all(known)
            else "not measured"
            if not known
            else "check the result: " + ", ".join(c["name"] for c in checks if c["passed"] is False) + " out of range"
        ),
    }


def realism_verdict(source_path: Path, result_path: Path) -> dict[str, Any] | None:
    """The verdict of ``evaluation/realism.py`` when this install has it (None otherwise)."""
    if importlib.util.find_spec(REALISM_MODULE) is None:
        return None
    module = importlib.import_module(REALISM_MODULE)
    for name in ("assess_realism", "check_realism", "realism", "assess", "evaluate_realism"):
        fn = getattr(module, name, None)
        if callable(fn):
            break
    else:
        return None
    verdict = fn(source_path, result_path)
    for method in ("to_json", "to_dict"):
        if hasattr(verdict, method):
            verdict = getattr(verdict, method)()
            break
    if dataclasses.is_dataclass(verdict) and not isinstance(verdict, type):
        verdict = dataclasses.asdict(verdict)
    if not isinstance(verdict, dict):
        verdict = {"verdict": str(verdict)}
    return {"source": REALISM_MODULE, **verdict}


def analyse(source: Path, result: Path, to: str, report: Reporter, total: int | None) -> dict[str, Any]:
    """Per-frame judge probabilities of source and result, and the realism checks."""
    from ..perception.emotions import load_emotion_model, parse_emotion
    from ..perception.identity import FaceIdentity

    report("loading the emotion judge", 0, None)
    judge = load_emotion_model(JUDGE)
    identity = FaceIdentity()
    report("measuring the source", 0, total)
    src = measure_media(source, judge, identity, lambda n: report("measuring the source", n, total))
    report("measuring the result", 0, total)
    out = measure_media(result, judge, identity, lambda n: report("measuring the result", n, total))
    video = not is_image_path(result)
    classes = [parse_emotion(c).value for c in judge.classes]
    fps = out.fps or src.fps or 0.0
    n = max(src.frames, out.frames)
    analysis: dict[str, Any] = {
        "judge": JUDGE,
        "classes": classes,
        "times": [round(i / fps, 4) for i in range(n)] if fps else [0.0] * n,
        "source": {"probs": _rows(src.probs), "faces": src.faces_found, "frames": src.frames},
        "result": {"probs": _rows(out.probs), "faces": out.faces_found, "frames": out.frames},
    }
    for key, m in (("source", src), ("result", out)):
        rows = m.probs[np.isfinite(m.probs).all(axis=1)]
        mean = rows.mean(axis=0) if len(rows) else np.full(len(classes), np.nan)
        analysis[key]["mean"] = {c: _num(v, 3) for c, v in zip(classes, mean, strict=True)}
    to_name = parse_emotion(to).value
    if to_name in classes:
        gain = (analysis["result"]["mean"][to_name] or 0.0) - (analysis["source"]["mean"][to_name] or 0.0)
        analysis["destination_gain"] = round(gain, 3)
    realism = realism_checks(src, out, video)
    with contextlib.suppress(Wav2LipEmotionError):
        verdict = realism_verdict(source, result)
        if verdict is not None:
            realism = {**verdict, "measured": realism}
    analysis["realism"] = realism
    return analysis


# ---------------------------------------------------------------------------------------- close-up


def _frame_at(path: Path, index: int) -> np.ndarray | None:
    from ..media import VideoReader, read_image

    if is_image_path(path):
        return read_image(path)
    with VideoReader(path) as reader:
        for i, frame in enumerate(reader):
            if i == index:
                return frame.rgb
    return None


def closeup_frame(analysis: dict[str, Any], to: str) -> int:
    """The frame where the judge's p(``to``) rose most from source to result (the middle one without)."""
    classes = analysis.get("classes") or []
    src = analysis.get("source", {}).get("probs") or []
    out = analysis.get("result", {}).get("probs") or []
    n = min(len(src), len(out))
    if not n:
        return 0
    if to not in classes:
        return n // 2
    k = classes.index(to)
    gains = [
        (out[i][k] - src[i][k]) if out[i][k] is not None and src[i][k] is not None else -math.inf for i in range(n)
    ]
    best = int(np.argmax(gains))
    return best if math.isfinite(gains[best]) else n // 2


def face_closeup(source: Path, result: Path, index: int, out: Path, size: int = 256) -> bool:
    """Write ``out``: the face of frame ``index`` of source and result next to each other, enlarged. False
    when there is no such frame or no face in it."""
    import cv2

    from ..faces import FaceTracker, TrackerConfig
    from ..media import write_image

    a, b = _frame_at(source, index), _frame_at(result, index)
    if a is None or b is None or a.shape != b.shape:
        return False
    obs = FaceTracker(TrackerConfig(smooth=False)).update(a)
    if not obs.found or obs.box is None:
        return False
    x0, y0, x1, y1 = (float(v) for v in obs.box)
    cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, 1.5 * max(x1 - x0, y1 - y0)
    h, w = a.shape[:2]
    side = min(side, w, h)
    left = round(min(max(cx - side / 2, 0), w - side))
    top = round(min(max(cy - side / 2, 0), h - side))
    s = round(side)

    def crop(img: np.ndarray) -> np.ndarray:
        return cv2.resize(np.ascontiguousarray(img[top : top + s, left : left + s]), (size, size), cv2.INTER_CUBIC)

    gap = np.full((size, 6, 3), 255, np.uint8)
    write_image(out, np.concatenate([crop(a), gap, crop(b)], axis=1))
    return True


# ---------------------------------------------------------------------------------------- the job


def _side_by_side_image(source: Path, result: Path, out: Path) -> None:
    from ..media import read_image, write_image

    a, b = read_image(source), read_image(result)
    if a.shape != b.shape:
        return
    write_image(out, np.concatenate([a, b], axis=1))


def run_job(request: JobRequest, report: Reporter) -> dict[str, Any]:
    """Translate ``request.input`` into ``request.output_dir``, measure, write summary.json; the summary."""
    from ..media import probe_video

    src = Path(request.input)
    out_dir = Path(request.output_dir)
    name = request.display_name or src.name
    names = {str(src): name, str(out_dir) + "/": "", str(out_dir): "."}
    if request.checkpoint:
        names[str(request.checkpoint)] = Path(request.checkpoint).name
    image = is_image_path(src)
    stem = f"{safe_stem(name)}_{safe_stem(request.to, 'emotion')}"
    output = out_dir / (stem + (src.suffix.lower() if image else ".mp4"))
    side = out_dir / (stem + ("_side_by_side" + (".png" if image else ".mp4")))
    total = 1 if image else probe_video(src).frame_count
    report("loading the model", 0, None)
    try:
        result, notes = call_translate(
            src,
            output,
            to=request.to,
            engine=request.engine,
            checkpoint=Path(request.checkpoint) if request.checkpoint else None,
            intensity=request.intensity,
            source=request.source,
            side_by_side=None if image else side,
            on_progress=lambda done, of: report("translating", done, of if of else total),
        )
    except Wav2LipEmotionError as exc:
        raise type(exc)(public_message(str(exc), names)) from None
    if image and not side.exists():
        _side_by_side_image(src, output, side)
    summary: dict[str, Any] = {
        "input": name,
        "engine": request.engine,
        "checkpoint": Path(request.checkpoint).name if request.checkpoint else None,
        "to": request.to,
        "intensity": request.intensity,
        "kind": "image" if image else "video",
        "translation": result.to_json(),
        "describe": public_message(result.describe(), names, one_line=False),
        "notes": notes,
        "files": {"result": output.name, "side_by_side": side.name if side.exists() else None},
    }
    if request.analyse:
        try:
            summary["analysis"] = analyse(src, output, request.to, report, total)
        except Wav2LipEmotionError as exc:
            summary["analysis"] = {"error": public_message(str(exc), names)}
        else:
            index = closeup_frame(summary["analysis"], request.to)
            closeup = out_dir / f"{stem}_closeup.png"
            with contextlib.suppress(Wav2LipEmotionError):
                if face_closeup(src, output, index, closeup):
                    summary["files"]["closeup"] = closeup.name
                    times = summary["analysis"].get("times") or []
                    summary["closeup"] = {"frame": index, "time": times[index] if index < len(times) else None}
    summary["files"]["summary"] = "summary.json"
    summary = _scrub(summary, names)
    report("writing the summary", 1, 1)
    write_json_atomic(out_dir / "summary.json", summary)
    return summary


def _scrub(value: Any, names: dict[str, str]) -> Any:
    """Server paths replaced by the names the person knows, everywhere in the summary."""
    if isinstance(value, str):
        return public_message(value, names, one_line=False) if "/" in value else value
    if isinstance(value, dict):
        return {k: _scrub(v, names) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, names) for v in value]
    return value


__all__ = ["analyse", "call_translate", "measure_media", "realism_checks", "run_job", "translate_capabilities"]
