"""End to end on a generated world: synth -> preprocess -> splits -> pairing -> training samples."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wav2lip_emotion.audio import mel_start_index
from wav2lip_emotion.data.cache import FaceCache
from wav2lip_emotion.data.dataset import SampleConfig, TalkingFaceDataset
from wav2lip_emotion.data.pairing import PairIndex, PairingConfig
from wav2lip_emotion.data.splits import read_splits, split_by_actor, write_filelists
from wav2lip_emotion.emotions import EMOTIONS


@pytest.fixture(scope="module")
def cache(tiny_world_cache) -> FaceCache:
    return FaceCache(tiny_world_cache)


def test_samples_are_aligned_and_paired(cache):
    pairs = PairIndex(cache.records(), PairingConfig.paper("neutral", "happy", mask="full"))
    assert len(pairs) == 3  # one (neutral -> happy) pair per actor and sentence
    for pair in pairs:
        assert (pair.source.actor, pair.source.sentence) == (pair.destination.actor, pair.destination.sentence)
        assert (pair.source.emotion, pair.destination.emotion) == ("neutral", "happy")
    data = TalkingFaceDataset(cache, pairs, SampleConfig(seed=3))
    sample = data[0]
    assert sample["faces"].shape == (6, 5, 48, 48) and sample["targets"].shape == (3, 5, 48, 48)
    assert sample["mels"].shape == (5, 1, 80, 16) and sample["mel"].shape == (1, 80, 16)
    assert sample["faces"].dtype == torch.float32 and sample["faces"].min() >= 0 and sample["faces"].max() <= 1
    pair = pairs[sample["pair_index"]]
    start = sample["target_start"]
    # targets are the destination (happy) video's frames, the mel its audio at int(80 * frame / 25)
    frames = cache.frames(pair.destination.id)[start : start + 5].astype(np.float32) / 255
    assert torch.allclose(sample["targets"], torch.from_numpy(frames).permute(3, 0, 1, 2))
    mel = cache.mel(pair.destination.id)
    m0 = mel_start_index(start, 25)
    assert np.array_equal(sample["mel"][0].numpy(), mel[:, m0 : m0 + 16])
    m_sync = mel_start_index(start - 2, 25)
    assert np.array_equal(sample["mels"][0, 0].numpy(), mel[:, m_sync : m_sync + 16])
    # full mask: the prior is zero inside each frame's face mask; the reference is the neutral video
    masks = cache.masks(pair.destination.id)[start : start + 5] > 127
    prior = sample["faces"][:3].permute(1, 2, 3, 0).numpy()
    assert np.all(prior[masks] == 0)
    ref = cache.frames(pair.source.id)[sample["reference_start"] : sample["reference_start"] + 5]
    assert torch.allclose(sample["faces"][3:], torch.from_numpy(ref.astype(np.float32) / 255).permute(3, 0, 1, 2))
    assert EMOTIONS[int(sample["source_emotion"])] == "neutral"
    assert EMOTIONS[int(sample["destination_emotion"])] == "happy"
    assert float(sample["intensity"]) == pytest.approx(1.0)


def test_splits_and_a_loader_over_the_train_split(cache, tmp_path):
    records = cache.records()
    splits = split_by_actor(records, val=1, test=1, seed=0, min_minority=0)
    assert len(splits.train) == 1 and len(set(splits.train) | set(splits.val) | set(splits.test)) == 3
    write_filelists(splits, records, tmp_path)
    again = read_splits(tmp_path, records)
    assert again.train == splits.train
    train = [r for r in records if r.actor in splits.train]
    pairs = PairIndex(train, PairingConfig(pairs=None, mask="half"))  # every directed pair of the 3 emotions
    assert len(pairs) == 6
    loader = torch.utils.data.DataLoader(TalkingFaceDataset(cache, pairs), batch_size=4, shuffle=True)
    batch = next(iter(loader))
    assert batch["faces"].shape == (4, 6, 5, 48, 48)
    lower = batch["faces"][:, :3, :, 24:]
    assert torch.all(lower == 0)  # half mask: the lower half of the prior is blacked out


def test_splits_command(cache, tmp_path, capsys):
    from wav2lip_emotion.cli import main

    code = main(
        [
            "splits",
            "--cache",
            str(cache.root),
            "--out",
            str(tmp_path),
            "--val",
            "1",
            "--test",
            "1",
            "--min-minority",
            "0",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "train.txt" in out and (tmp_path / "val.txt").read_text().strip()
