"""Shipped texts: the KJV within-genre split holds out whole chapters; the World English Bible loads and splits like the KJV."""

import pytest

from micourse.data import kjv_books, kjv_chapter_split


def test_chapter_split_partitions_the_first_books():
    train, heldout = kjv_chapter_split(n_books=3, every=5)
    chapters = [c for text in list(kjv_books().values())[:3] for c in text.split("\n")]
    assert sorted(train.split("\n") + heldout.split("\n")) == sorted(chapters)
    genesis = list(kjv_books().values())[0].split("\n")
    assert heldout.split("\n")[0] == genesis[4]  # chapter 5 of Genesis
    assert genesis[0] in train


def test_world_english_bible_is_modern_text_split_like_the_kjv():
    from micourse.data import kjv_books, web_books, web_text

    assert len(web_books()) == len(kjv_books()) == 66
    train, heldout = web_text("train"), web_text("heldout")
    assert train.startswith("In the beginning God created the heavens and the earth.")
    assert "{" not in train and "}" not in train  # translator's notes dropped
    assert " thou " not in train[:100_000] and " you " in train[:100_000]  # modern English
    assert heldout.startswith("Simon Peter")  # 2 Peter: the last six books, as for the KJV
    with pytest.raises(ValueError, match="split"):
        web_text("test")
