"""Actor splits, file lists and emotion pairing on synthetic records (pure Python, fast)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from wav2lip_emotion.data.pairing import PAPER_PAIRS, Missing, PairIndex, PairingConfig
from wav2lip_emotion.data.records import VideoRecord, mead_gender
from wav2lip_emotion.data.splits import (
    PAPER_MEAD_SPLIT,
    actor_genders,
    read_filelist,
    read_splits,
    split_by_actor,
    write_filelists,
)
from wav2lip_emotion.errors import ConfigError, DataError


def mead_records(
    actors: Iterable[str],
    *,
    emotions: Sequence[str] = ("happy", "neutral", "sad"),
    levels: Sequence[int] = (1, 2, 3),
    sentences: Sequence[str] = ("001", "002"),
    views: Sequence[str] = ("front",),
    gender: str | None = None,
) -> list[VideoRecord]:
    out = []
    for actor in actors:
        for view in views:
            for emotion in emotions:
                for level in (1,) if emotion == "neutral" else levels:
                    for s in sentences:
                        vid = f"{actor}/{view}/{emotion}/level_{level}/{s}"
                        out.append(VideoRecord(vid, actor, s, emotion, level, view, 50, gender))
    return out


def mead_actors(men: int, women: int) -> list[str]:
    return [f"M{i:03d}" for i in range(1, men + 1)] + [f"W{i:03d}" for i in range(1, women + 1)]


def lrs2_records(n: int = 6) -> list[VideoRecord]:
    return [VideoRecord.from_id(f"{5535415699068794046 + i // 2}/{i % 2 + 1:05d}", frames=40) for i in range(n)]


def women(actors: Iterable[str]) -> int:
    return sum(mead_gender(a) == "female" for a in actors)


# ------------------------------------------------------------------------------------ splits


def test_mead_like_47_actors_split_37_5_5_with_two_women_held_out() -> None:
    records = mead_records(mead_actors(27, 20), sentences=("001",))
    splits = split_by_actor(records)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (37, 5, 5)
    assert set(splits.train).isdisjoint(splits.val)
    assert set(splits.train).isdisjoint(splits.test)
    assert set(splits.val).isdisjoint(splits.test)
    assert sorted(splits.train + splits.val + splits.test) == mead_actors(27, 20)
    assert splits.genders["W001"] == "female"  # inferred from the M/W naming
    for seed in range(20):
        s = split_by_actor(records, seed=seed)
        assert women(s.val) == 2 and women(s.test) == 2  # at least 2; stratified: 5 * 20 / 47 -> 2
    assert "val 5 (female" in splits.summary()


def test_split_is_deterministic_order_independent_and_seeded() -> None:
    records = mead_records(mead_actors(27, 20), emotions=("happy",), levels=(3,), sentences=("001",))
    a = split_by_actor(records, seed=7)
    shuffled = list(records)
    random.Random(1).shuffle(shuffled)
    assert split_by_actor(shuffled, seed=7) == a
    assert split_by_actor(list(reversed(records)), seed=7) == a
    others = {tuple(split_by_actor(records, seed=s).test) for s in range(8)}
    assert len(others) > 1  # another seed, another split


def test_small_world_splits_sensibly() -> None:
    records = mead_records(["M001", "M002", "M003", "W001", "W002", "W003"], emotions=("happy",), levels=(3,))
    s = split_by_actor(records)
    assert (len(s.train), len(s.val), len(s.test)) == (4, 1, 1)
    # equal groups: the constraint (capped at the split size) falls on one group, alphabetically
    assert women(s.val) == 1 and women(s.test) == 1
    assert women(s.train) == 1
    # 4 men, 2 women: the held-out priority leaves no woman for training (min_minority=0: chance decides)
    four_two = mead_records(mead_actors(4, 2), emotions=("happy",), levels=(3,))
    assert women(split_by_actor(four_two).val) == 1

    ten = mead_records([f"spk{i}" for i in range(10)], emotions=("happy",), levels=(3,))
    t = split_by_actor(ten, val=2, test=0.2)
    assert (len(t.train), len(t.val), len(t.test)) == (6, 2, 2)
    assert t.genders == {}  # no labels, ids not MEAD-like: no gender constraint
    u = split_by_actor(ten, val=0, test=0)
    assert (len(u.train), len(u.val), len(u.test)) == (10, 0, 0)


def test_gender_labels_from_records_and_mapping() -> None:
    records = mead_records(["a1", "a2", "a3", "a4"], emotions=("happy",), levels=(3,), gender="F")
    records += mead_records([f"b{i}" for i in range(8)], emotions=("happy",), levels=(3,), gender="male")
    assert actor_genders(records)["a1"] == "female"
    s = split_by_actor(records, val=2, test=2)
    assert sum(a.startswith("a") for a in s.val) == 2 and sum(a.startswith("a") for a in s.test) == 2
    # the mapping overrides the records' labels: the a-group (4, now male) is still the smaller one
    mapping = {f"b{i}": "female" for i in range(8)} | {f"a{i}": "male" for i in range(1, 5)}
    flipped = split_by_actor(records, val=2, test=2, genders=mapping)
    assert flipped.genders["a1"] == "male" and sum(a.startswith("a") for a in flipped.val) == 2
    conflicting = [*records, VideoRecord("a1/front/sad/level_3/001", "a1", "001", "sad", 3, "front", 5, "male")]
    with pytest.raises(DataError, match="a1"):
        split_by_actor(conflicting)


def test_impossible_splits_raise_config_error() -> None:
    few_women = mead_records(mead_actors(45, 2), emotions=("happy",), levels=(3,))
    with pytest.raises(ConfigError, match="smaller gender group has only 2"):
        split_by_actor(few_women)
    assert len(split_by_actor(few_women, min_minority=1).val) == 5  # possible with one each
    two = mead_records(["M001", "W001"], emotions=("happy",), levels=(3,))
    with pytest.raises(ConfigError, match="at least 3 actors"):
        split_by_actor(two)
    six = mead_records(mead_actors(3, 3), emotions=("happy",), levels=(3,))
    with pytest.raises(ConfigError, match="keep at least one"):
        split_by_actor(six, val=3, test=3)
    with pytest.raises(ConfigError):
        split_by_actor(six, val=-1)
    with pytest.raises(ConfigError):
        split_by_actor(six, test=1.5)
    with pytest.raises(ConfigError, match="no actors"):
        split_by_actor([])


def test_paper_split_matches_the_original_file_lists() -> None:
    s = PAPER_MEAD_SPLIT
    assert (len(s.train), len(s.val), len(s.test)) == (37, 5, 5)
    assert women(s.val) == 2 and women(s.test) == 2
    assert s.split_of("M003") == "val" and s.split_of("W037") == "test" and s.split_of("M001") is None


# ------------------------------------------------------------------------------------ file lists


def test_filelists_round_trip(tmp_path: Path) -> None:
    records = mead_records(mead_actors(4, 4))
    splits = split_by_actor(records, val=2, test=2, seed=3)
    paths = write_filelists(splits, records, tmp_path / "lists")
    assert sorted(paths) == ["test", "train", "val"]
    videos = splits.videos(records)
    for name, path in paths.items():
        lines = path.read_text().splitlines()
        assert lines == sorted(lines) == videos[name]
        assert read_filelist(path, known_ids={r.id for r in records}) == videos[name]
    assert sorted(p.name for p in (tmp_path / "lists").iterdir()) == ["test.txt", "train.txt", "val.txt"]
    back = read_splits(tmp_path / "lists", records)
    assert (back.train, back.val, back.test) == (splits.train, splits.val, splits.test)
    # a record of an actor in no split
    stray = [*records, VideoRecord.from_id("M099/front/happy/level_3/001", 5)]
    with pytest.raises(DataError, match="M099"):
        write_filelists(splits, stray, tmp_path / "other")
    assert len(write_filelists(splits, stray, tmp_path / "other", strict=False)) == 3


def test_original_format_lines(tmp_path: Path) -> None:
    path = tmp_path / "train.txt"
    path.write_text(
        "# MEAD, frontal camera\n"
        "M003/front/happy/level_3/001.mp4\n"
        "\n"
        "./M003/front/sad/level_3/001   # trailing comment\r\n"
        "5535415699068794046/00001 NF\n"
        "5535415699068794046/00002 MV\n"
        "5535415699068794047/00001\n"
    )
    assert read_filelist(path) == [
        "M003/front/happy/level_3/001",
        "M003/front/sad/level_3/001",
        "5535415699068794046/00001",
        "5535415699068794046/00002",
        "5535415699068794047/00001",
    ]


def test_original_wav2lip_emotion_mead_lists_expand(tmp_path: Path) -> None:
    records = mead_records(["M028", "W036"], emotions=("happy", "sad"), levels=(3,))
    path = tmp_path / "test.txt"
    path.write_text("M028/001\nW036/002\n")  # filelists/MEAD/test.txt: actor/clip
    assert read_filelist(path) == ["M028/001", "W036/002"]
    assert read_filelist(path, {r.id for r in records}) == [
        "M028/front/happy/level_3/001",
        "M028/front/sad/level_3/001",
        "W036/front/happy/level_3/002",
        "W036/front/sad/level_3/002",
    ]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("M003/../secret", "not a video id"),
        ("/abs/M003/001", "not a video id"),
        ("M003//001", "not a video id"),
        ("M003/001 extra words", "one video id per line"),
        ("M003/001 XX", "one video id per line"),
        ("M003/fr?nt/001", "not a video id"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path: Path, line: str, why: str) -> None:
    path = tmp_path / "val.txt"
    path.write_text(f"# header\nM003/front/happy/level_3/001\n{line}\n")
    with pytest.raises(DataError, match=why) as info:
        read_filelist(path)
    assert str(path) in str(info.value) and "line 3" in str(info.value)


def test_unknown_and_repeated_ids(tmp_path: Path) -> None:
    known = {f"spk/{i:05d}" for i in range(3)}
    path = tmp_path / "train.txt"
    path.write_text("spk/00000\n" + "".join(f"other/{i:05d}\n" for i in range(7)))
    with pytest.raises(DataError) as info:
        read_filelist(path, known)
    msg = str(info.value)
    assert str(path) in msg and "7 ids are not in the cache" in msg
    assert "'other/00000' (line 2)" in msg and "'other/00004' (line 6)" in msg
    assert "other/00005" not in msg and "and 2 more" in msg
    path.write_text("spk/00000\nspk/00001\nspk/00000.mp4\n")
    with pytest.raises(DataError, match="line 3: 'spk/00000' repeats line 1"):
        read_filelist(path)
    with pytest.raises(DataError, match="no such file list"):
        read_filelist(tmp_path / "absent.txt")


# ------------------------------------------------------------------------------------ pairing


def test_all_directed_pairs_same_actor_sentence_view() -> None:
    records = mead_records(["M001", "W001"], levels=(3,))
    index = PairIndex(records)
    assert index.config.pairs is None
    # 3 emotions -> 6 directed pairs, per actor and sentence (2 x 2)
    assert len(index) == 6 * 4
    assert set(index.counts()) == set(PAPER_PAIRS)
    for pair in index:
        assert pair.source.actor == pair.destination.actor
        assert pair.source.sentence == pair.destination.sentence
        assert pair.source.view == pair.destination.view
        assert pair.source_emotion == pair.source.emotion != pair.destination_emotion == pair.destination.emotion
        assert pair.destination_level == pair.destination.level
    assert index[0] is index.pairs[0]
    assert index.missing() == []


def test_levels_directed_pairs_and_neutral_level_one() -> None:
    records = mead_records(["M001", "M002"])
    cfg = PairingConfig(pairs=(("neutral", "happy"), ("happy", "sad")), source_levels=(3,), destination_levels=(3,))
    index = PairIndex(records, cfg)
    assert index.counts() == {("neutral", "happy"): 4, ("happy", "sad"): 4}
    for pair in index:
        assert pair.destination_level == 3
        assert pair.source_level == (1 if pair.source_emotion == "neutral" else 3)
    # the reverse direction is not there
    assert all((p.source_emotion, p.destination_emotion) != ("sad", "happy") for p in index)
    # all levels: happy 1..3 -> sad 1..3 = 9 per sentence
    every = PairIndex(records, PairingConfig(pairs=(("happy", "sad"),)))
    assert len(every) == 9 * 4
    # destination neutral: level 1 whatever destination_levels says
    to_neutral = PairIndex(records, PairingConfig(pairs=(("sad", "neutral"),), destination_levels=(3,)))
    assert {p.destination_level for p in to_neutral} == {1}
    # intensity change within one emotion
    within = PairIndex(records, PairingConfig(pairs=(("happy", "happy"),), source_levels=(1,), destination_levels=(3,)))
    assert {(p.source_level, p.destination_level) for p in within} == {(1, 3)}


def test_roles_are_recorded_and_paper_variants() -> None:
    records = mead_records(["M001"], levels=(3,), sentences=("001",))
    cfg = PairingConfig(pairs=(("sad", "happy"),), targets_from="source", prior_from="source", mask="half")
    (pair,) = PairIndex(records, cfg)
    assert (pair.targets_from, pair.prior_from, pair.mask) == ("source", "source", "half")
    assert pair.target is pair.source is pair.reference and pair.prior is pair.source
    assert pair.id == "M001/front/sad/level_3/001 -> M001/front/happy/level_3/001"

    expected = {
        ("full", "l1+emotion"): ("destination", "destination"),
        ("full", "emotion"): ("source", "source"),
        ("full", "l1"): ("destination", "destination"),
        ("half", "l1+emotion"): ("destination", "source"),
        ("half", "emotion"): ("source", "source"),
        ("half", "l1"): ("destination", "source"),
    }
    for (mask, strategy), roles in expected.items():
        paper = PairingConfig.paper("neutral", "happy", mask=mask, strategy=strategy)  # type: ignore[arg-type]
        assert (paper.targets_from, paper.prior_from, paper.mask) == (*roles, mask)
        assert paper.pairs == (("neutral", "happy"),) and paper.views == ("front",)
        (p,) = PairIndex(records, paper)
        assert p.source.id == "M001/front/neutral/level_1/001" and p.destination.id == "M001/front/happy/level_3/001"
        assert p.target is (p.destination if roles[0] == "destination" else p.source)
        assert p.prior is (p.destination if roles[1] == "destination" else p.source)


def test_missing_report() -> None:
    records = [
        r
        for r in mead_records(["M001", "W001"], levels=(3,))
        if r.id not in ("M001/front/sad/level_3/002", "W001/front/neutral/level_1/001")
    ]
    index = PairIndex(records, PairingConfig(pairs=(("neutral", "sad"), ("happy", "sad"))))
    assert index.missing() == [
        Missing("M001", "002", "sad", 3),
        Missing("W001", "001", "neutral", 1),
    ]
    assert index.counts() == {("neutral", "sad"): 2, ("happy", "sad"): 3}
    # an emotion asked for but absent everywhere: level None
    absent = PairIndex(records, PairingConfig(pairs=(("happy", "sad"), ("happy", "angry"))))
    assert Missing("M001", "001", "angry", None) in absent.missing()
    # a level asked for but absent
    lvl = PairIndex(records, PairingConfig(pairs=(("happy", "sad"),), destination_levels=(2, 3)))
    assert Missing("M001", "001", "sad", 2) in lvl.missing()


def test_empty_index_explains_and_lists_ids() -> None:
    records = mead_records([f"M{i:03d}" for i in range(1, 7)], emotions=("happy",), levels=(3,))
    records += mead_records(["W001"], emotions=("sad",), levels=(3,))
    with pytest.raises(DataError) as info:
        PairIndex(records, PairingConfig(pairs=(("happy", "sad"),)))
    msg = str(info.value)
    assert "happy->sad" in msg and "without a partner" in msg
    assert "M001/front/happy/level_3/001" in msg and "M001: happy/3" in msg and "W001: sad/3" in msg
    ids = [r.id for r in records if r.id in msg]
    assert len(ids) == 10 and "and 4 more" in msg  # 12 happy + 2 sad videos, 10 listed
    with pytest.raises(DataError, match="no video has a requested emotion and level"):
        PairIndex(records, PairingConfig(pairs=(("happy", "sad"),), source_levels=(1,), destination_levels=(1,)))
    with pytest.raises(DataError, match="only one emotion"):
        PairIndex(mead_records(["M001"], emotions=("happy",)))


def test_same_video_mode_for_lrs2() -> None:
    records = lrs2_records(6)
    for cfg in (PairingConfig(same_video=True), PairingConfig(pairs=()), PairingConfig.wav2lip()):
        index = PairIndex(records, cfg)
        assert len(index) == 6
        for pair, record in zip(index, sorted(records, key=lambda r: r.id), strict=True):
            assert pair.source is pair.destination is record
            assert pair.same_video and pair.id == record.id
            assert pair.source_emotion is None and pair.destination_level is None
    assert PairingConfig.wav2lip().mask == "half"
    with pytest.raises(DataError, match="same_video=True"):
        PairIndex(records)  # LRS2 has no emotions
    # MEAD videos for plain Wav2Lip training, level filter (neutral stays)
    mead = PairIndex(mead_records(["M001"], sentences=("001",)), PairingConfig(same_video=True, source_levels=(3,)))
    assert {(p.source_emotion, p.source_level) for p in mead} == {("happy", 3), ("neutral", 1), ("sad", 3)}
    with pytest.raises(DataError, match="no pairs"):
        PairIndex([], PairingConfig(same_video=True))


def test_views_filter_and_split_selection() -> None:
    records = mead_records(mead_actors(3, 3), levels=(3,), views=("front", "left_30"))
    full = PairIndex(records, PairingConfig(pairs=(("neutral", "happy"),)))
    assert len(full) == 6 * 2 * 2
    front = PairIndex(records, PairingConfig(pairs=(("neutral", "happy"),), views=("front",)))
    assert len(front) == 6 * 2 and {p.source.view for p in front} == {"front"}
    splits = split_by_actor(records, val=1, test=1)
    train = PairIndex(splits.select(records, "train"), PairingConfig(pairs=(("neutral", "happy"),), views=("front",)))
    assert {p.source.actor for p in train} == set(splits.train)
    assert set(train.video_ids()) <= set(splits.videos(records)["train"])


def test_config_validation_and_bad_records() -> None:
    assert PairingConfig(pairs=(("Anger", "joy"),)).pairs == (("angry", "happy"),)
    with pytest.raises(ConfigError, match="unknown emotion"):
        PairingConfig(pairs=(("happy", "bored"),))
    with pytest.raises(ConfigError):
        PairingConfig(pairs=(("happy",),))  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        PairingConfig(source_levels=(0,))
    with pytest.raises(ConfigError):
        PairingConfig(destination_levels=())
    with pytest.raises(ConfigError, match="targets_from"):
        PairingConfig(targets_from="target")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="mask"):
        PairingConfig(mask="quarter")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="same_video"):
        PairingConfig(pairs=(("happy", "sad"),), same_video=True)
    with pytest.raises(ConfigError, match="strategy"):
        PairingConfig.paper("happy", "sad", strategy="gan")  # type: ignore[arg-type]
    records = mead_records(["M001"], levels=(3,))
    with pytest.raises(DataError, match="twice"):
        PairIndex([*records, records[0]])
    odd = VideoRecord("M001/front/bored/level_3/001", "M001", "001", "bored", 3, "front", 5)
    with pytest.raises(DataError, match="unknown emotion 'bored'"):
        PairIndex([*records, odd])


def test_video_record_from_id() -> None:
    r = VideoRecord.from_id("W009/front/happy/level_3/001", frames=12)
    assert (r.actor, r.view, r.emotion, r.level, r.sentence, r.frames, r.gender) == (
        "W009",
        "front",
        "happy",
        3,
        "001",
        12,
        "female",
    )
    lrs2 = VideoRecord.from_id("5535415699068794046/00001")
    assert (lrs2.actor, lrs2.sentence, lrs2.emotion, lrs2.level) == ("5535415699068794046", "00001", None, None)
    with pytest.raises(DataError):
        VideoRecord.from_id("just-one-part")
    with pytest.raises(DataError, match="level_"):
        VideoRecord.from_id("M003/front/happy/three/001")
