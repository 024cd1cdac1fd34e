"""Batching in the training program: rows padded on the left so every target ends at the last position,
and only the positions the loss needs are kept (the LM head is the costly part of a short sample)."""

from __future__ import annotations

from seedcoder.finetune.train import IGNORE, _batch

PAD = 0


def test_rows_are_left_padded_and_keep_covers_the_longest_target_and_the_position_before_it() -> None:
    short = ([1, 5, 6, 7, 2], [IGNORE, IGNORE, IGNORE, 7, 2])  # prompt 1 5 6, target 7 EOS
    long = ([1, 5, 8, 9, 9, 9, 2], [IGNORE, IGNORE, 8, 9, 9, 9, 2])
    ids, mask, labels, keep = _batch([short, long], PAD)
    assert ids == [[PAD, PAD, 1, 5, 6, 7, 2], [1, 5, 8, 9, 9, 9, 2]]
    assert mask == [[0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]]
    assert labels[0] == [IGNORE, IGNORE, IGNORE, IGNORE, IGNORE, 7, 2]
    assert keep == 6  # five target tokens, and the prompt's last position, which predicts the first
    # every target token is predicted from inside the kept window: position t-1 predicts label t
    for row in labels:
        targets = [t for t, label in enumerate(row) if label != IGNORE]
        assert min(targets) - 1 >= len(row) - keep


def test_keep_never_exceeds_the_row_width() -> None:
    only_target = ([7, 2], [7, 2])
    _, _, _, keep = _batch([only_target], PAD)
    assert keep == 2
