"""The Gradio page of ``wav2lip-emotion app`` (a thin layer over :class:`~.service.AppService`).

Gradio is imported here only; this module is imported by :func:`wav2lip_emotion.app.serve` once the
``app`` extra is known to be installed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import gradio as gr

from .inputs import EMOTION_CHOICES, SAMPLES, UPLOAD_SUFFIXES, CheckedInput
from .jobs import JobState
from .service import AppService, emotion_rows, error_of, plot_style, progress_of, realism_markdown

INTRO = (
    "# wav2lip-emotion\n"
    "Change the facial emotion of the person in a video or photo. Upload one (or pick a sample), choose the "
    "engine, the emotion and its intensity, and press **Translate**. Jobs run one at a time on this "
    "machine's CPU; you can cancel yours."
)
CSS = "#status p { font-size: 1.05em; } #status { min-height: 2.5em; }"


def _md(text: str) -> str:
    """``text`` shown as it is by a Markdown component (a message may hold backticks, stars, brackets)."""
    return re.sub(r"([\\`*_\[\]<>#|~])", r"\\\1", text)


def _key(request: gr.Request | None) -> str:
    return (request.session_hash if request is not None else None) or "local"


def _previews(checked: CheckedInput) -> tuple[Any, Any]:
    """(source video update, source image update) for a checked input."""
    if checked.kind == "image":
        return gr.update(value=None, visible=False), gr.update(value=str(checked.path), visible=True)
    return gr.update(value=str(checked.path), visible=True), gr.update(value=None, visible=False)


def build(service: AppService) -> gr.Blocks:
    """The page."""
    labels = service.engines.labels
    with gr.Blocks(title="wav2lip-emotion", analytics_enabled=False, delete_cache=(1800, 6 * 3600)) as demo:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                upload = gr.File(
                    label=f"Upload a video or photo (at most {service.options.limits.max_mb:g} MB, "
                    f"{service.options.limits.max_seconds:g} s)",
                    file_types=list(UPLOAD_SUFFIXES),
                    type="filepath",
                    elem_id="upload",
                    height=120,
                )
                sample = gr.Dropdown(
                    choices=[("(none)", "")] + [(f"{k}: {v}", k) for k, v in SAMPLES.items()],
                    value="",
                    label="...or a bundled sample",
                    elem_id="sample",
                )
                engine = gr.Dropdown(choices=labels, value=service.engines.default, label="Engine", elem_id="engine")
                to = gr.Dropdown(
                    choices=list(EMOTION_CHOICES), value="happy", label="Destination emotion", elem_id="emotion"
                )
                intensity = gr.Slider(0.0, 1.5, value=1.0, step=0.05, label="Intensity", elem_id="intensity")
                schedule = gr.Textbox(
                    label="Intensity over time (optional; replaces the slider)",
                    placeholder="0s:0,2s:1,5.5s:1,6s:0",
                    max_lines=1,
                    elem_id="schedule",
                )
                glasses = gr.Radio(
                    choices=[("auto", "auto"), ("on: hold the frame still", "on"), ("off", "off")],
                    value="auto",
                    label="Glasses (mesh engine): a frame that bends with the brows? choose on",
                    elem_id="glasses",
                )
                with gr.Row():
                    run = gr.Button("Translate", variant="primary", elem_id="run")
                    cancel = gr.Button("Cancel", variant="stop", elem_id="cancel")
                status = gr.Markdown("Upload a video or photo, or pick a sample.", elem_id="status")
            with gr.Column(scale=2):
                with gr.Row():
                    src_video = gr.Video(label="Source", interactive=False, elem_id="source-video", height=300)
                    src_image = gr.Image(label="Source", interactive=False, visible=False, elem_id="source-image")
                    res_video = gr.Video(label="Result", interactive=False, elem_id="result-video", height=300)
                    res_image = gr.Image(label="Result", interactive=False, visible=False, elem_id="result-image")
                with gr.Row():
                    closeup = gr.Image(
                        label="Face close-up: source | result",
                        interactive=False,
                        elem_id="closeup",
                        height=260,
                        scale=1,
                    )
                    plot = gr.LinePlot(
                        x="time (s)",
                        y="probability",
                        color="series",
                        y_lim=[0, 1],
                        colors_in_legend=[],
                        title="Emotion judge (face-api) per frame",
                        label="Per-frame emotion",
                        elem_id="emotion-plot",
                        height=300,
                        scale=2,
                    )
                realism = gr.Markdown(elem_id="realism")
                downloads = gr.File(
                    label="Downloads: video, side by side, summary JSON",
                    file_count="multiple",
                    interactive=False,
                    elem_id="downloads",
                )

        def cleared() -> tuple[Any, ...]:
            return (
                gr.update(value=None),
                gr.update(value=None),
                None,
                "",
                None,
                None,
            )

        def on_upload(path: str | None, request: gr.Request) -> tuple[Any, ...]:
            try:
                checked = service.set_upload(_key(request), path)
            except Exception as exc:  # the message; the upload is cleared so that another can be dropped
                name = os.path.basename(path or "")
                return (_md(error_of(exc, {path or "": name})), None, None, gr.update(), None)
            v, i = _previews(checked)
            return (_md(f"Ready: {checked.describe()}"), v, i, gr.update(value=""), gr.update())

        def on_sample(name: str, request: gr.Request) -> tuple[Any, ...]:
            if not name:
                return (gr.update(), gr.update(), gr.update(), gr.update())
            try:
                checked = service.set_sample(_key(request), name)
            except Exception as exc:
                return (_md(error_of(exc)), gr.update(value=None), gr.update(value=None), gr.update())
            v, i = _previews(checked)
            return (_md(f"Ready: {checked.describe()} (sample {name})"), v, i, gr.update(value=None))

        upload.upload(
            on_upload,
            [upload],
            [status, src_video, src_image, sample, upload],
            api_visibility="private",
            show_progress="minimal",
        )
        sample.input(on_sample, [sample], [status, src_video, src_image, upload], api_visibility="private")

        def on_clear(request: gr.Request) -> tuple[Any, ...]:
            service.clear_input(_key(request))
            return ("Upload a video or photo, or pick a sample.", None, None)

        upload.clear(on_clear, None, [status, src_video, src_image], api_visibility="private")

        outputs = [status, res_video, res_image, plot, realism, downloads, closeup]

        def on_run(
            engine_label: str,
            emotion: str,
            value: float,
            sched: str,
            glasses_mode: str,
            request: gr.Request,
            progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way to ask for a progress bar)
        ) -> Iterator[tuple[Any, ...]]:
            key = _key(request)
            try:
                job_id = service.submit(
                    key, engine=engine_label, to=emotion, intensity=value, schedule=sched, glasses=glasses_mode
                )
            except Exception as exc:
                yield (_md(error_of(exc)), *(gr.update() for _ in outputs[1:]))
                return
            yield ("Queued...", *cleared())
            last = None
            for st in service.watch(job_id):
                shown = progress_of(st)
                if shown.fraction is not None and not shown.finished:
                    progress(shown.fraction, desc=shown.text)
                if st.state.finished:
                    break
                if shown.text != last:
                    last = shown.text
                    yield (_md(shown.text), *(gr.update() for _ in outputs[1:]))
            if st.state is not JobState.DONE:
                yield (_md(shown.text), *(gr.update() for _ in outputs[1:]))
                return
            summary = st.result or {}
            files = service.job_files(job_id)
            result = files.get("result")
            image = summary.get("kind") == "image"
            rows = emotion_rows(summary, emotion, top=1)
            colours, caption = plot_style(rows)
            where = summary.get("closeup") or {}
            when = f" at {where['time']:.2f} s" if where.get("time") is not None and not image else ""
            frames = (summary.get("translation") or {}).get("frames")
            done = shown.text + (f" {frames} frames." if frames and not image else "")
            yield (
                _md(done),
                gr.update(value=None if image or result is None else str(result), visible=not image),
                gr.update(value=str(result) if image and result else None, visible=image),
                gr.update(value=_frame(rows), color_map=colours, label=f"Per-frame emotion: {caption}"),
                realism_markdown(summary),
                [str(files[k]) for k in ("result", "side_by_side", "summary") if k in files],
                gr.update(
                    value=str(files["closeup"]) if "closeup" in files else None,
                    label=f"Face close-up{when}: source | result",
                ),
            )

        run.click(
            on_run,
            [engine, to, intensity, schedule, glasses],
            outputs,
            concurrency_limit=None,
            show_progress_on=[res_video],
            api_visibility="private",
        )

        def on_cancel(request: gr.Request) -> str:
            return "Cancelling..." if service.cancel(_key(request)) else "Nothing to cancel."

        cancel.click(on_cancel, None, [status], concurrency_limit=None, api_visibility="private", queue=False)

        def on_unload(request: gr.Request) -> None:
            service.end_session(_key(request))

        demo.unload(on_unload)
    return demo


def _frame(rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(rows, columns=["time (s)", "probability", "series"])


def launch(service: AppService, *, block: bool = True) -> Any:
    """Build the page and serve it on ``service.options.host:port``; returns Gradio's (app, url, share url)."""
    demo = build(service)
    demo.queue(default_concurrency_limit=1, max_size=64)
    opts = service.options
    return demo.launch(
        server_name=opts.host,
        server_port=opts.port,
        share=False,
        inbrowser=False,
        show_error=False,
        max_file_size=opts.limits.max_bytes,
        allowed_paths=[str(service.sessions_root)],
        ssr_mode=False,
        mcp_server=False,
        footer_links=[],
        prevent_thread_lock=not block,
        quiet=True,
        css=CSS,
        theme=gr.themes.Default(),
    )
