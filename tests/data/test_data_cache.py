from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vae_collapse.data import DataError
from vae_collapse.data.cache import leftover_staging, populate

NAMES = ("a", "b")


def write_all(out_dir, scratch):
    (scratch / "download.tmp").write_text("scratch")
    for name in NAMES:
        (out_dir / name).write_text(f"new {name}")


def accept(path):
    pass


def test_builds_then_renames_into_place(tmp_path):
    final = tmp_path / "root" / "set"
    populate(final, NAMES, write_all, accept)
    assert sorted(p.name for p in final.iterdir()) == list(NAMES)
    assert leftover_staging(tmp_path / "root") == []


def test_existing_files_kept_missing_added(tmp_path):
    final = tmp_path / "set"
    final.mkdir()
    (final / "a").write_text("old a")
    populate(final, NAMES, write_all, accept)
    assert (final / "a").read_text() == "old a"
    assert (final / "b").read_text() == "new b"


def test_gz_twin_counts_as_present(tmp_path):
    final = tmp_path / "set"
    final.mkdir()
    (final / "a.gz").write_text("old a")
    populate(final, NAMES, write_all, accept)
    assert sorted(p.name for p in final.iterdir()) == ["a.gz", "b"]


@pytest.mark.parametrize("failure", ["build", "missing", "verify"])
def test_failure_leaves_nothing(tmp_path, failure):
    def build(out_dir, scratch):
        write_all(out_dir, scratch)
        if failure == "build":
            raise RuntimeError("network down")
        if failure == "missing":
            (out_dir / "b").unlink()

    def verify(path):
        if failure == "verify" and path.name == "b":
            raise DataError(f"{path}: bad")

    final = tmp_path / "set"
    with pytest.raises((RuntimeError, DataError)):
        populate(final, NAMES, build, verify)
    assert list(tmp_path.iterdir()) == []


def test_a_cache_folder_that_cannot_be_made_is_one_data_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(DataError, match=r"a_file/x: cannot write the data cache there \(a file is in the way where a "
                                         r"folder should be\); .*dataset.cache_dir"):
        populate(blocker / "x" / "celeba", ["a.npy"], lambda out, scratch: None, lambda path: None)


def test_a_relative_cache_folder_works_for_tools_run_inside_the_staging_folder(tmp_path, monkeypatch):
    # The fetchers run pip and dpkg-deb with the scratch folder as their working folder; with a
    # relative cache folder every path they were given pointed nowhere, and every fetch failed.
    monkeypatch.chdir(tmp_path)

    def build_with_a_tool(out_dir, scratch):
        for name in NAMES:
            subprocess.run([sys.executable, "-c", "import sys; open(sys.argv[1], 'w').write('made')", str(out_dir / name)],
                           cwd=scratch, check=True)

    populate(Path("rel") / "set", NAMES, build_with_a_tool, accept)
    assert sorted(p.name for p in (tmp_path / "rel" / "set").iterdir()) == list(NAMES)
