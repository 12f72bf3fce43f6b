import stat

import pytest

from vae_collapse.reporting.atomic import atomic_open


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as handle:
            handle.write("half of the new")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_a_finished_write_replaces_the_file_readable_by_others(tmp_path):
    target = tmp_path / "sub" / "table.csv"
    with atomic_open(target, sync=True) as handle:
        handle.write("a,b\n")
    assert target.read_text() == "a,b\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
