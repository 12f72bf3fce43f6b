"""CelebA from a folder: a dozen synthetic JPEGs laid out like the official set."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vae_collapse.data import CelebAFolderDataModule, DataError
from vae_collapse.data import celeba
from vae_collapse.data.cache import leftover_staging

W, H = celeba.IMAGE_WIDTH, celeba.IMAGE_HEIGHT
# Image i (1-based) is one flat colour, so a loaded row tells which file it was.
N_IMAGES = 12
PARTITION = {i: 0 if i <= 6 else 1 if i <= 9 else 2 for i in range(1, N_IMAGES + 1)}


def colour(i: int) -> tuple[int, int, int]:
    return (20 * i, 250 - 20 * i, (60 * i) % 250)


def write_jpeg(path: Path, pixels: np.ndarray) -> None:
    Image.fromarray(pixels.astype(np.uint8), "RGB").save(path, quality=95)


def flat_image(rgb: tuple[int, int, int]) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, dtype=np.uint8), (H, W, 3)).copy()


def make_celeba(root: Path, numbers=range(1, N_IMAGES + 1), partition=True, inside=False) -> Path:
    """``root/img_align_celeba/`` with the JPEGs; the partition file next to the
    folder (or inside it)."""
    images = root / celeba.IMAGES_FOLDER
    images.mkdir(parents=True)
    for i in numbers:
        write_jpeg(images / f"{i:06d}.jpg", flat_image(colour(i)))
    if partition:
        lines = "".join(f"{i:06d}.jpg {PARTITION[i]}\n" for i in numbers)
        (images if inside else root).joinpath(celeba.PARTITION_FILE).write_text(lines)
    return images


def which_images(data: torch.Tensor) -> list[int]:
    """The number of the file each row came from, by its mean colour."""
    means = data.view(len(data), 3, -1).mean(dim=2) * 255
    table = torch.tensor([colour(i) for i in range(1, N_IMAGES + 1)], dtype=torch.float32)
    found = []
    for row in means:
        distance = (table - row).abs().max(dim=1).values
        assert distance.min() < 6, f"row of mean colour {row.tolist()} matches no image"
        found.append(int(distance.argmin()) + 1)
    return found


@pytest.fixture
def folder(tmp_path) -> Path:
    return make_celeba(tmp_path / "celeba")


def test_official_partition_splits_in_file_order(folder):
    dm = CelebAFolderDataModule(str(folder))
    assert which_images(dm.train_data) == [1, 2, 3, 4, 5, 6]
    assert which_images(dm.val_data) == [7, 8, 9]
    assert which_images(dm.test_data) == [10, 11, 12]


def test_shapes_and_value_range(folder):
    dm = CelebAFolderDataModule(str(folder))
    assert dm.sample_shape == (3, 64, 64)
    assert dm.data_dim == 3 * 64 * 64
    for data, n in ((dm.train_data, 6), (dm.val_data, 3), (dm.test_data, 3)):
        assert data.shape == (n, 3 * 64 * 64)
        assert data.dtype == torch.float32
        assert data.min() >= 0 and data.max() <= 1
    assert dm.train_data.max() > 0.5  # x/255, not left as 0..255 or squashed


def test_other_sizes(folder):
    dm = CelebAFolderDataModule(str(folder), image_size=32, crop_size=100)
    assert dm.sample_shape == (3, 32, 32)
    assert dm.train_data.shape == (6, 3 * 32 * 32)


def test_subset_val_size_and_test_subset_take_the_first_files(folder):
    dm = CelebAFolderDataModule(str(folder), subset=4, val_size=2, test_subset=1)
    assert which_images(dm.train_data) == [1, 2, 3, 4]
    assert which_images(dm.val_data) == [7, 8]
    assert which_images(dm.test_data) == [10]


def test_zero_leaves_val_and_test_out(folder):
    dm = CelebAFolderDataModule(str(folder), val_size=0, test_subset=0)
    assert not dm.has_val and not dm.has_test
    assert dm.val_dataloader() == [] and dm.test_dataloader() == []


def test_root_may_be_the_parent_and_partition_inside(tmp_path):
    make_celeba(tmp_path / "a", inside=True)
    for root in (tmp_path / "a", tmp_path / "a" / celeba.IMAGES_FOLDER):
        dm = CelebAFolderDataModule(str(root))
        assert which_images(dm.val_data) == [7, 8, 9]


def test_root_expands_home(tmp_path, monkeypatch):
    make_celeba(tmp_path / "data")
    monkeypatch.setenv("HOME", str(tmp_path))
    dm = CelebAFolderDataModule("~/data")
    assert dm.num_train == 6


def test_partition_file_decides_over_file_numbers(tmp_path):
    images = make_celeba(tmp_path / "c", partition=False)
    # Deliberately not the official ranges: the file must win.
    lines = "".join(f"{i:06d}.jpg {2 if i <= 2 else 0}\n" for i in range(1, N_IMAGES + 1))
    (images / celeba.PARTITION_FILE).write_text(lines)
    dm = CelebAFolderDataModule(str(images))
    assert which_images(dm.test_data) == [1, 2]
    assert which_images(dm.train_data) == list(range(3, N_IMAGES + 1))
    assert not dm.has_val


def test_without_partition_file_the_official_ranges_decide(tmp_path):
    images = tmp_path / celeba.IMAGES_FOLDER
    images.mkdir()
    numbers = {1: 1, 2: 2, 162770: 3, 162771: 4, 182637: 5, 182638: 6, 202599: 7}
    # Written out of order: the split must follow the numbers, not the listing.
    for number, c in sorted(numbers.items(), reverse=True):
        write_jpeg(images / f"{number:06d}.jpg", flat_image(colour(c)))
    write_jpeg(images / "not_celeba.jpg", flat_image((0, 0, 0)))  # ignored
    dm = CelebAFolderDataModule(str(images))
    assert which_images(dm.train_data) == [1, 2, 3]
    assert which_images(dm.val_data) == [4, 5]
    assert which_images(dm.test_data) == [6, 7]


def test_centre_crop_then_resize(tmp_path):
    images = tmp_path / celeba.IMAGES_FOLDER
    images.mkdir()
    pixels = flat_image((0, 0, 255))  # blue border
    top, left = (H - 148) // 2, (W - 148) // 2
    pixels[top : top + 148, left : left + 148] = (255, 0, 0)  # red centre, the crop
    write_jpeg(images / "000001.jpg", pixels)
    dm = CelebAFolderDataModule(str(images))
    image = dm.train_data.view(3, 64, 64)
    red = (image[0] > 0.7) & (image[2] < 0.3)
    # Resizing the whole image instead would leave ~43% of it blue.
    assert red.float().mean() > 0.95


def test_crop_without_resize_keeps_the_centre_pixels(tmp_path):
    images = tmp_path / celeba.IMAGES_FOLDER
    images.mkdir()
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (22, 18, 3), dtype=np.uint8)
    pixels = np.asarray(Image.fromarray(coarse).resize((W, H)))
    write_jpeg(images / "000001.jpg", pixels)
    decoded = np.asarray(Image.open(images / "000001.jpg").convert("RGB"))
    dm = CelebAFolderDataModule(str(images), image_size=148, crop_size=148)
    got = (dm.train_data.view(3, 148, 148) * 255).round().to(torch.uint8).numpy()
    np.testing.assert_array_equal(got.transpose(1, 2, 0), decoded[35:183, 15:163])


def test_cache_is_reused_without_decoding(folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = CelebAFolderDataModule(str(folder), cache_dir=str(cache), subset=5)
    first.setup()
    assert len(list((cache / "celeba").glob("*.npy"))) == 3  # train, val, test
    assert leftover_staging(cache) == []

    def no_decoding(*args):
        raise AssertionError("decoded a JPEG although the cache holds it")

    monkeypatch.setattr(celeba, "_decode_image", no_decoding)
    second = CelebAFolderDataModule(str(folder), cache_dir=str(cache), subset=5)
    for split in ("train", "val", "test"):
        assert torch.equal(second.split_data(split), first.split_data(split))
    # Another size or selection is another cache entry, so it decodes again.
    for changed in ({"subset": 4}, {"image_size": 32}, {"crop_size": 120}):
        params = {"subset": 5, **changed}
        with pytest.raises(AssertionError, match="decoded a JPEG"):
            CelebAFolderDataModule(str(folder), cache_dir=str(cache), **params).setup()


def test_another_folder_with_the_same_file_names_is_never_read_from_the_cache(folder, tmp_path):
    cache = tmp_path / "cache"
    first = CelebAFolderDataModule(str(folder), cache_dir=str(cache), subset=5)
    first.setup()
    grey = make_celeba(tmp_path / "grey")
    for jpeg in grey.glob("*.jpg"):
        write_jpeg(jpeg, flat_image((128, 128, 128)))
    other = CelebAFolderDataModule(str(grey), cache_dir=str(cache), subset=5)
    assert torch.allclose(other.split_data("train"), torch.full_like(other.split_data("train"), 128 / 255), atol=0.02)
    # One image replaced in place (same name) is decoded again too.
    write_jpeg(folder / "000001.jpg", flat_image((0, 0, 0)))
    os.utime(folder / "000001.jpg", ns=(1, 1))
    again = CelebAFolderDataModule(str(folder), cache_dir=str(cache), subset=5)
    assert again.split_data("train")[0].max() < 0.02 and not torch.equal(again.split_data("train"), first.split_data("train"))


def test_a_moved_folder_still_finds_its_cache(folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = CelebAFolderDataModule(str(folder), cache_dir=str(cache), subset=5)
    first.setup()
    moved = tmp_path / "moved"
    folder.parent.rename(moved)
    monkeypatch.setattr(celeba, "_decode_image", lambda *args: pytest.fail("decoded although the cache holds it"))
    again = CelebAFolderDataModule(str(moved / celeba.IMAGES_FOLDER), cache_dir=str(cache), subset=5)
    assert torch.equal(again.split_data("train"), first.split_data("train"))


def test_without_cache_dir_nothing_is_written(folder):
    before = sorted(p.name for p in folder.parent.rglob("*"))
    CelebAFolderDataModule(str(folder)).setup()
    assert sorted(p.name for p in folder.parent.rglob("*")) == before


@pytest.mark.parametrize(("make", "detail"), [
    ("missing", " (no such folder)"),
    ("empty", ""),
    ("no_jpegs", ""),
    ("pngs", " (it has 2 .png files; only JPEG, the official format, is read)"),
])
def test_no_images_is_one_line_error(tmp_path, make, detail):
    root = tmp_path / "celeba"
    if make != "missing":
        (root / "img_align_celeba").mkdir(parents=True)
    if make == "no_jpegs":
        (root / "readme.txt").write_text("hi")
    if make == "pngs":
        (root / "img_align_celeba" / "000001.png").write_bytes(b"x")
        (root / "000002.PNG").write_bytes(b"x")
    with pytest.raises(DataError) as caught:
        CelebAFolderDataModule(str(root)).setup()
    assert str(caught.value) == (
        f"CelebA images not found in {root}{detail}: put the official aligned images "
        "(img_align_celeba/*.jpg, and list_eval_partition.txt) there, or set dataset.root=<folder> "
        "($CELEBA_ROOT sets it for new runs)"
    )


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_jpeg_names_the_file(folder, damage):
    path = folder / "000003.jpg"
    data = path.read_bytes()
    path.write_bytes(b"not a jpeg at all" if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(DataError, match="000003.jpg") as caught:
        CelebAFolderDataModule(str(folder)).setup()
    assert "\n" not in str(caught.value)


def test_corrupt_file_outside_the_selection_is_not_read(folder):
    (folder / "000012.jpg").write_bytes(b"broken")
    dm = CelebAFolderDataModule(str(folder), subset=2, test_subset=2)
    assert dm.num_train == 2 and len(dm.test_data) == 2


def test_image_smaller_than_the_crop_names_the_file(tmp_path):
    images = tmp_path / celeba.IMAGES_FOLDER
    images.mkdir()
    Image.new("RGB", (100, 100)).save(images / "000001.jpg")
    with pytest.raises(DataError, match=r"000001\.jpg: is 100x100, smaller than crop_size=148"):
        CelebAFolderDataModule(str(images)).setup()


def test_images_of_another_size_are_decoded_with_one_warning(folder, capsys):
    # The in-the-wild img_celeba has the same file names in many sizes; centre-cropped, its faces
    # are not where the aligned set's are.
    CelebAFolderDataModule(str(folder), subset=3, val_size=0, test_subset=0).setup()
    assert "not the aligned" not in capsys.readouterr().err
    Image.new("RGB", (400, 650), colour(2)).save(folder / "000002.jpg")
    Image.new("RGB", (500, 300), colour(3)).save(folder / "000003.jpg")
    CelebAFolderDataModule(str(folder), subset=3, val_size=0, test_subset=0).setup()
    lines = [line for line in capsys.readouterr().err.splitlines() if "not the aligned" in line]
    assert lines == [f"vae-collapse: warning: {folder}: 2 of 3 images are not the aligned 178x218 (e.g. 000002.jpg: "
                     "400x650); the centre crop expects the aligned faces of img_align_celeba, not the in-the-wild "
                     "img_celeba"]


def test_listed_image_missing_from_folder(folder):
    (folder / "000008.jpg").unlink()
    with pytest.raises(DataError, match=r"1 of the 3 val images .* missing \(first: 000008\.jpg\)"):
        CelebAFolderDataModule(str(folder)).setup()
    # Not needed when the validation images are not asked for.
    assert CelebAFolderDataModule(str(folder), val_size=1).setup() is None


def test_too_few_images_for_subset(folder):
    with pytest.raises(DataError, match=r"has 6 train images .* fewer than dataset\.subset=7"):
        CelebAFolderDataModule(str(folder), subset=7).setup()
    with pytest.raises(DataError, match=r"fewer than dataset\.val_size=4"):
        CelebAFolderDataModule(str(folder), val_size=4).setup()


def test_no_training_images(tmp_path):
    images = tmp_path / celeba.IMAGES_FOLDER
    images.mkdir()
    write_jpeg(images / "200000.jpg", flat_image((1, 2, 3)))
    with pytest.raises(DataError, match="no training images"):
        CelebAFolderDataModule(str(images)).setup()


def test_bad_partition_line_names_file_and_line(folder):
    path = folder.parent / celeba.PARTITION_FILE
    path.write_text("000001.jpg 0\n000002.jpg 7\n")
    with pytest.raises(DataError, match=r"list_eval_partition\.txt, line 2"):
        CelebAFolderDataModule(str(folder)).setup()


def test_kaggle_csv_partition(tmp_path):
    images = make_celeba(tmp_path / "k", partition=False)
    rows = "".join(f"{i:06d}.jpg,{PARTITION[i]}\n" for i in range(1, N_IMAGES + 1))
    (tmp_path / "k" / "list_eval_partition.csv").write_text("image_id,partition\n" + rows)
    dm = CelebAFolderDataModule(str(images))
    assert which_images(dm.val_data) == [7, 8, 9]


def test_progress_bar_on_stderr_for_many_files(folder, monkeypatch, capsys):
    monkeypatch.setattr(celeba, "PROGRESS_MIN_FILES", 1)
    CelebAFolderDataModule(str(folder)).setup()
    assert "Decoding CelebA train" in capsys.readouterr().err


def test_no_progress_bar_for_few_files(folder, capsys):
    CelebAFolderDataModule(str(folder)).setup()
    assert capsys.readouterr().err == ""


def test_batches_reach_the_loader(folder):
    dm = CelebAFolderDataModule(str(folder), batch_size=4, shuffle=False)
    batches = list(dm.train_dataloader())
    assert [tuple(b.shape) for b in batches] == [(4, 12288), (2, 12288)]
    assert torch.equal(torch.cat(batches), dm.train_data)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"image_size": 0}, "image_size=0"),
        ({"crop_size": 0}, "crop_size=0"),
        ({"crop_size": 179}, "crop_size=179"),
        ({"subset": 0}, "subset=0"),
        ({"subset": 162_771}, "subset=162771"),
        ({"val_size": -1}, "val_size=-1"),
        ({"test_subset": 19_963}, "test_subset=19963"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"root": ""}, "root"),
    ],
)
def test_bad_parameters_fail_at_construction(tmp_path, params, name):
    with pytest.raises(ValueError, match=name):
        CelebAFolderDataModule(**{"root": str(tmp_path), **params})


def test_a_folder_without_val_or_test_images_says_what_is_skipped(tmp_path, capsys):
    images = make_celeba(tmp_path / "celeba", numbers=range(1, 6), partition=False)
    dm = CelebAFolderDataModule(str(images))
    assert dm.train_data.shape[0] == 5 and not dm.has_val and not dm.has_test
    err = capsys.readouterr().err
    assert "no val images by the official index ranges (no partition file found); collapse is measured" in err
    assert "no test images by the official index ranges (no partition file found); no test/* metrics" in err


def test_images_of_another_format_beside_the_jpegs_are_named_in_a_warning(folder, capsys):
    Image.fromarray(flat_image(colour(1))).save(folder / "000099.png")  # `folder` holds the JPEGs
    dm = CelebAFolderDataModule(str(folder))
    assert len(dm.train_data) > 0  # the JPEGs are read as before
    err = capsys.readouterr().err
    assert "also holds 1 .png file; only its" in err and "JPEGs (the official format) are read" in err


def test_a_bad_image_is_the_only_line_even_where_val_and_test_are_empty(tmp_path, capsys):
    images = make_celeba(tmp_path / "celeba", numbers=range(1, 6), partition=False)
    (images / "000003.jpg").write_bytes(b"broken")
    with pytest.raises(DataError, match="000003.jpg"):
        CelebAFolderDataModule(str(images)).setup()
    assert "warning" not in capsys.readouterr().err
