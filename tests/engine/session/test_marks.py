"""engine.session.marks: which snapshot a rewind starts from, and which snapshots are kept."""

from engine.decode.cache import CacheState
from engine.session.marks import Mark, drop_old_snapshots, newest_snapshot_before


def mark(offset, n_messages, snapshot=True):
    return Mark(offset, n_segments=n_messages, n_messages=n_messages,
                snapshot=[CacheState(offset)] if snapshot else None)


def test_newest_snapshot_at_or_before_the_target_on_its_path():
    a, b, c, d = mark(10, 1), mark(20, 2, snapshot=False), mark(30, 3), mark(40, 4)
    assert newest_snapshot_before([a, b, c, d], c) is c
    assert newest_snapshot_before([a, b, c, d], b) is a
    assert newest_snapshot_before([b, c, d], b) is None
    assert newest_snapshot_before([a, d], mark(35, 3, snapshot=False)) is a


def test_only_the_newest_snapshots_are_kept():
    marks = [mark(o, i) for i, o in enumerate([5, 15, 25, 35])]
    drop_old_snapshots(marks, 2)
    assert [m.snapshot is not None for m in marks] == [False, False, True, True]
    drop_old_snapshots(marks, 0)
    assert all(m.snapshot is None for m in marks) and marks[0].snapshot_bytes == 0
