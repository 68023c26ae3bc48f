"""The generated-world demonstration, ``wav2lip-emotion demo --world``: a real photo speaking a real
recording, rendered by the generated world's face rig, translated by the shipped in-world model.

1. The generated world renders one real-photo identity speaking a real recorded sentence, neutral, happy
   and sad (docs/world.md; the real sad take is what the evaluation compares "-> sad" with).
2. The shipped in-world model (docs/model_card.md) translates neutral -> happy, neutral -> sad and
   happy -> sad, with side-by-side videos.
3. The evaluation (docs/evaluation.md) scores the three translations, next to the world's ideal
   translation (the source take rendered in the destination emotion by the rig: what a perfect model
   would output) and doing nothing (copy).
4. ``OUT/report.html`` shows the videos, the judge's per-frame probabilities, a frame grid, the metric
   table and what each number means.

The identity is ``R003`` of the world: a frame of movie-hello.mp4 (forensics-samples-files,
CC-BY-SA-4.0), one of the world's training actors. The model knows the generated world, not real faces.
The default demo (``wav2lip-emotion demo``, :mod:`wav2lip_emotion.demo`) translates the real clip itself.
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError

#: the three translations of the demo: (source emotion, destination emotion)
DEMO_PAIRS: tuple[tuple[str, str], ...] = (("neutral", "happy"), ("neutral", "sad"), ("happy", "sad"))
#: what the demo must show, checked and printed in the report
TARGETS = {"p_happy_gain": 0.3, "identity_distance": 0.6, "mouth_correlation": 0.7}
#: where the demo identity's photo comes from (for the report and the committed picture)
IDENTITY_CREDIT = (
    "a frame of movie-hello.mp4 from Debian's forensics-samples-files (CC-BY-SA-4.0), rendered by the "
    "generated world's face rig; pictures derived from it are CC-BY-SA-4.0"
)


@dataclass
class WorldDemoConfig:
    """Settings of ``wav2lip-emotion demo --world``."""

    out: Path = Path("demo_world")
    #: generator checkpoint; None = the model shipped with the package
    checkpoint: Path | None = None
    #: the world actor to show: real photos are R001 (Grace Hopper), R002, R003 (default)
    actor: str = "R003"
    #: frame side of the rendered video and the longest sentence, in seconds
    size: int = 160
    seconds: float = 3.2
    device: str = "auto"
    #: judge of the evaluation (never the training objective)
    judge: str = "faceapi"
    progress: bool = True

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.checkpoint is not None:
            self.checkpoint = Path(self.checkpoint)
        if not (len(self.actor) == 4 and self.actor[0] == "R" and self.actor[1:].isdigit()):
            raise ConfigError(f"demo actor must be a real-photo world actor R001..R003, got {self.actor!r}")


@dataclass
class WorldDemoResult:
    out: Path
    report: Path
    frames_png: Path
    numbers: dict[str, float] = field(default_factory=dict)
    passed: dict[str, bool] = field(default_factory=dict)
    seconds: float = 0.0


def _say(text: str) -> None:
    """A result line (the checks, the report's path): stdout."""
    print(text, flush=True)


def _status(text: str) -> None:
    """A step line while the demo runs: stderr (the command line's convention)."""
    print(text, file=sys.stderr, flush=True)


def run_world_demo(config: WorldDemoConfig | Path | str | None = None) -> WorldDemoResult:
    """Run the demonstration (see the module docstring); returns where the report is and its key numbers."""
    if config is None:
        config = WorldDemoConfig()
    elif not isinstance(config, WorldDemoConfig):
        config = WorldDemoConfig(out=Path(config))
    from .translation.translator import shipped_checkpoint

    start = time.perf_counter()
    checkpoint = config.checkpoint or shipped_checkpoint()
    if checkpoint is None or not Path(checkpoint).is_file():
        raise ConfigError(
            f"{checkpoint or 'wav2lip_emotion/weights'}: no generator to demonstrate; train one "
            "(docs/model_card.md) and pass it with --checkpoint"
        )
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    _status(f"wav2lip-emotion demo --world -> {out.resolve()}")

    world, cases = _render_world(config)
    _status(f"[1/4] world: {config.actor} speaking a real recording, neutral, happy and sad ({_t(start)})")
    translated = _translate(config, Path(checkpoint), world, cases)
    _status(f"[2/4] translated {', '.join(f'{s} -> {d}' for s, d in DEMO_PAIRS)} ({_t(start)})")
    result = _evaluate(config, world, translated)
    _status(f"[3/4] evaluated ({_t(start)})")
    numbers = _must_show(result)
    passed = {
        "p_happy_gain": numbers["p_happy_gain"] >= TARGETS["p_happy_gain"],
        "identity_distance": numbers["identity_distance"] < TARGETS["identity_distance"],
        "mouth_correlation": numbers["mouth_correlation"] >= TARGETS["mouth_correlation"],
    }
    frames_png = _frame_grid(config, world, translated, out / "frames.png")
    seconds = time.perf_counter() - start
    report = _write_report(config, Path(checkpoint), result, numbers, passed, frames_png, seconds)
    _status(f"[4/4] report ({_t(start)})")
    _say(
        f"\nneutral -> happy: judge p(happy) {numbers['p_happy_source']:.2f} -> {numbers['p_happy_translated']:.2f} "
        f"(+{numbers['p_happy_gain']:.2f}, target >= +{TARGETS['p_happy_gain']}); identity distance "
        f"{numbers['identity_distance']:.2f} (< {TARGETS['identity_distance']}); mouth-opening correlation "
        f"{numbers['mouth_correlation']:.2f} (>= {TARGETS['mouth_correlation']})"
    )
    if "ideal_mouth_correlation" in numbers:
        _say(
            "the ideal translation (the world's own render) on this clip: "
            f"p(happy) +{numbers['ideal_p_happy_gain']:.2f}; "
            f"identity distance {numbers['ideal_identity_distance']:.2f}; mouth-opening correlation "
            f"{numbers['ideal_mouth_correlation']:.2f}"
        )
    _say(f"report: {report.resolve()}")
    return WorldDemoResult(out, report, frames_png, numbers, passed, seconds)


def _t(start: float) -> str:
    return f"{time.perf_counter() - start:.0f} s"


def _render_world(config: WorldDemoConfig) -> tuple[Path, dict[str, Path]]:
    """Render the demo actor (and the real-photo actors before it: identities come in order): neutral, happy, sad."""
    from .world.synth import WorldConfig, synthesize

    world = config.out / "world"
    index = int(config.actor[1:])
    manifest = synthesize(
        WorldConfig(
            actors=index,
            sentences=1,
            emotions=("neutral", "happy", "sad"),
            levels=(3,),
            size=config.size,
            procedural_identities=False,
            aligned=True,
            aligned_actors=(config.actor,),  # the ideal translation, for the report's "ideal" column
            max_seconds=config.seconds,
        ),
        world,
    )
    takes = {t["emotion"]: world / str(t["video"]) for t in manifest.takes if t["actor"] == config.actor}
    if set(takes) != {"neutral", "happy", "sad"}:
        raise ConfigError(f"the world has no neutral, happy and sad takes of {config.actor}")
    return world, takes


def _translate(config: WorldDemoConfig, checkpoint: Path, world: Path, takes: dict[str, Path]) -> Path:
    """The three translations, laid out as evaluate's ``--generated`` directory, plus side-by-side videos."""
    import json

    from .assets import file_sha256
    from .translation.pipeline import translate

    made = config.out / "translated"
    marker = made / "checkpoint.json"
    made_by = {"checkpoint": str(checkpoint.resolve()), "sha256": file_sha256(checkpoint)}
    if marker.is_file() and json.loads(marker.read_text()) != made_by:  # another model: translate again
        shutil.rmtree(made)
        shutil.rmtree(config.out / "videos", ignore_errors=True)
    made.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(made_by))
    for src, dst in DEMO_PAIRS:
        out = made / config.actor / "001" / f"{src}_to_{dst}.mp4"
        side = config.out / "videos" / f"{src}_to_{dst}_side_by_side.mp4"
        if out.is_file() and side.is_file():
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        side.parent.mkdir(parents=True, exist_ok=True)
        translate(
            takes[src],
            out,
            to=dst,
            source=src,
            checkpoint=checkpoint,
            side_by_side=side,
            device=config.device,
            progress=config.progress,
        )
    return made


def _evaluate(config: WorldDemoConfig, world: Path, translated: Path) -> Any:
    from .evaluation.runner import EvaluateConfig, evaluate

    return evaluate(
        EvaluateConfig(
            data=world,
            out=config.out / "evaluation",
            actors=(config.actor,),
            pairs=DEMO_PAIRS,
            generated=(f"shipped={translated}",),
            baselines=("ground-truth", "copy"),
            use_aligned=True,
            judge=config.judge,
            progress=False,
        )
    )


def _must_show(result: Any) -> dict[str, float]:
    """The checked numbers of the model's neutral -> happy, and the same of the ideal translation (``ideal_...``)."""
    numbers: dict[str, float] = {}
    for variant, prefix in (("shipped", ""), ("ground-truth", "ideal_")):
        row = next((s for s in result.scores if s.variant == variant and s.pair == "neutral->happy"), None)
        if row is None:
            continue
        numbers |= {
            f"{prefix}p_happy_source": row.p_destination_source,
            f"{prefix}p_happy_translated": row.p_destination,
            f"{prefix}p_happy_gain": row.p_destination - row.p_destination_source,
            f"{prefix}identity_distance": row.identity_distance,
            f"{prefix}mouth_correlation": row.mouth_correlation,
        }
    return numbers


def _frame_grid(config: WorldDemoConfig, world: Path, translated: Path, path: Path, columns: int = 6) -> Path:
    """Rows: each source take and its translations; columns: evenly spaced frames of the clip."""
    from PIL import Image, ImageDraw, ImageFont

    from .media import VideoReader, probe_video

    def frames(video: Path) -> list[np.ndarray]:
        n = max(1, probe_video(video).frame_count or 1)
        wanted = set(np.linspace(0, n - 1, columns).round().astype(int).tolist())
        with VideoReader(video) as reader:
            got = [f.rgb for i, f in enumerate(reader) if i in wanted]
        return got[:columns]

    rows: list[tuple[str, Path]] = []
    sources = {e: world / config.actor / "video/front" / e / f"level_{1 if e == 'neutral' else 3}" / "001.mp4"
               for e in ("neutral", "happy")}  # fmt: skip
    rows.append(("source: neutral", sources["neutral"]))
    rows += [(f"neutral -> {d}", translated / config.actor / "001" / f"neutral_to_{d}.mp4") for d in ("happy", "sad")]
    rows.append(("source: happy", sources["happy"]))
    rows.append(("happy -> sad", translated / config.actor / "001" / "happy_to_sad.mp4"))
    label_w = 120
    tiles = [(label, frames(video)) for label, video in rows]
    h, w = tiles[0][1][0].shape[:2]
    sheet = Image.new("RGB", (label_w + columns * w, len(tiles) * h + 24), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    draw.text((6, 6), f"wav2lip-emotion demo: {config.actor}; columns = time", fill="black", font=font)
    for r, (label, imgs) in enumerate(tiles):
        y = 24 + r * h
        draw.text((6, y + h // 2 - 6), label, fill="black", font=font)
        for c, img in enumerate(imgs):
            sheet.paste(Image.fromarray(img), (label_w + c * w, y))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


EXPLANATIONS: tuple[tuple[str, str], ...] = (
    ("p(dst)", "the judge's (face-api, not the model's training objective) mean probability of the destination "
     "emotion over the frames; 'source' is the same on the untouched input"),
    ("emotion acc.", "share of frames where the destination emotion is the judge's top class"),
    ("dV / dA", "how far valence / arousal moved, as a fraction of the real change between the actor's source and "
     "destination takes (1 = as far as the real performance; a circumplex proxy from the judge, not NISL2020)"),
    ("identity dist.", "dlib face-descriptor distance between translated and source video (< 0.6: same person)"),
    ("mouth corr.", "frame-by-frame correlation of the mouth opening with the source: is the lip movement kept?"),
    ("LSE*-D / LSE*-C", "lip-sync distance (lower is better) and confidence (higher is better) with syncnet_python's "
     "protocol and our world SyncNet expert: not comparable to published LSE numbers"),
    ("video", "model = the shipped model's translation; ideal = the world's render of the source take in the "
     "destination emotion (the perfect answer); copy = the untouched source (doing nothing)"),
    ("PSNR vs ideal", "peak signal-to-noise ratio against the ideal translation, in dB (higher is closer)"),
    ("FD-faceapi", "Frechet distance of face-api features between translated and real destination-emotion faces "
     "(lower is better; not FID)"),
)  # fmt: skip


def _write_report(
    config: WorldDemoConfig,
    checkpoint: Path,
    result: Any,
    numbers: dict[str, float],
    passed: dict[str, bool],
    frames_png: Path,
    seconds: float,
) -> Path:
    from importlib import resources

    import jinja2

    from .atomic import write_text_atomic
    from .demo.common import verdict as realism_verdict_text
    from .evaluation.measure import VideoMeasurement
    from .evaluation.naming import safe_name
    from .evaluation.report import fmt, timeline_chart

    out = config.out
    plots: list[tuple[str, Path]] = []
    cache = result.out / "cache" / "measure"
    for src, dst in DEMO_PAIRS:
        case = f"{config.actor}/001/{src}_to_{dst}"
        panels = []
        for title, key in (
            (f"source ({src})", f"real/{config.actor}/front/{src}/level_{1 if src == 'neutral' else 3}/001"),
            (f"translated to {dst}", f"{safe_name('shipped')}/{case}"),
        ):
            m = VideoMeasurement.load(cache / f"{key}.npz")
            if m is not None:
                t = np.arange(m.frames) / (m.fps or 25.0)
                panels.append(
                    (f"{title}: judge p(emotion) per frame", t, {c: m.probs[:, i] for i, c in enumerate(m.classes)})
                )
        if panels:
            plots.append((f"{src} -> {dst}", timeline_chart(panels, out / "plots" / f"{src}_to_{dst}.png")))

    def rel(p: Path) -> str:
        return Path(p).resolve().relative_to(out.resolve()).as_posix()

    names = {"shipped": "model", "ground-truth": "ideal", "copy": "copy"}
    ordered = [s for variant in names for s in result.scores if s.variant == variant]
    rows = [
        [fmt(v) for v in (s.pair, names[s.variant], s.p_destination_source, s.p_destination, s.accuracy,
                          s.delta_valence, s.delta_arousal, s.identity_distance, s.mouth_correlation, s.lse_d,
                          s.lse_c, s.psnr)]
        for s in ordered
    ]  # fmt: skip
    realism = [
        {
            "pair": s.pair,
            "video": names[s.variant],
            "sharpness": fmt(s.sharpness_ratio),
            "flicker": fmt(s.flicker_ratio),
            "frechet": fmt(s.frechet_source),
            "brisque": "-" if math.isnan(s.quality_difference) else f"{s.quality_difference:+.1f}",
            "verdict": realism_verdict_text(s),
        }
        for s in ordered
        if s.variant != "ground-truth" or not math.isnan(s.sharpness_ratio)
    ]
    fd = {s.pair: s.frechet for s in result.summaries if s.variant == "shipped"}
    checks = [
        {
            "label": label,
            "value": fmt(numbers[key]),
            "target": target,
            "ok": "pass" if passed[key] else "FAIL",
            "ideal": fmt(numbers.get(f"ideal_{key}", math.nan)),
        }
        for key, label, target in (
            ("p_happy_gain", "neutral -> happy: judge p(happy) gain over the source", ">= +0.3"),
            ("identity_distance", "neutral -> happy: identity distance to the source", "< 0.6"),
            ("mouth_correlation", "neutral -> happy: mouth-opening correlation", ">= 0.7"),
        )
    ]
    template = (resources.files("wav2lip_emotion") / "templates" / "demo_world_report.html").read_text("utf-8")
    page = (
        jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        .from_string(template)
        .render(
            actor=config.actor,
            credit=IDENTITY_CREDIT,
            checkpoint=checkpoint.name,
            seconds=f"{seconds:.0f}",
            checks=checks,
            videos=[
                {"source": s, "destination": d, "src": f"videos/{s}_to_{d}_side_by_side.mp4"} for s, d in DEMO_PAIRS
            ],
            frames_png=rel(frames_png),
            plots=[{"title": t, "src": rel(p)} for t, p in plots],
            rows=rows,
            fd_text=", ".join(f"{p} {fmt(v)}" for p, v in fd.items() if p != "all" and not math.isnan(v)),
            realism=realism,
            explanations=EXPLANATIONS,
        )
    )
    return write_text_atomic(out / "report.html", page)
