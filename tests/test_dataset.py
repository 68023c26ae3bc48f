"""TalkingFaceDataset: tensors, alignment of frames and mel, masking, roles, seeding, failures."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from wav2lip_emotion.audio import mel_start_index, sync_mel_windows
from wav2lip_emotion.data.cache import CachedVideo, CacheInfo, FaceCache, FaceCacheWriter, write_json_atomic
from wav2lip_emotion.data.dataset import DataError, SampleConfig, TalkingFaceDataset
from wav2lip_emotion.data.plans import audio_window_ok
from wav2lip_emotion.errors import ConfigError, Wav2LipEmotionError
from wav2lip_emotion.perception.emotions import EMOTIONS

S = 16  # face size of the fake caches
FPS = 25.0
T = 5


# ------------------------------------------------------------------------------------ fake caches


def mel_for(frames: int, fill: float) -> np.ndarray:
    """Row 0: column j = j / 1000 (alignment); row 1: the video's fill (which video); rest 0."""
    steps = int(80 * frames / FPS) + 1
    mel = np.zeros((80, steps), np.float32)
    mel[0] = np.arange(steps) / 1000.0
    mel[1] = fill
    return mel


def fake_mask() -> np.ndarray:
    mask = np.zeros((S, S), np.uint8)
    mask[4:14, 3:13] = 255  # leaves the top-left pixel (which holds the frame index) outside
    return mask


def add_video(
    root: Path,
    vid: str,
    *,
    frames: int = 40,
    fill: int = 50,
    no_face: set[int] | frozenset[int] = frozenset(),
    mel_frames: int | None = None,
    emotion: str | None = "neutral",
    level: int | None = None,
) -> None:
    """Frame i: channel 0 = 100 everywhere except pixel (0, 0) = i; channel 1 = ``fill``; channel 2 = 200."""
    writer = FaceCacheWriter(root, vid, S)
    for i in range(frames):
        if i in no_face:
            writer.add(None, None)
            continue
        crop = np.zeros((S, S, 3), np.uint8)
        crop[..., 0] = 100
        crop[0, 0, 0] = i
        crop[..., 1] = fill
        crop[..., 2] = 200
        writer.add(crop, fake_mask())
    mel = mel_for(frames if mel_frames is None else mel_frames, fill / 100.0)
    actor, sentence = vid.split("/")[0], vid.split("/")[-1]
    writer.commit(
        mel,
        CachedVideo(
            id=vid,
            actor=actor,
            sentence=sentence,
            emotion=emotion,
            level=level,
            view="front",
            gender=None,
            frames=frames,
            found=frames - len(no_face),
            mel_steps=mel.shape[1],
            source=f"{vid}.mp4",
            audio_source=f"{vid}.mp4",
        ),
    )


def new_cache(root: Path) -> Path:
    write_json_atomic(root / "cache.json", asdict(CacheInfo(size=S, fps=FPS, padding=0.1, layout="world")))
    return root


@dataclass(frozen=True)
class Pair:
    """Stand-in for wav2lip_emotion.data.pairing.Pair (only what the dataset reads)."""

    source: Any
    destination: Any
    source_emotion: str | None
    destination_emotion: str | None
    destination_level: int | None


class Pairs(list):
    """Stand-in for PairIndex: a list of pairs with an optional PairingConfig-like ``config``."""

    def __init__(self, pairs: list[Pair], config: Any = None) -> None:
        super().__init__(pairs)
        self.config = config


def rec(vid: str) -> SimpleNamespace:
    return SimpleNamespace(id=vid)


def pair(src: str, dst: str, se: str | None = "neutral", de: str | None = "happy", level: int | None = 3) -> Pair:
    return Pair(rec(src), rec(dst), se, de, level)


SRC_FILL, DST_FILL = 40, 160


@pytest.fixture(scope="module")
def mead(tmp_path_factory: pytest.TempPathFactory) -> FaceCache:
    """Two actors; neutral (source) and happy (destination) of one sentence each, different lengths."""
    root = new_cache(tmp_path_factory.mktemp("mead"))
    for actor in ("A1", "A2"):
        add_video(root, f"{actor}/neutral/001", frames=37, fill=SRC_FILL, emotion="neutral")
        add_video(root, f"{actor}/happy/001", frames=43, fill=DST_FILL, emotion="happy", level=3)
    add_video(root, "lrs2/clip", frames=30, fill=90, emotion=None)
    return FaceCache(root)


def translation_pairs(config: Any = None) -> Pairs:
    return Pairs([pair(f"{a}/neutral/001", f"{a}/happy/001") for a in ("A1", "A2")], config)


def frame_index(window: torch.Tensor) -> list[int]:
    """Frame indices encoded in pixel (0, 0) of channel 0 of a [3, T, H, W] window in [0, 1]."""
    return [round(float(v) * 255) for v in window[0, :, 0, 0]]


def fill_of(window: torch.Tensor) -> int:
    return round(float(window[1, 0, 0, 0]) * 255)


# ------------------------------------------------------------------------------------ tests


def test_shapes_dtypes_and_ranges(mead: FaceCache) -> None:
    ds = TalkingFaceDataset(mead, translation_pairs(), SampleConfig(samples_per_epoch=20))
    assert len(ds) == 20
    for i in range(len(ds)):
        s = ds[i]
        assert s["faces"].shape == (6, T, S, S) and s["faces"].dtype == torch.float32
        assert s["targets"].shape == (3, T, S, S) and s["targets"].dtype == torch.float32
        assert s["mels"].shape == (T, 1, 80, 16) and s["mels"].dtype == torch.float32
        assert s["mel"].shape == (1, 80, 16) and s["mel"].dtype == torch.float32
        for key in ("faces", "targets"):
            assert float(s[key].min()) >= 0.0 and float(s[key].max()) <= 1.0
        assert s["source_emotion"].dtype == torch.int64 and s["destination_emotion"].dtype == torch.int64
        assert s["intensity"].dtype == torch.float32
        assert isinstance(s["pair_index"], int) and isinstance(s["target_start"], int)
        assert isinstance(s["reference_start"], int)


def test_mel_alignment_and_sync_windows(mead: FaceCache) -> None:
    ds = TalkingFaceDataset(mead, translation_pairs(), SampleConfig(samples_per_epoch=30))
    for i in range(len(ds)):
        s = ds[i]
        start = s["target_start"]
        dst = translation_pairs()[s["pair_index"]].destination.id
        mel = mead.mel(dst)
        m0 = int(80 * start / 25)
        assert torch.equal(s["mel"][0], torch.from_numpy(np.array(mel[:, m0 : m0 + 16])))
        assert abs(float(s["mel"][0, 0, 0]) - m0 / 1000) < 1e-6
        for k in range(T):
            first = int(80 * (start + k - 2) / 25)
            assert abs(float(s["mels"][k, 0, 0, 0]) - first / 1000) < 1e-6
            assert torch.equal(s["mels"][k, 0], torch.from_numpy(np.array(mel[:, first : first + 16])))
        # audio and target lips from the same video: the destination's fill is in mel row 1
        assert abs(float(s["mel"][0, 1, 0]) - DST_FILL / 100) < 1e-6
        assert start >= 2


def test_targets_from_destination_reference_from_source(mead: FaceCache) -> None:
    ds = TalkingFaceDataset(mead, translation_pairs(), SampleConfig(samples_per_epoch=20))
    for i in range(len(ds)):
        s = ds[i]
        start, ref = s["target_start"], s["reference_start"]
        assert fill_of(s["targets"]) == DST_FILL
        assert frame_index(s["targets"]) == list(range(start, start + T))
        reference = s["faces"][3:]
        assert fill_of(reference) == SRC_FILL
        assert frame_index(reference) == list(range(ref, ref + T))
        assert torch.equal(reference, reference.clamp(0, 1))


def test_half_mask_prior(mead: FaceCache) -> None:
    ds = TalkingFaceDataset(mead, translation_pairs(), SampleConfig(mask="half", samples_per_epoch=10))
    for i in range(len(ds)):
        s = ds[i]
        prior, targets = s["faces"][:3], s["targets"]
        assert torch.equal(prior[:, :, : S // 2], targets[:, :, : S // 2])
        assert float(prior[:, :, S // 2 :].abs().max()) == 0.0


def test_full_mask_prior(mead: FaceCache) -> None:
    ds = TalkingFaceDataset(mead, translation_pairs(), SampleConfig(mask="full", samples_per_epoch=10))
    inside = torch.from_numpy(fake_mask() > 127)
    for i in range(len(ds)):
        s = ds[i]
        prior, targets = s["faces"][:3], s["targets"]
        assert float(prior[:, :, inside].abs().max()) == 0.0
        assert torch.equal(prior[:, :, ~inside], targets[:, :, ~inside])
        assert float(prior[:, :, S // 2 :][:, :, :, :2].min()) > 0  # lower half outside the hull is kept


def test_targets_and_prior_from_switches(mead: FaceCache) -> None:
    ds = TalkingFaceDataset(mead, translation_pairs(), SampleConfig(targets_from="source", samples_per_epoch=10))
    for i in range(len(ds)):
        s = ds[i]
        assert fill_of(s["targets"]) == SRC_FILL
        assert abs(float(s["mel"][0, 1, 0]) - SRC_FILL / 100) < 1e-6  # audio follows the targets
        assert fill_of(s["faces"][:3]) == DST_FILL  # the prior stays the destination's
        start = s["target_start"]
        assert frame_index(s["faces"][:3]) == list(range(start, start + T))
        # targets and reference come from the same video now: the windows must not overlap
        assert abs(s["reference_start"] - start) >= T
    ds = TalkingFaceDataset(mead, translation_pairs(), SampleConfig(prior_from="source", samples_per_epoch=10))
    for i in range(len(ds)):
        s = ds[i]
        assert fill_of(s["faces"][:3]) == SRC_FILL
        assert fill_of(s["targets"]) == DST_FILL
        assert frame_index(s["faces"][:3]) == frame_index(s["targets"])


def test_settings_come_from_the_pairing_config(mead: FaceCache) -> None:
    pairing = SimpleNamespace(mask="full", targets_from="source", prior_from="source")
    ds = TalkingFaceDataset(mead, translation_pairs(pairing), SampleConfig(samples_per_epoch=4))
    assert (ds.config.mask, ds.config.targets_from, ds.config.prior_from) == ("full", "source", "source")
    s = ds[0]
    assert fill_of(s["targets"]) == SRC_FILL and fill_of(s["faces"][:3]) == SRC_FILL
    # an explicit setting wins over the pairing's
    ds = TalkingFaceDataset(mead, translation_pairs(pairing), SampleConfig(mask="half"))
    assert ds.config.mask == "half" and ds.config.targets_from == "source"
    # no pairing config: half / destination / destination
    plain = SampleConfig().resolved(None)
    assert (plain.mask, plain.targets_from, plain.prior_from) == ("half", "destination", "destination")


def test_same_video_mode_windows_do_not_overlap(mead: FaceCache) -> None:
    pairs = Pairs([pair("lrs2/clip", "lrs2/clip", None, None, None)])
    ds = TalkingFaceDataset(mead, pairs, SampleConfig(samples_per_epoch=60))
    for i in range(len(ds)):
        s = ds[i]
        assert abs(s["reference_start"] - s["target_start"]) >= T
        assert fill_of(s["targets"]) == 90 and fill_of(s["faces"][3:]) == 90
        assert int(s["source_emotion"]) == -1 and int(s["destination_emotion"]) == -1
        assert float(s["intensity"]) == 0.0


def test_emotion_indices_and_intensity(mead: FaceCache) -> None:
    ds = TalkingFaceDataset(mead, translation_pairs(), SampleConfig(samples_per_epoch=2))
    s = ds[0]
    assert int(s["source_emotion"]) == EMOTIONS.index("neutral")
    assert int(s["destination_emotion"]) == EMOTIONS.index("happy")
    assert float(s["intensity"]) == pytest.approx(1.0)
    back = Pairs([pair("A1/happy/001", "A1/neutral/001", "happy", "neutral", 3)])
    s = TalkingFaceDataset(mead, back)[0]
    assert float(s["intensity"]) == 0.0 and int(s["destination_emotion"]) == EMOTIONS.index("neutral")
    two = Pairs([pair("A1/neutral/001", "A1/happy/001", "neutral", "happiness", 2)])
    assert float(TalkingFaceDataset(mead, two)[0]["intensity"]) == pytest.approx(2 / 3)


def test_frames_without_a_face_are_never_used(tmp_path: Path) -> None:
    root = new_cache(tmp_path)
    gaps_src, gaps_dst = {0, 9, 10, 22}, {4, 15, 16, 30}
    add_video(root, "A/neutral/001", frames=36, fill=SRC_FILL, no_face=gaps_src)
    add_video(root, "A/happy/001", frames=36, fill=DST_FILL, no_face=gaps_dst)
    cache = FaceCache(root)
    for prior_from in ("destination", "source"):
        cfg = SampleConfig(samples_per_epoch=200, prior_from=prior_from)
        ds = TalkingFaceDataset(cache, Pairs([pair("A/neutral/001", "A/happy/001")]), cfg)
        prior_gaps = gaps_dst if prior_from == "destination" else gaps_src
        for i in range(len(ds)):
            s = ds[i]
            targets = set(range(s["target_start"], s["target_start"] + T))
            reference = set(range(s["reference_start"], s["reference_start"] + T))
            assert not targets & gaps_dst and not targets & prior_gaps and not reference & gaps_src
            assert float(s["targets"].min()) > 0  # a frame without a face would be black


def test_reproducible_per_seed_and_epoch(mead: FaceCache) -> None:
    def draws(ds: TalkingFaceDataset) -> list[tuple[int, int, int]]:
        return [(ds[i]["pair_index"], ds[i]["target_start"], ds[i]["reference_start"]) for i in range(len(ds))]

    cfg = SampleConfig(samples_per_epoch=24, seed=7)
    a = TalkingFaceDataset(mead, translation_pairs(), cfg)
    b = TalkingFaceDataset(mead, translation_pairs(), cfg)
    assert draws(a) == draws(b)
    first = draws(a)
    assert torch.equal(a[3]["faces"], b[3]["faces"])
    a.set_epoch(1)
    assert a.epoch == 1
    assert draws(a) != first
    a.set_epoch(0)
    assert draws(a) == first
    c = TalkingFaceDataset(mead, translation_pairs(), SampleConfig(samples_per_epoch=24, seed=8))
    assert draws(c) != first
    # every pair is visited, in proportion to its usable windows
    assert {p for p, _, _ in first} == {0, 1}


def test_default_length_follows_the_windows(mead: FaceCache) -> None:
    ds = TalkingFaceDataset(mead, translation_pairs())
    expected = sum(max(1, len(p.target_starts) // T) for p in ds.plans)
    assert len(ds) == expected > 2
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_audio_check_matches_sync_mel_windows() -> None:
    for frames in (7, 12, 30):
        for mel_steps in (16, 30, 40, 60, 100):
            ok = audio_window_ok(frames, mel_steps, T, FPS)
            mel = np.zeros((80, mel_steps), np.float32)
            for s in range(frames - T + 1):
                m0 = mel_start_index(s, FPS)
                expected = sync_mel_windows(mel, s, FPS, count=T) is not None and m0 + 16 <= mel_steps
                assert bool(ok[s]) == expected, (frames, mel_steps, s)


def test_unusable_pairs_raise_data_error_naming_ids(tmp_path: Path) -> None:
    root = new_cache(tmp_path)
    add_video(root, "A/short/001", frames=3)
    add_video(root, "A/noface/001", frames=40, no_face=set(range(40)) - {0, 10, 20, 30})
    add_video(root, "A/silent/001", frames=40, mel_frames=4)
    cache = FaceCache(root)
    pairs = Pairs(
        [
            pair("A/short/001", "A/short/001"),
            pair("A/noface/001", "A/noface/001"),
            pair("A/silent/001", "A/silent/001"),
            pair("A/missing/001", "A/missing/001"),
        ]
    )
    with pytest.raises(DataError) as info:
        TalkingFaceDataset(cache, pairs)
    msg = str(info.value)
    assert "A/short/001: only 3 frames" in msg
    assert "A/noface/001: no face in 90% of frames" in msg
    assert "A/silent/001: audio shorter than video" in msg
    assert "A/missing/001: not in the cache" in msg
    assert isinstance(info.value, Wav2LipEmotionError)
    with pytest.raises(DataError, match="empty"):
        TalkingFaceDataset(cache, Pairs([]))


def test_unusable_pairs_are_dropped_and_reported(tmp_path: Path) -> None:
    root = new_cache(tmp_path)
    add_video(root, "A/good/001", frames=30)
    add_video(root, "A/short/001", frames=4)
    pairs = Pairs([pair("A/short/001", "A/short/001"), pair("A/good/001", "A/good/001")])
    ds = TalkingFaceDataset(FaceCache(root), pairs, SampleConfig(samples_per_epoch=10))
    assert list(ds.dropped) == ["A/short/001"] and "only 4 frames" in ds.dropped["A/short/001"]
    assert {ds[i]["pair_index"] for i in range(len(ds))} == {1}


def test_read_failures_retry_other_pairs_then_raise(tmp_path: Path) -> None:
    root = new_cache(tmp_path)
    for a in ("A", "B"):
        add_video(root, f"{a}/neutral/001", frames=30, fill=SRC_FILL)
        add_video(root, f"{a}/happy/001", frames=30, fill=DST_FILL)
    pairs = Pairs([pair(f"{a}/neutral/001", f"{a}/happy/001") for a in ("A", "B")])
    ds = TalkingFaceDataset(FaceCache(root), pairs, SampleConfig(samples_per_epoch=8, max_retries=3))
    (root / "videos/A/happy/001/frames.npy").unlink()  # damaged after the construction check
    assert {ds[i]["pair_index"] for i in range(len(ds))} == {1}
    with pytest.raises(DataError, match="A/happy/001"):  # and found again at construction
        TalkingFaceDataset(FaceCache(root), Pairs(pairs[:1]))
    # every pair failing: a DataError naming the videos, after a bounded number of tries
    ds = TalkingFaceDataset(FaceCache(root), pairs, SampleConfig(samples_per_epoch=8, max_retries=3))
    (root / "videos/B/neutral/001/frames.npy").unlink()
    with pytest.raises(DataError) as info:
        ds[0]
    assert "B/neutral/001" in str(info.value) and "missing or damaged" in str(info.value)


def test_config_validation() -> None:
    with pytest.raises(ConfigError):
        SampleConfig(mask="lower")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        SampleConfig(targets_from="elsewhere")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        SampleConfig(max_retries=10**6)
    with pytest.raises(ConfigError):
        SampleConfig(window=0)


def test_dataloader_with_workers(mead: FaceCache) -> None:
    ds = TalkingFaceDataset(mead, translation_pairs(), SampleConfig(samples_per_epoch=16))
    loader = DataLoader(ds, batch_size=4, num_workers=2, shuffle=True, persistent_workers=True)
    epochs = []
    for epoch in range(2):
        ds.set_epoch(epoch)
        draws = []
        for batch in loader:
            assert batch["faces"].shape == (4, 6, T, S, S)
            assert batch["mels"].shape == (4, T, 1, 80, 16)
            assert batch["mel"].shape == (4, 1, 80, 16)
            assert batch["targets"].shape == (4, 3, T, S, S)
            assert batch["destination_emotion"].shape == (4,) and batch["intensity"].dtype == torch.float32
            assert batch["target_start"].dtype == torch.int64
            keys = ("pair_index", "target_start", "reference_start")
            draws += [tuple(int(batch[k][j]) for k in keys) for j in range(4)]
        epochs.append(sorted(draws))
    # workers saw the new epoch (persistent workers, shared epoch counter), so the draws changed
    assert epochs[0] != epochs[1]
    # and matched what the main process draws for the same epoch
    ds.set_epoch(1)
    again = [(ds[i]["pair_index"], ds[i]["target_start"], ds[i]["reference_start"]) for i in range(len(ds))]
    assert sorted(again) == epochs[1]


def test_roles_from_the_pairs_themselves(mead: FaceCache) -> None:
    @dataclass(frozen=True)
    class RolePair(Pair):
        targets_from: str = "destination"
        prior_from: str = "destination"
        mask: str = "full"

    base = dict(source_emotion="neutral", destination_emotion="happy", destination_level=3)
    one = RolePair(rec("A1/neutral/001"), rec("A1/happy/001"), **base, prior_from="source", mask="half")
    ds = TalkingFaceDataset(mead, [one], SampleConfig(samples_per_epoch=2))
    assert (ds.config.mask, ds.config.targets_from, ds.config.prior_from) == ("half", "destination", "source")
    other = RolePair(rec("A2/neutral/001"), rec("A2/happy/001"), **base)
    with pytest.raises(ConfigError, match="disagree"):
        TalkingFaceDataset(mead, [one, other])


def _real_pairing() -> Any:
    pairing = pytest.importorskip("wav2lip_emotion.data.pairing")
    if not hasattr(pairing, "PairIndex") or not hasattr(pairing, "PairingConfig"):
        pytest.skip("data.pairing has no PairIndex yet")
    return pairing


def test_with_the_real_pair_index(mead: FaceCache) -> None:
    pairing = _real_pairing()
    # the paper's half-mask variant: targets from the destination, prior from the source window
    config = pairing.PairingConfig.paper("neutral", "happy", mask="half", strategy="l1+emotion", views=None)
    records = [r for r in mead.records() if r.emotion is not None]
    records = [r if r.emotion == "neutral" else replace(r, level=3) for r in records]
    index = pairing.PairIndex(records, config)
    assert len(index) == 2
    ds = TalkingFaceDataset(mead, index, SampleConfig(samples_per_epoch=8))
    assert (ds.config.mask, ds.config.targets_from, ds.config.prior_from) == ("half", "destination", "source")
    for i in range(len(ds)):
        s = ds[i]
        p = index[s["pair_index"]]
        assert fill_of(s["targets"]) == DST_FILL and fill_of(s["faces"][:3]) == SRC_FILL
        assert fill_of(s["faces"][3:]) == SRC_FILL and "happy" in p.destination.id
        assert float(s["faces"][:3, :, S // 2 :].abs().max()) == 0.0
        assert int(s["destination_emotion"]) == EMOTIONS.index("happy")


def test_with_the_real_same_video_pairing(mead: FaceCache) -> None:
    pairing = _real_pairing()
    lrs2 = [r for r in mead.records() if r.id == "lrs2/clip"]
    index = pairing.PairIndex(lrs2, pairing.PairingConfig.wav2lip())
    ds = TalkingFaceDataset(mead, index, SampleConfig(samples_per_epoch=10))
    for i in range(len(ds)):
        s = ds[i]
        assert abs(s["reference_start"] - s["target_start"]) >= T
        assert frame_index(s["faces"][:3])[:1] == [s["target_start"]]
        assert int(s["destination_emotion"]) == -1
