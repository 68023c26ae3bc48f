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
import inspect
import math
import time
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
#: dlib's same-person rule (identity distance below this), shown next to the realism verdict
IDENTITY_MAX = 0.6

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


def measure_media(path: Path, judge: Any, identity: Any, on_frame: Callable[[int], None], features: Any = None) -> Any:
    """The evaluation's measurement of a video (:func:`measure_video`, with its realism values) or of a
    photo (one frame)."""
    import torch

    from ..errors import MediaError
    from ..evaluation.measure import VideoMeasurement, measure_video, mouth_opening
    from ..evaluation.realism import RealismAccumulator
    from ..faces import FaceCrop
    from ..media import read_image
    from ..perception.crops import CLASSIFIER_CROP

    tracker = _counting_tracker(on_frame)
    if not is_image_path(path):
        return measure_video(path, judge, features=features, identity=identity, tracker=tracker)
    rgb = read_image(path)
    obs = tracker.update(rgb)
    if not obs.found:
        raise MediaError(f"{path}: no face found in the image")
    crop = FaceCrop.from_box(obs.box, CLASSIFIER_CROP).extract(rgb)
    batch = torch.from_numpy(crop[None]).permute(0, 3, 1, 2).float() / 255.0
    with torch.inference_mode():
        probs = judge(batch).numpy().astype(np.float64)
        feats = np.asarray(features(batch), dtype=np.float32) if features is not None else np.zeros((0, 0))
    descriptor = None
    with contextlib.suppress(MediaError):
        descriptor = identity.descriptor(rgb, obs.box, box_kind="mesh", what=str(path))
    acc = RealismAccumulator(quality_every=1)
    acc.add(rgb, obs.landmarks, obs.box, obs.score)
    return VideoMeasurement(
        path=str(path),
        fps=0.0,
        judge=judge.name,
        classes=tuple(judge.classes),
        probs=probs,
        opening=np.array([mouth_opening(obs.landmarks)]),
        features=feats.astype(np.float32),
        identity=descriptor,
        realism=acc.track(),
    )


def _num(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _rows(probs: np.ndarray) -> list[list[float | None]]:
    return [[_num(v) for v in row] for row in probs]


def _check(name: str, value: float | None, limit: str, passed: bool | None, meaning: str) -> dict[str, Any]:
    value = None if value is None or not math.isfinite(value) else value
    return {
        "name": name,
        "value": _num(value, 3),
        "limit": limit,
        "passed": None if value is None or passed is None else bool(passed),
        "meaning": meaning,
    }


def realism_report(source: Any, result: Any, emotion_gain: float, video: bool) -> dict[str, Any]:
    """The verdicts of ``evaluation/realism.py`` (realistic face; realistic edit: the emotion changed and
    the lips still follow the speech) with each check, plus dlib's identity distance."""
    from ..evaluation.realism import (
        EditThresholds,
        RealismThresholds,
        edit_verdict,
        lip_movement_kept,
        realism_scores,
        realism_verdict,
    )

    rt, et = RealismThresholds(), EditThresholds()
    if video:
        mouth, kept = lip_movement_kept(result.opening, source.opening, et)
    else:
        mouth, kept = math.nan, True  # a photo has no speech to follow
    scores = realism_scores(
        result.realism, source.realism, output_features=result.features, source_features=source.features
    )
    realism = realism_verdict(scores, rt)
    edit = edit_verdict(realism, emotion_gain, kept, et)
    identity = math.nan
    if source.identity is not None and result.identity is not None:
        identity = float(np.linalg.norm(result.identity - source.identity))
    drop = scores.face_score_source - scores.face_score
    checks = [
        _check(
            "emotion gain",
            emotion_gain,
            f">= {et.min_emotion_gain:+g}",
            emotion_gain >= et.min_emotion_gain,
            "the judge's mean p(destination), result minus source",
        ),
        _check(
            "mouth-opening correlation",
            mouth,
            f">= {et.min_mouth_correlation:g}",
            kept if video else None,
            "the lip gap per frame follows the source's (a still mouth must stay still instead)",
        ),
        _check(
            "identity distance",
            identity,
            f"< {IDENTITY_MAX:g}",
            identity < IDENTITY_MAX,
            "dlib face-descriptor distance from the source (< 0.6: the same person)",
        ),
        _check(
            "sharpness ratio",
            scores.sharpness_ratio,
            f"{rt.min_sharpness_ratio:g}..{rt.max_sharpness_ratio:g}",
            rt.min_sharpness_ratio <= scores.sharpness_ratio <= rt.max_sharpness_ratio,
            "fine detail in the face, result over source (< 1: blurred)",
        ),
        _check(
            "flicker ratio",
            scores.flicker_ratio,
            f"<= {rt.max_flicker_ratio:g}",
            scores.flicker_ratio <= rt.max_flicker_ratio,
            "frame-to-frame change in the face beyond the head's motion, result over source",
        ),
        _check(
            "BRISQUE difference",
            scores.quality_difference,
            f"<= {rt.max_quality_difference:+g}",
            scores.quality_difference <= rt.max_quality_difference,
            "no-reference image quality of the face, result minus source (> 0: worse)",
        ),
        _check(
            "FD to source",
            scores.frechet_source,
            f"<= {rt.max_frechet_source:g}",
            scores.frechet_source <= rt.max_frechet_source,
            "Frechet distance of the face-api features of the result's faces to the source's",
        ),
        _check(
            "face score drop",
            drop,
            f"<= {rt.max_face_score_drop:g}",
            drop <= rt.max_face_score_drop,
            "how much less sure the face mesh is that it sees a face",
        ),
        _check(
            "faces kept",
            scores.faces_kept,
            f">= {rt.min_faces_kept:g}",
            scores.faces_kept >= rt.min_faces_kept,
            "share of the source's face frames where the result still has a face",
        ),
    ]
    same_person = not math.isfinite(identity) or identity < IDENTITY_MAX
    if edit.passed and same_person:
        verdict = "realistic edit: the emotion changed, the lips follow the speech, the face is still realistic"
    elif realism.passed and same_person:
        verdict = "realistic face, but not an emotion edit: " + "; ".join(edit.failures)
    else:
        problems = [*realism.failures] + ([] if same_person else [f"identity distance {identity:.2f} >= 0.6"])
        verdict = "not realistic: " + "; ".join(problems)
    return {
        "source": "evaluation/realism.py",
        "verdict": verdict,
        "passed": bool(edit.passed and same_person),
        "realistic": bool(realism.passed and same_person),
        "failures": list(edit.failures) + ([] if same_person else ["identity distance"]),
        "unmeasured": list(edit.unmeasured),
        "checks": checks,
        "scores": {k: _num(v, 4) if isinstance(v, float) else v for k, v in scores.as_dict().items()},
    }


#: what the cached measurement of a source was made with (it is used again only when this matches)
SOURCE_SETUP = f"app:{JUDGE}:faceapi-features:dlib:realism"


def _cached_source(source: Path, judge: Any, identity: Any, extractor: Any, report: Reporter, total: int | None) -> Any:
    """The source's measurement, kept next to it (in the page's input folder) so that translating the same
    input again, to another emotion or intensity, measures only the result."""
    from ..evaluation.measure import VideoMeasurement

    cache = source.parent / f".{source.name}.measure.npz"
    try:
        stat = source.stat()
        setup = f"{SOURCE_SETUP}:{stat.st_size}:{stat.st_mtime_ns}"
    except OSError:
        setup = ""
    found = VideoMeasurement.load(cache) if setup else None
    if found is not None and found.setup == setup and found.path == str(source):
        report("measuring the source", total or 1, total or 1)
        return found
    report("measuring the source", 0, total)
    measured = measure_media(source, judge, identity, lambda n: report("measuring the source", n, total), extractor)
    if setup:
        measured.setup = setup
        with contextlib.suppress(OSError):
            measured.save(cache)
    return measured


def analyse(source: Path, result: Path, to: str, report: Reporter, total: int | None) -> dict[str, Any]:
    """Per-frame judge probabilities of source and result, and the realism checks."""
    from ..emotions import parse_emotion
    from ..evaluation.fid import make_feature_extractor
    from ..perception.emotions import load_emotion_model
    from ..perception.identity import FaceIdentity

    report("loading the emotion judge", 0, None)
    judge = load_emotion_model(JUDGE)
    identity = FaceIdentity()
    extractor = make_feature_extractor(None, device="cpu")  # face-api features, for the FD to the source
    src = _cached_source(source, judge, identity, extractor, report, total)
    report("measuring the result", 0, total)
    out = measure_media(result, judge, identity, lambda n: report("measuring the result", n, total), extractor)
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
    gain = math.nan
    if to_name in classes and analysis["result"]["mean"][to_name] is not None:
        gain = analysis["result"]["mean"][to_name] - (analysis["source"]["mean"][to_name] or 0.0)
        analysis["destination_gain"] = round(gain, 3)
    analysis["realism"] = realism_report(src, out, gain, video)
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
    started = time.perf_counter()
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
    seconds = {"translate": round(time.perf_counter() - started, 1)}
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
        "seconds": seconds,
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
        seconds["analysis"] = round(time.perf_counter() - started - seconds["translate"], 1)
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


__all__ = ["analyse", "call_translate", "measure_media", "realism_report", "run_job", "translate_capabilities"]
