"""The demo's page (``templates/demo_report.html``) and what each of its numbers means."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from .common import CLIP_CHOICE, CLIP_CREDIT, LABELS, MODEL, SHORT, edit_thresholds, probe, verdict

if TYPE_CHECKING:
    from . import DemoConfig, DemoResult


def explanations() -> list[tuple[str, str]]:
    """What each number of the report means, with the verdicts' thresholds (evaluation/realism.py)."""
    from ..evaluation.verdicts import RealismThresholds

    r, e = RealismThresholds(), edit_thresholds()
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
        ("flicker", "frame-to-frame change inside the face with the head motion removed (both videos aligned with "
         "the clip's own face mesh), result over clip (1 = no more shimmer or shaking than the clip's own speech and "
         f"blinks). Realistic: at most {r.max_flicker_ratio:g}."),
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

    from ..atomic import write_text_atomic

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
    info = probe(demo.clip)
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
            min_gain=f"{edit_thresholds().min_emotion_gain:g}",
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
