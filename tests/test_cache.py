"""The cache folder and its one-rename writes (`micourse.cache`)."""

from micourse.cache import cache_root, write_folder_once


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MICOURSE_CACHE", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"
    monkeypatch.delenv("MICOURSE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_root() == tmp_path / "x" / "micourse"


def test_write_folder_once_keeps_the_first_copy(tmp_path):
    def writer(text):
        def write(tmp):
            tmp.mkdir()
            (tmp / "f.txt").write_text(text)

        return write

    folder = tmp_path / "a" / "thing"
    assert write_folder_once(folder, writer("first")) == folder
    write_folder_once(folder, writer("second"))  # another process lost the race
    assert (folder / "f.txt").read_text() == "first"
    assert [p.name for p in folder.parent.iterdir()] == ["thing"]  # no temporary folder left behind
