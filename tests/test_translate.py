"""Translation end to end on the real recorded clips, with tiny generators: what goes in comes out.

The models here are untrained (tiny profile, random weights): these tests check the pipeline's
promises (frames, rate, size, length, audio, untouched background, pass-through, errors, atomic
output), not the quality of an emotion change, which docs/translate.md measures with trained models.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from torch import nn

from tests.conftest import deterministic_state_dict, save_official
from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.audio import MEL_WINDOW, load_audio
from wav2lip_emotion.checkpoints import save_model
from wav2lip_emotion.cli import main
from wav2lip_emotion.errors import ConfigError, TranslationError
from wav2lip_emotion.faces import CropConfig, FaceCrop, FaceTracker, MaskMode
from wav2lip_emotion.media import VideoReader, VideoWriter, probe_video
from wav2lip_emotion.models import ConditionalGenerator, Wav2LipGenerator
from wav2lip_emotion.models.fusion import count_batchnorms, fold_batchnorm
from wav2lip_emotion.translation import (
    EmotionTranslator,
    GeneratorCard,
    TranslateConfig,
    parse_intensity,
    resolve_request,
    translate,
)
from wav2lip_emotion.translation.conveyor import Conveyor
from wav2lip_emotion.translation.stages import (
    CPU_BATCH,
    Encoders,
    FaceStage,
    GeneratorStage,
    PasteStage,
    Tally,
    finish,
    open_input,
    plan_translation,
)
from wav2lip_emotion.translation.translator import Request

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def movie_avi() -> Path:
    return asset_path("kphotoalbum_movie")


@pytest.fixture(scope="module")
def movie_hello() -> Path:
    return asset_path("movie_hello")


def _randomise_batchnorm(model: nn.Module, seed: int = 0) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=gen) * 0.2 - 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=gen) * 0.2 - 0.1)
    return model


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Tiny generators saved the way the trainer saves them, plus an official-format .pth."""
    root = tmp_path_factory.mktemp("translate_ckpts")
    torch.manual_seed(0)
    paired = _randomise_batchnorm(Wav2LipGenerator("tiny")).eval()
    cond = _randomise_batchnorm(ConditionalGenerator("tiny")).eval()
    out = {
        "paired": save_model(
            paired,
            root / "neutral_happy.safetensors",
            extra={"stage": "emotion", "mask": "half", "pairs": [["neutral", "happy"]], "crop_padding": 0.1},
        ),
        "paired_full": save_model(
            paired,
            root / "neutral_sad_full.safetensors",
            extra={"stage": "emotion", "mask": "full", "pairs": [["neutral", "sad"]], "crop_padding": 0.1},
        ),
        "conditional": save_model(
            cond,
            root / "conditional.safetensors",
            extra={"stage": "conditional", "mask": "half", "pairs": None, "emotions": ["happy", "neutral", "sad"]},
        ),
        "wav2lip": save_model(paired, root / "wav2lip.safetensors", extra={"stage": "wav2lip", "mask": "half"}),
        "official": save_official(root / "official.pth", paired.state_dict()),
    }
    from wav2lip_emotion.models import SyncNetExpert

    out["syncnet"] = save_model(SyncNetExpert("tiny"), root / "syncnet.safetensors")
    return out


def _audio_samples(path: Path) -> np.ndarray:
    """Every decoded sample of the first audio stream at its own rate and format."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(stream)])


def _decoded_frames(path: Path) -> int:
    with VideoReader(path) as reader:
        return sum(1 for _ in reader)


def _reencode(path: Path, directory: Path) -> Path:
    """The input re-encoded frame for frame with translate's encoder settings: the codec-noise baseline."""
    info = probe_video(path)
    out = directory / f"reencoded_{path.stem}.mp4"
    with VideoWriter(out, info.fps, info.width, info.height) as writer, VideoReader(path) as reader:
        for frame in reader:
            writer.write(frame.rgb)
    return out


def _face_boxes(path: Path, padding: float = 0.1) -> list[np.ndarray | None]:
    tracker = FaceTracker()
    boxes: list[np.ndarray | None] = []
    with VideoReader(path) as reader:
        for frame in reader:
            obs = tracker.update(frame.rgb, frame.time)
            boxes.append(FaceCrop.from_box(obs.box, CropConfig(size=48, padding=padding)).box if obs.found else None)
    return boxes


def _background_differences(
    source: Path, others: list[Path], boxes: list[np.ndarray | None], margin: float = 0.15, every: int = 1
) -> list[tuple[float, float, int]]:
    """For each of ``others``: (mean, 99.9th percentile, max) of its absolute differences from ``source``
    outside each frame's face crop (enlarged by ``margin``), and the max difference anywhere."""
    hists = [np.zeros(256, np.int64) for _ in others]
    peaks = [0 for _ in others]
    readers = [VideoReader(p) for p in (source, *others)]
    try:
        for frames in zip(*readers, strict=True):
            index = frames[0].index
            if index % every:
                continue
            box = boxes[index]
            for k, frame in enumerate(frames[1:]):
                diff = cv2.absdiff(frames[0].rgb, frame.rgb)
                peaks[k] = max(peaks[k], int(diff.max()))
                hists[k] += np.bincount(diff.ravel(), minlength=256)
                if box is not None:  # take the face crop (and a margin) out of the comparison
                    x0, y0, x1, y1 = box
                    m = margin * (x1 - x0)
                    face = diff[max(0, int(y0 - m)) : int(y1 + m) + 1, max(0, int(x0 - m)) : int(x1 + m) + 1]
                    hists[k] -= np.bincount(face.ravel(), minlength=256)
    finally:
        for r in readers:
            r.close()
    out = []
    for hist, peak in zip(hists, peaks, strict=True):
        total = hist.sum()
        mean = float((hist * np.arange(256)).sum() / total)
        out.append((mean, float(np.searchsorted(np.cumsum(hist), 0.999 * total)), peak))
    return out


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".") or p.suffix == ".part")


# --------------------------------------------------------------------------- the must-shows


def test_movie_hello_keeps_frames_rate_size_length_audio_and_background(tmp_path, movie_hello, checkpoints):
    out = tmp_path / "hello_happy.mp4"
    result = translate(movie_hello, out, to="happy", checkpoint=checkpoints["conditional"], progress=False)
    src, dst = probe_video(movie_hello), probe_video(out)
    # the input's index lists 250 frames, but its edit list hides the last one: players (and our reader)
    # show 249, and so does the output
    assert _decoded_frames(movie_hello) == _decoded_frames(out) == dst.frame_count == result.frames == 249
    assert dst.fps == pytest.approx(src.fps, rel=1e-4)
    assert (dst.width, dst.height) == (src.width, src.height) == (1280, 720)
    assert dst.duration == pytest.approx(src.duration, abs=1.01 / src.fps)
    assert result.faces == 249 and result.passed_through == 0 and result.audio == "copied"
    # AAC copied packet for packet: the decoded samples are identical
    assert dst.audio_codec == src.audio_codec == "aac"
    a, b = _audio_samples(movie_hello), _audio_samples(out)
    assert a.shape == b.shape and np.array_equal(a, b)
    # outside the face crop only codec noise: as close to the input as a plain re-encode of it
    boxes = _face_boxes(movie_hello)
    (mean, p999, peak), (noise_mean, noise_p999, _) = _background_differences(
        movie_hello, [out, _reencode(movie_hello, tmp_path)], boxes, every=2
    )
    assert mean <= noise_mean + 0.1 and p999 <= noise_p999 + 2
    assert peak > 60  # inside the crop the model did redraw the face (a random tiny model changes it a lot)


def test_movie_avi_pcm_audio_survives_and_side_by_side(tmp_path, movie_avi, checkpoints):
    out, side = tmp_path / "avi_happy.mp4", tmp_path / "compare.mp4"
    result = translate(movie_avi, out, to="happy", checkpoint=checkpoints["paired"], side_by_side=side, progress=False)
    src, dst, sbs = probe_video(movie_avi), probe_video(out), probe_video(side)
    assert src.audio_codec == "pcm_u8" and dst.audio_codec == "aac"
    assert dst.frame_count == sbs.frame_count == src.frame_count == 68
    assert dst.fps == pytest.approx(src.fps, rel=1e-4)
    assert (dst.width, dst.height) == (160, 120) and (sbs.width, sbs.height) == (320, 120)
    assert dst.duration == pytest.approx(src.duration, abs=1.0 / src.fps)
    a, b = load_audio(movie_avi), load_audio(out)
    assert abs(len(a) - len(b)) <= 16_000 / src.fps  # same duration within one frame
    n = min(len(a), len(b))
    assert np.corrcoef(a[:n], b[:n])[0, 1] > 0.99
    assert result.source == "neutral" and result.to == "happy" and result.mask == "half"
    boxes = _face_boxes(movie_avi)
    (mean, _, _), (noise_mean, _, _) = _background_differences(movie_avi, [out, _reencode(movie_avi, tmp_path)], boxes)
    assert mean <= noise_mean + 0.1
    # left half of the side-by-side video is the source
    with VideoReader(side) as rs, VideoReader(movie_avi) as ri:
        first_side, first_src = next(iter(rs)).rgb, next(iter(ri)).rgb
    assert np.abs(first_side[:, :160].astype(int) - first_src).mean() < 3.0


def test_frames_without_a_face_pass_through_untouched(tmp_path, movie_avi, checkpoints):
    src = tmp_path / "gap.mp4"
    with VideoWriter(src, 15, 160, 120, audio_from=movie_avi) as writer, VideoReader(movie_avi) as reader:
        for frame in reader:
            writer.write(np.full_like(frame.rgb, 90) if 20 <= frame.index < 30 else frame.rgb)
    out = tmp_path / "out.mp4"
    result = translate(src, out, to="happy", checkpoint=checkpoints["paired"], progress=False)
    assert result.frames == 68 and result.passed_through == 10 and result.faces == 58
    assert result.missing_ranges == [(20, 29)]
    assert "no face in frames 20-29" in result.describe()
    with VideoReader(out) as reader:
        for frame in reader:
            if 20 <= frame.index < 30:
                assert np.abs(frame.rgb.astype(int) - 90).max() <= 2


def test_face_track_file_is_used_instead_of_tracking(tmp_path, movie_avi, checkpoints):
    track = tmp_path / "faces.json"
    assert main(["faces", str(movie_avi), "--json", str(track), "-q"]) == 0
    out = tmp_path / "out.mp4"
    result = translate(movie_avi, out, to="sad", checkpoint=checkpoints["paired_full"], faces=track, progress=False)
    assert result.faces == 68 and result.mask == "full"
    data = json.loads(track.read_text())
    data["frames"] = data["frames"][:30]
    short = tmp_path / "short.json"
    short.write_text(json.dumps(data))
    with pytest.raises(TranslationError, match=r"short\.json: has no record for frame 30"):
        translate(movie_avi, tmp_path / "x.mp4", to="sad", checkpoint=checkpoints["paired_full"], faces=short)
    assert not (tmp_path / "x.mp4").exists() and not _leftovers(tmp_path)


# --------------------------------------------------------------------------- bad input


def _cli_fails(capsys, args: list[str], match: str) -> str:
    assert main(["translate", *args, "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("wav2lip-emotion: error: ") and len(err.splitlines()) == 1, err
    assert match in err, err
    return err


def test_video_without_any_face_is_an_error_and_writes_nothing(tmp_path, movie_avi, checkpoints, capsys):
    src = tmp_path / "noface.mp4"
    y, x = np.mgrid[0:120, 0:160]
    with VideoWriter(src, 15, 160, 120, audio_from=movie_avi) as writer:
        for i in range(30):
            writer.write(np.stack([(x + i) % 256, (y * 2) % 256, (x + y) % 256], -1).astype(np.uint8))
    out, side = tmp_path / "out.mp4", tmp_path / "side.mp4"
    _cli_fails(
        capsys,
        [
            str(src),
            "-o",
            str(out),
            "--to",
            "happy",
            "--checkpoint",
            str(checkpoints["paired"]),
            "--side-by-side",
            str(side),
        ],
        "noface.mp4: no face was found in any of its 30 frames; nothing was written",
    )
    assert not out.exists() and not side.exists() and not _leftovers(tmp_path)


def test_video_without_audio_is_an_error(tmp_path, movie_avi, checkpoints, capsys):
    src = tmp_path / "silent.mp4"
    with VideoWriter(src, 15, 160, 120) as writer, VideoReader(movie_avi) as reader:
        for frame in reader:
            writer.write(frame.rgb)
    out = tmp_path / "out.mp4"
    _cli_fails(
        capsys,
        [str(src), "-o", str(out), "--to", "happy", "--checkpoint", str(checkpoints["paired"])],
        "silent.mp4: has no audio stream",
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("name", "extra", "match"),
    [
        ("paired", ["--to", "sad"], "translates neutral -> happy; it cannot make sad faces"),
        ("paired", ["--to", "happy", "--from", "sad"], "it was not trained for sad -> happy"),
        ("paired", ["--to", "happy", "--intensity", "0.5"], "a paired model has no intensity control"),
        ("conditional", ["--to", "angry"], "trained on happy, neutral, sad; it cannot make angry faces"),
        ("conditional", ["--to", "happy", "--from", "fear"], "--from fear is not one of them"),
        ("wav2lip", ["--to", "happy"], "is a wav2lip-stage lip-sync model trained without emotion pairs"),
        ("syncnet", ["--to", "happy"], "is a SyncNet lip-sync expert checkpoint, not a generator"),
        ("paired", ["--to", "happy", "--mask", "full"], "was trained with the half mask; --mask full"),
        ("conditional", ["--to", "happy", "--intensity", "7"], "intensity must be in 0..1"),
        ("conditional", ["--to", "joyful"], "unknown emotion 'joyful'"),
    ],
)
def test_checkpoint_that_cannot_do_the_request_is_an_error(
    tmp_path, movie_avi, checkpoints, capsys, name, extra, match
):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"an older result")  # an existing file is left untouched
    _cli_fails(capsys, [str(movie_avi), "-o", str(out), "--checkpoint", str(checkpoints[name]), *extra], match)
    assert out.read_bytes() == b"an older result" and not _leftovers(tmp_path)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["missing.mp4", "-o", "{tmp}/o.mp4"], "missing.mp4: no such video file"),
        (["{avi}", "-o", "{tmp}/o.avi"], "o.avi: translate writes H.264 video in an MP4 container"),
        (["{avi}", "-o", "{tmp}/nodir/o.mp4"], "does not exist"),
        (["{avi}", "-o", "{tmp}/o.mp4", "--checkpoint", "{tmp}/none.safetensors"], "none.safetensors: no such"),
        (["{tmp}/corrupt.mp4", "-o", "{tmp}/o.mp4"], "corrupt.mp4:"),
        (["{avi}", "-o", "{tmp}/o.mp4", "--faces", "{tmp}/corrupt.mp4"], "corrupt.mp4: not a face-track JSON"),
    ],
)
def test_bad_paths_are_one_line_errors(tmp_path, movie_avi, checkpoints, capsys, args, match):
    (tmp_path / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    filled = [a.format(tmp=tmp_path, avi=movie_avi) for a in args]
    if "--checkpoint" not in filled:
        filled += ["--checkpoint", str(checkpoints["paired"])]
    _cli_fails(capsys, [*filled, "--to", "happy"], match)
    assert not (tmp_path / "o.mp4").exists() and not _leftovers(tmp_path)


def test_failure_midway_leaves_no_output(tmp_path, movie_avi, checkpoints, monkeypatch):
    translator = EmotionTranslator.from_checkpoint(checkpoints["paired"], "happy")
    calls = {"n": 0}
    real = translator.generate

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("simulated crash in the generator")
        return real(*args, **kwargs)

    monkeypatch.setattr(translator, "generate", failing)
    out, side = tmp_path / "out.mp4", tmp_path / "side.mp4"
    with pytest.raises(RuntimeError, match="simulated crash"):
        translate(movie_avi, out, to="happy", translator=translator, side_by_side=side, progress=False)
    # what was finished is kept for the next run (a hidden folder), nothing under the outputs' names
    assert not out.exists() and not side.exists() and _leftovers(tmp_path) == [".out.mp4.resume"]
    calls["n"] = -100
    translate(movie_avi, out, to="happy", translator=translator, side_by_side=side, progress=False)
    assert out.exists() and side.exists() and not _leftovers(tmp_path)
    (tmp_path / "o2.mp4").unlink(missing_ok=True)
    calls["n"] = 0
    with pytest.raises(RuntimeError, match="simulated crash"):  # without pieces nothing is kept
        translate(movie_avi, tmp_path / "o2.mp4", to="happy", translator=translator, resume_every=0, progress=False)
    assert not (tmp_path / "o2.mp4").exists() and not _leftovers(tmp_path)


def test_a_stopped_learned_run_goes_on_with_the_frames_of_an_uninterrupted_one(
    tmp_path, movie_avi, checkpoints, monkeypatch
):
    """An official checkpoint whose mask is inferred from the first faces, stopped by a crash in the
    generator: run again, it keeps the finished pieces, tracks the frames before them without
    generating, uses the mask inferred by the first run and hands the encoder the frames of a run that
    never stopped, to the bit; the counts are the whole video's."""
    every = 16 / probe_video(movie_avi).fps  # pieces of 16 frames
    written: list[np.ndarray] = []
    write = VideoWriter.write

    def keep(self, rgb):  # type: ignore[no-untyped-def]
        written.append(np.array(rgb))
        write(self, rgb)

    monkeypatch.setattr(VideoWriter, "write", keep)
    options = {"to": "happy", "checkpoint": checkpoints["official"], "resume_every": every, "progress": False}
    whole = translate(movie_avi, tmp_path / "whole.mp4", **options)
    expected, written[:] = list(written), []
    assert len(expected) == whole.frames == 68

    generate, calls = EmotionTranslator.generate, {"n": 0}

    def failing(self, *args):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 8:  # frames 56-63
            raise RuntimeError("power cut")
        return generate(self, *args)

    with monkeypatch.context() as m:
        m.setattr(EmotionTranslator, "generate", failing)
        with pytest.raises(RuntimeError, match="power cut"):
            translate(movie_avi, tmp_path / "out.mp4", **options)
    assert not (tmp_path / "out.mp4").exists() and (tmp_path / ".out.mp4.resume").is_dir()
    written[:] = []
    again = translate(movie_avi, tmp_path / "out.mp4", **options)
    kept = [n for n in again.notes if n.startswith("resumed an unfinished run")]
    assert kept, again.notes
    skip = 68 - len(written)
    assert skip >= 16 and skip % 16 == 0 and f"frames 0-{skip - 1} were kept" in kept[0]
    for i, (a, b) in enumerate(zip(expected[skip:], written, strict=True)):
        assert np.array_equal(a, b), f"frame {skip + i} differs"
    assert (again.frames, again.faces, again.missing_ranges, again.mask, again.mask_probe) == (
        whole.frames, whole.faces, whole.missing_ranges, whole.mask, whole.mask_probe
    )  # fmt: skip
    assert probe_video(tmp_path / "out.mp4").frame_count == 68 and not _leftovers(tmp_path)


def test_each_stage_runs_on_its_own(tmp_path, movie_avi, checkpoints):
    """The stages translate() runs, called one by one on the tiny clip: open, plan, faces, generator,
    paste + encode, finish."""
    source = open_input(movie_avi)
    assert source.info.frame_count == 68 and source.mel.shape[0] == 80
    out = tmp_path / "staged.mp4"
    config = TranslateConfig(to="happy", checkpoint=checkpoints["paired"], device="cpu", progress=False)
    plan = plan_translation(source, out, config)
    assert plan.batch_size == CPU_BATCH and plan.cpu and plan.codec_threads == 1
    assert plan.crop.size == plan.translator.face_size and plan.result.to == "happy" and plan.result.frames == 0
    faces = FaceStage(plan, source)
    with VideoReader(movie_avi) as reader:
        works = [faces(frame) for frame, _ in zip(reader, range(6), strict=False)]
    assert [w.index for w in works] == list(range(6))
    assert all(w.mel is not None and w.mel.shape == (1, 80, MEL_WINDOW) for w in works)
    faced = [w for w in works if w.face is not None]
    assert faced and all(w.face.shape == (plan.crop.size, plan.crop.size, 3) for w in faced)
    generator = GeneratorStage(plan, contextlib.nullcontext)
    generator(works)
    assert all(w.generated is not None and w.generated.shape == w.face.shape for w in faced)
    assert generator.seconds > 0 and generator.mask_probe is None  # the checkpoint records its mask
    tally = Tally()
    tally.add(works)
    with Encoders(plan, source) as encoders:
        paste = PasteStage(plan, encoders)
        for w in works:
            paste(w)
        assert not out.exists()  # only finish renames the output into place
        result = finish(plan, tally, generator, encoders, time.perf_counter())
    assert result.frames == 6 and result.faces == len(faced) and result.mask == "half"
    assert probe_video(out).frame_count == 6 and not _leftovers(tmp_path)


def test_plan_reports_bad_input_before_any_frame_is_decoded(tmp_path, movie_avi, checkpoints, monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("a frame was decoded")

    monkeypatch.setattr("wav2lip_emotion.translation.model_run.VideoReader", no_decoding)
    source = open_input(movie_avi)
    bad_faces = tmp_path / "faces.json"
    bad_faces.write_text("{}")
    config = TranslateConfig(to="happy", checkpoint=checkpoints["paired"], faces=bad_faces, progress=False)
    with pytest.raises(ConfigError, match="has no 'frames' list"):
        plan_translation(source, tmp_path / "o.mp4", config)
    with pytest.raises(TranslationError, match="cannot make sad faces"):
        translate(movie_avi, tmp_path / "o.mp4", to="sad", checkpoint=checkpoints["paired"], progress=False)
    assert not _leftovers(tmp_path) and not (tmp_path / "o.mp4").exists()


def test_conveyor_keeps_the_order_and_raises_worker_errors_on_the_caller():
    delivered: list[int] = []
    counts: list[int] = []
    with Conveyor(frames_capacity=4, exclusive_generator=True, label="out.mp4") as conveyor:
        conveyor.start(iter(range(7)), lambda i: 2 * i, delivered.append, counts.append)
        sizes = []
        for batch in conveyor.batches(3):
            sizes.append(len(batch))
            conveyor.send(batch)
        conveyor.finish()
    assert delivered == [0, 2, 4, 6, 8, 10, 12] and sizes == counts == [3, 3, 1]

    def bad_frame(i: int) -> int:
        if i == 5:
            raise ValueError("frame 5 is broken")
        return i

    got: list[int] = []
    with Conveyor(frames_capacity=4, exclusive_generator=False, label="out.mp4") as conveyor:
        conveyor.start(iter(range(10)), bad_frame, lambda w: None, lambda n: None)
        with pytest.raises(ValueError, match="frame 5 is broken"):
            for batch in conveyor.batches(2):
                got += batch
                conveyor.send(batch)
    assert got == [0, 1, 2, 3]

    def disk_full(w: int) -> None:
        if w == 3:
            raise OSError("disk full")

    with Conveyor(frames_capacity=4, exclusive_generator=True, label="out.mp4") as conveyor:
        conveyor.start(iter(range(10)), lambda i: i, disk_full, lambda n: None)
        with pytest.raises(OSError, match="disk full"):
            for batch in conveyor.batches(2):
                conveyor.send(batch)
            conveyor.finish()


# --------------------------------------------------------------------------- models, requests, masks


def test_official_pth_runs_with_inferred_mask_and_a_note(tmp_path, movie_avi, checkpoints):
    result = translate(movie_avi, tmp_path / "o.mp4", to="happy", checkpoint=checkpoints["official"], progress=False)
    assert result.frames == 68 and result.mask in ("half", "full")
    assert result.mask_probe is not None and "mask inferred as" in result.mask_probe
    assert any("does not record which emotions" in n for n in result.notes)
    given = translate(
        movie_avi, tmp_path / "p.mp4", to="happy", checkpoint=checkpoints["official"], mask="full", progress=False
    )
    assert given.mask == "full" and given.mask_probe is None


def test_official_paper_size_generator_translates_as_is(tmp_path, movie_avi, official_shapes):
    """The published generator layout (keys and shapes of the official checkpoint) runs the pipeline at 96 px,
    and the folded network computes what the original layout computes."""
    shapes = official_shapes["wav2lip_generator"]
    ckpt = save_official(tmp_path / "wav2lip_gan.pth", deterministic_state_dict(shapes))
    result = translate(
        movie_avi, tmp_path / "o.mp4", to="happy", checkpoint=ckpt, mask="half", progress=False, batch_size=16
    )
    assert result.frames == result.faces == 68 and "paper profile, 96 px" in result.model
    translator = EmotionTranslator.from_checkpoint(ckpt, "happy", mask="half")
    original = Wav2LipGenerator("paper").eval()
    original.load_state_dict({k.removeprefix("module."): v for k, v in torch.load(ckpt)["state_dict"].items()})
    audio, faces = torch.randn(2, 1, 80, 16), torch.rand(2, 6, 96, 96)
    with torch.inference_mode():
        # float32 summation order differs (folded weights, channels-last kernels): 3e-4 here, < 0.1 grey level
        assert torch.allclose(translator.model(audio, faces), original(audio, faces), atol=1e-3)


def test_conditional_request_source_and_intensity(tmp_path, movie_avi, checkpoints):
    result = translate(
        movie_avi,
        tmp_path / "o.mp4",
        to="sad",
        source="happiness",
        intensity=2,
        checkpoint=checkpoints["conditional"],
        progress=False,
        batch_size=5,
    )
    assert (result.source, result.to, result.intensity) == ("happy", "sad", pytest.approx(2 / 3))
    assert result.frames == 68


def test_intensity_scales():
    assert parse_intensity(None) is None
    assert parse_intensity(0) == 0.0 and parse_intensity(0.4) == 0.4 and parse_intensity(1) == 1.0
    assert parse_intensity(2) == pytest.approx(2 / 3) and parse_intensity(3) == 1.0
    for bad in (-0.1, 3.5, float("nan"), "x"):
        with pytest.raises(ConfigError):
            parse_intensity(bad)  # type: ignore[arg-type]


def test_resolve_request_rules(tmp_path):
    base = {"path": tmp_path / "m.safetensors", "source": "native", "profile": "tiny", "face_size": 48}
    paired = GeneratorCard(kind="generator", stage="emotion", pairs=(("neutral", "happy"), ("sad", "happy")), **base)
    assert resolve_request(paired, "happy", None, None).source is None  # two sources: left open
    assert resolve_request(paired, "happy", "sad", 1.0).source == "sad"
    single = GeneratorCard(kind="generator", stage="emotion", pairs=(("neutral", "happy"),), **base)
    assert resolve_request(single, "happy", None, None).source == "neutral"
    cond = GeneratorCard(kind="conditional_generator", stage="conditional", emotions=("happy", "neutral"), **base)
    assert resolve_request(cond, "neutral", None, 0.25).intensity == 0.25
    official = GeneratorCard(kind="generator", **{**base, "source": "official"})
    assert resolve_request(official, "sad", None, None).notes


class _CopiesPrior(nn.Module):
    """Stands in for a half-mask model: draws what the pose prior shows (black where it is blanked)."""

    def forward(self, audio: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        return faces[:, :3] * 0.9 + faces[:, 3:] * 0.1


class _CopiesReference(nn.Module):
    """Stands in for a full-mask model: redraws the face from the reference."""

    def forward(self, audio: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        return faces[:, 3:]


@pytest.mark.parametrize(("model", "expected"), [(_CopiesPrior(), MaskMode.HALF), (_CopiesReference(), MaskMode.FULL)])
def test_mask_probe_tells_half_from_full_models(tmp_path, model, expected):
    card = GeneratorCard(path=tmp_path / "x.pth", source="official", kind="generator", profile="tiny", face_size=48)
    translator = EmotionTranslator(model, card, Request("happy", None, 1.0), fold=False)
    rng = np.random.default_rng(0)
    crops = rng.integers(80, 220, size=(4, 48, 48, 3), dtype=np.uint8)
    hulls = np.zeros((4, 48, 48), bool)
    hulls[:, 6:44, 8:40] = True
    probe = translator.infer_mask(np.zeros((4, 1, 80, 16), np.float32), crops, hulls)
    assert probe.mask is expected and translator.mask is expected
    assert (probe.darkening > 0.5) == (expected is MaskMode.HALF)


@pytest.mark.parametrize("kind", ["plain", "conditional"])
def test_batchnorm_folding_keeps_the_outputs(kind):
    torch.manual_seed(1)
    model = _randomise_batchnorm(Wav2LipGenerator("tiny") if kind == "plain" else ConditionalGenerator("tiny")).eval()
    folded = fold_batchnorm(model)
    assert count_batchnorms(model) > 0 and count_batchnorms(folded) == 0
    audio, faces = torch.randn(3, 1, 80, 16), torch.rand(3, 6, 48, 48)
    with torch.inference_mode():
        if kind == "plain":
            a, b = model(audio, faces), folded(audio, faces)
        else:
            a, b = model(audio, faces, "happy", None, 0.7), folded(audio, faces, "happy", None, 0.7)
    assert torch.allclose(a, b, atol=1e-5)
    assert count_batchnorms(model) > 0  # the original is untouched


def test_package_level_api_and_config(tmp_path):
    import wav2lip_emotion

    assert wav2lip_emotion.translate is translate
    cfg = TranslateConfig(to="Joy", source="calm", mask="FULL", intensity=3)
    assert (cfg.to, cfg.source, cfg.mask, cfg.intensity) == ("happy", "neutral", MaskMode.FULL, 1.0)
    with pytest.raises(ConfigError, match="device"):
        TranslateConfig(to="happy", device="tpu")
    with pytest.raises(ConfigError, match="batch size"):
        TranslateConfig(to="happy", batch_size=0)


def test_a_one_off_setting_does_not_stick(tmp_path, movie_avi, checkpoints):
    """translate() restores torch's thread count and the mask of a translator the caller passed in, so a
    one-off ``threads=`` or ``mask=`` does not leak into the next video."""
    translator = EmotionTranslator.from_checkpoint(checkpoints["paired"], "happy", mask="half")
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    translate(movie_avi, tmp_path / "o.mp4", to="happy", translator=translator, threads=wanted, mask="full",
              progress=False)  # fmt: skip
    assert torch.get_num_threads() == before
    assert translator.mask is MaskMode.HALF
