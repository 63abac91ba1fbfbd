"""credax.data: offline datasets, IDX files the tests write themselves, TFDS through mock data."""

from __future__ import annotations

import time

import numpy as np
import pytest

from credax._src import data


def _write_split(d, split, n, seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, (n,), dtype=np.uint8)
    img, lab = data._IDX_FILES[split]
    data.write_idx(d / img, images)
    data.write_idx(d / lab, labels)
    return images, labels


def test_idx_roundtrip_and_load(tmp_path):
    images, labels = _write_split(tmp_path, "train", 7, 0)
    _write_split(tmp_path, "test", 3, 1)
    x, y = data.load("fashion_mnist", "train", data_dir=tmp_path)
    assert x.shape == (7, 1, 28, 28) and x.dtype == np.float32
    assert y.dtype == np.int32 and np.array_equal(y, labels)
    np.testing.assert_allclose(x[:, 0] * 255.0, images, atol=1e-4)
    x32, _ = data.load("fashion_mnist", "test", data_dir=tmp_path, resize=32)
    assert x32.shape == (3, 1, 32, 32)
    assert np.all(x32[:, :, :2] == 0) and np.all(x32[:, :, -2:] == 0)


def test_idx_missing_files_name_the_remedy(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_dir"):
        data.load("kmnist", "train", data_dir=tmp_path)


def test_read_idx_rejects_garbage(tmp_path):
    p = tmp_path / "bad.gz"
    import gzip

    with gzip.open(p, "wb") as f:
        f.write(b"\x01\x02\x03\x04rest")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(p)


def test_mnist1d_offline():
    x, y = data.load("mnist1d", "test")
    assert x.shape == (1000, 40) and y.shape == (1000,)
    assert set(np.unique(y)) == set(range(10))


@pytest.mark.parametrize("name", data.TEACHERS)
def test_teachers_are_fixed_regression_tasks(name):
    x, y = data.load(name, "train")
    x2, y2 = data.load(name, "train")
    assert x.shape == (10_000, 30) and y.shape == (10_000, 10)
    assert np.array_equal(y, y2) and y.std() > 0.1


def test_tfds_through_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=6):
        x, y = data.load("tfds:cifar10", "train")
        assert x.shape == (6, 3, 32, 32) and y.shape == (6,)
        assert 0.0 <= x.min() and x.max() <= 1.0
        # mnist has no IDX files here, so it falls through to TFDS.
        x, y = data.load("mnist", "test", data_dir=None)
        assert x.shape == (6, 1, 28, 28)


def test_tfds_offline_fails_fast(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "online", lambda timeout=3.0: False)
    t0 = time.perf_counter()
    with pytest.raises(FileNotFoundError, match="no network"):
        data.load("cifar10", "train", data_dir=tmp_path)
    assert time.perf_counter() - t0 < 10.0


def test_unknown_dataset_and_split():
    with pytest.raises(ValueError, match="unknown dataset"):
        data.load("no_such_dataset_xyz", "train")
    with pytest.raises(ValueError, match="unknown split"):
        data.load("mnist1d", "validation")
