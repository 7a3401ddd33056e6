"""The within-genre split holds out whole chapters of the same books, and nothing else."""

from micourse.data import kjv_books, kjv_chapter_split


def test_chapter_split_partitions_the_first_books():
    train, heldout = kjv_chapter_split(n_books=3, every=5)
    chapters = [c for text in list(kjv_books().values())[:3] for c in text.split("\n")]
    assert sorted(train.split("\n") + heldout.split("\n")) == sorted(chapters)
    genesis = list(kjv_books().values())[0].split("\n")
    assert heldout.split("\n")[0] == genesis[4]  # chapter 5 of Genesis
    assert genesis[0] in train
