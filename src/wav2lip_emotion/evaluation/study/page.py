"""The raters' page (``form.html``) and the study's ``README.txt``, rendered from Jinja2 templates.

The templates are package data in ``wav2lip_emotion/templates/study/``: ``form.html`` (autoescaped, with
``study.css`` and ``study.js`` inlined verbatim so the page needs no other file) and ``README.txt``
(plain text, not escaped). The script reads everything it needs from the page itself (``data-study``,
``data-clip`` and the radio buttons); no data is pasted into it.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Sequence
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

#: per dimension: (heading, question, labels of ratings 1..5)
SCALES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "sync": (
        "Lip sync",
        "Do the lip movements match the speech?",
        ("out of sync", "mostly off", "acceptable", "good", "perfect"),
    ),
    "quality": (
        "Visual quality",
        "How good does the face look?",
        ("very poor", "poor", "fair", "good", "real-looking"),
    ),
    "emotion": (
        "Emotion",
        "Which emotion does the person show?",
        ("very sad", "sad", "neutral", "happy", "very happy"),
    ),
}
DEFAULT_TITLE = "Talking-face video rating study"


def _template_text(name: str) -> str:
    return (resources.files("wav2lip_emotion") / "templates" / "study" / name).read_text(encoding="utf-8")


@jinja2.pass_eval_context
def _escape_like_html_module(ctx: jinja2.nodes.EvalContext, value: Any) -> Any:
    """Autoescaped output spelt as :func:`html.escape` spells it (``&#x27;``, ``&quot;``), as the page always was."""
    if ctx.autoescape and not isinstance(value, Markup):
        return Markup(html.escape(str(value)))
    return value


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_text),
        autoescape=jinja2.select_autoescape(("html",), ("txt",), default_for_string=True, default=True),
        finalize=_escape_like_html_module,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_form(title: str, clips: Sequence[str], study_id: str) -> str:
    """The self-contained rating page: per clip a video and three 1-5 scales, and the download button."""
    scales = [
        {"dimension": dim, "heading": heading, "question": question, "labels": labels}
        for dim, (heading, question, labels) in SCALES.items()
    ]
    return (
        _environment()
        .get_template("form.html")
        .render(
            title=title,
            clips=list(clips),
            study_id=study_id,
            scales=scales,
            css=Markup(_template_text("study.css").strip()),
            js=Markup(_template_text("study.js").strip()),
        )
    )


def render_readme(title: str, n_clips: int, seed: int, *, hard_links: bool) -> str:
    """README.txt: what goes to the raters, what stays with the experimenter, the scales, how to score."""
    return (
        _environment().get_template("README.txt").render(title=title, n_clips=n_clips, seed=seed, hard_links=hard_links)
    )
