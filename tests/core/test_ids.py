"""Ids are typed and sort by creation, even within one millisecond."""

import pytest

from core.ids import has_kind, new_id


def test_ids_sort_in_creation_order_and_are_unique():
    ids = [new_id("post") for _ in range(5000)]  # many fall within the same millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ids_carry_their_kind():
    vid = new_id("video")
    assert has_kind(vid, "video") and not has_kind(vid, "post")
    assert vid == vid.lower() and len(vid) == len("video_") + 26
    with pytest.raises(ValueError):
        new_id("thing")
