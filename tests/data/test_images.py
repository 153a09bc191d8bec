"""Image datasets on tiny fakes in the real on-disk formats: CIFAR-10 pickles, a CelebA-HQ folder.

Nothing here touches the network: sockets are blocked, and the download test serves a locally
built archive through a patched ``urllib.request.urlretrieve``.
"""

from __future__ import annotations

import hashlib
import pickle
import shutil
import socket
import tarfile
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
from PIL import Image

from dinof_lite.data import (
    DIGITS_N_BINS,
    IMAGE_DATASETS,
    ImageDataset,
    celebahq,
    cifar10,
    default_data_dir,
    load_digits_with_labels,
    load_image_dataset,
)
from dinof_lite.train import TrainConfig, Trainer

N_PER_BATCH = 4


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tests must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def _batch(seed: int, n: int = N_PER_BATCH) -> dict:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    return {
        b"batch_label": b"fake",
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"data": data,
        b"filenames": [b"x.png"] * n,
    }


@pytest.fixture
def cifar_root(tmp_path):
    """A CIFAR-10 folder with all 6 batch files of 4 images each, pickled as the real ones."""
    folder = tmp_path / cifar10.CIFAR10_FOLDER
    folder.mkdir()
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for seed, name in enumerate(names):
        with open(folder / name, "wb") as fh:
            pickle.dump(_batch(seed), fh, protocol=2)
    return tmp_path


def _write_png(path, arr):
    Image.fromarray(arr).save(path)


@pytest.fixture
def celeba_root(tmp_path):
    """A CelebA-HQ folder of 5 RGB 8×8 PNGs named 0.png … 4.png (value = 10·index everywhere,
    except a bright left column)."""
    folder = tmp_path / celebahq.CELEBAHQ_FOLDER
    folder.mkdir()
    for i in range(5):
        arr = np.full((8, 8, 3), 10 * i, dtype=np.uint8)
        arr[:, 0] = 255
        _write_png(folder / f"{i}.png", arr)
    (folder / "notes.txt").write_text("not an image")
    return tmp_path


def test_registry_and_default_dir(monkeypatch, tmp_path):
    assert IMAGE_DATASETS == ("digits", "cifar10", "celebahq256")
    monkeypatch.setenv("DINOF_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("DINOF_DATA_DIR")
    assert default_data_dir().parts[-2:] == ("data", "datasets")


def test_cifar10_shapes_labels_and_order(cifar_root):
    ds = load_image_dataset("cifar10", cifar_root)
    assert len(ds) == 5 * N_PER_BATCH and ds.shape == (20, 3, 32, 32) and ds.dims == (3, 32, 32)
    assert ds.n_bins == 256 and ds.data_range == (0.0, 1.0)
    first, last = _batch(0), _batch(4)
    assert torch.equal(ds.raw(0)[0], torch.from_numpy(first[b"data"][0].reshape(3, 32, 32)))
    assert torch.equal(ds.raw(19)[0], torch.from_numpy(last[b"data"][3].reshape(3, 32, 32)))
    assert ds.labels.dtype == torch.int64 and ds.labels[:4].tolist() == first[b"labels"]
    test = load_image_dataset("cifar10", cifar_root, split="test")
    assert len(test) == 4 and test.labels.tolist() == _batch(5)[b"labels"]
    assert len(load_image_dataset("cifar10", cifar_root, split="all")) == 24
    assert len(load_image_dataset("cifar10", cifar_root, max_items=6)) == 6


@pytest.mark.parametrize("data_range", [(0.0, 1.0), (-1.0, 1.0)])
def test_cifar10_value_mapping(cifar_root, data_range):
    ds = load_image_dataset("cifar10", cifar_root, data_range=data_range)
    x, k = ds[0], ds.raw(0)[0]
    assert x.dtype == torch.float32 and x.shape == (3, 32, 32)
    expected = k.float() / 255 if data_range == (0.0, 1.0) else k.float() / 255 * 2 - 1
    assert torch.allclose(x, expected, atol=1e-6)
    lv = torch.tensor([0, 51, 255], dtype=torch.uint8)
    want = [0.0, 0.2, 1.0] if data_range == (0.0, 1.0) else [-1.0, -0.6, 1.0]
    assert ds.scale(lv).tolist() == pytest.approx(want, abs=1e-7)
    assert ds.batch(range(20)).min() >= data_range[0] and ds.batch(range(20)).max() <= 1.0


def test_flip_mirrors_and_is_reproducible(cifar_root):
    plain = load_image_dataset("cifar10", cifar_root)
    ds = load_image_dataset("cifar10", cifar_root, flip=True)
    a = ds.sampler(64, torch.Generator().manual_seed(3))
    b = ds.sampler(64, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    idx = torch.randint(20, (64,), generator=torch.Generator().manual_seed(3))
    orig = plain.batch(idx)
    same = (a == orig).flatten(1).all(1)
    mirrored = (a == orig.flip(-1)).flatten(1).all(1)
    assert (same | mirrored).all() and same.any() and mirrored.any()
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    d1 = load_image_dataset("cifar10", cifar_root, flip=True, generator=g1)
    d2 = load_image_dataset("cifar10", cifar_root, flip=True, generator=g2)
    assert all(torch.equal(d1[i], d2[i]) for i in range(20))


def test_sampler_drives_the_trainer(cifar_root):
    ds = load_image_dataset("cifar10", cifar_root, data_range=(-1, 1), flip=True)
    model = torch.nn.Linear(3 * 32 * 32, 1)
    seen = []

    def loss_fn(net, x0, g):
        seen.append(x0.shape)
        return net(x0.flatten(1)).pow(2).mean()

    cfg = TrainConfig(n_steps=2, batch_size=3, device="cpu", progress=False, ckpt_every=None)
    result = Trainer(model, loss_fn, ds.sampler, cfg).fit()
    assert seen == [torch.Size([3, 3, 32, 32])] * 2 and len(result.losses) == 2


def test_digits_reuse_load_digits():
    ds = load_image_dataset("digits", split="test", pad_to=16, data_range=(-1, 1))
    assert ds.n_bins == DIGITS_N_BINS == 17 and ds.shape == (297, 1, 16, 16)
    ref, y = load_digits_with_labels(split="test", pad_to=16, data_range=(-1, 1))
    assert torch.allclose(ds.batch(range(len(ds))), ref, atol=1e-6)
    assert torch.equal(ds.labels, y)
    assert len(load_image_dataset("digits", max_items=10)) == 10


def test_celebahq_folder_split_resize_and_values(celeba_root, monkeypatch):
    monkeypatch.setattr(celebahq, "CELEBAHQ_N_TEST", 2)
    train = load_image_dataset("celebahq256", celeba_root)
    test = load_image_dataset("celebahq256", celeba_root, split="test")
    assert [p.name for p in train.files] == ["0.png", "1.png", "2.png"]
    assert [p.name for p in test.files] == ["3.png", "4.png"]
    assert train.shape == (3, 3, 8, 8) and train.n_bins == 256 and train.labels is None
    x = test[1]  # 4.png: 40 everywhere, 255 in the left column
    assert x.dtype == torch.float32 and x.shape == (3, 8, 8)
    assert x[:, :, 1:].eq(40 / 255).all() and x[:, :, 0].eq(1.0).all()
    small = load_image_dataset("celebahq256", celeba_root, split="all", size=4, data_range=(-1, 1))
    assert small.shape == (5, 3, 4, 4) and small.sampler(2, torch.Generator()).shape == (2, 3, 4, 4)
    assert small.batch(range(5)).min() >= -1 and small.batch(range(5)).max() <= 1


def test_celebahq_natural_order_and_flip(tmp_path):
    folder = tmp_path / celebahq.CELEBAHQ_FOLDER
    folder.mkdir()
    for i in (10, 2, 1):
        _write_png(folder / f"{i}.png", np.zeros((4, 4, 3), np.uint8))
    files = celebahq.celebahq_files(tmp_path, "all")
    assert [p.name for p in files] == ["1.png", "2.png", "10.png"]
    arr = np.zeros((4, 4, 3), np.uint8)
    arr[:, 0] = 255
    _write_png(folder / "1.png", arr)
    ds = load_image_dataset("celebahq256", tmp_path, split="all", flip=True)
    outs = [ds.batch([0], torch.Generator().manual_seed(s))[0] for s in range(8)]
    assert any(o[:, :, 0].eq(1).all() for o in outs) and any(o[:, :, -1].eq(1).all() for o in outs)


def test_missing_data_say_where_and_how(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_image_dataset("cifar10", tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "cifar-10-batches-py") in msg and "download=True" in msg
    assert "curl" in msg and cifar10.CIFAR10_URL in msg
    with pytest.raises(FileNotFoundError, match="celebahq256") as err:
        load_image_dataset("celebahq256", tmp_path)
    assert str(tmp_path) in str(err.value) and "Kaggle" in str(err.value)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"name": "mnist"}, ValueError, "valid: digits, cifar10, celebahq256"),
        ({"name": "cifar10", "pad_to": 16}, ValueError, "pad_to"),
        ({"name": "digits", "size": 8}, ValueError, "size"),
        ({"name": "digits", "max_items": 0}, ValueError, "max_items"),
        ({"name": "digits", "data_range": (1, 0)}, ValueError, "hi > lo"),
        ({"name": "digits", "split": "valid"}, ValueError, "split"),
        ({"name": "celebahq256", "download": True}, ValueError, "cannot be downloaded"),
    ],
)
def test_bad_arguments(kwargs, error, match, tmp_path):
    with pytest.raises(error, match=match):
        load_image_dataset(root=tmp_path, **kwargs)


@pytest.mark.parametrize(
    "payload",
    [
        b"not a pickle at all",
        pickle.dumps([1, 2, 3]),
        pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}),
        pickle.dumps({b"fine_labels": [0]}),
        pickle.dumps({b"data": shutil.copyfile}),
    ],
)
def test_corrupt_or_foreign_pickles_raise_value_error(cifar_root, payload):
    (cifar_root / cifar10.CIFAR10_FOLDER / "data_batch_2").write_bytes(payload)
    with pytest.raises(ValueError, match="data_batch_2 is not a CIFAR-10 batch"):
        load_image_dataset("cifar10", cifar_root)


def test_unreadable_image_is_named(celeba_root):
    bad = celeba_root / celebahq.CELEBAHQ_FOLDER / "3.png"
    bad.write_bytes(b"garbage")
    ds = load_image_dataset("celebahq256", celeba_root, split="all")
    with pytest.raises(ValueError, match=r"cannot read image .*3\.png"):
        ds.batch(range(5))
    _write_png(bad, np.zeros((6, 6, 3), np.uint8))
    with pytest.raises(ValueError, match=r"3\.png is \(3, 6, 6\)"):
        ds[3]


def _archive(cifar_root, tmp_path):
    tgz = tmp_path / "served" / "cifar-10-python.tar.gz"
    tgz.parent.mkdir()
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(cifar_root / cifar10.CIFAR10_FOLDER, arcname=cifar10.CIFAR10_FOLDER)
    return tgz, hashlib.md5(tgz.read_bytes()).hexdigest()


def test_download_checks_md5_and_extracts(cifar_root, tmp_path, monkeypatch):
    tgz, md5 = _archive(cifar_root, tmp_path)
    calls = []

    def fake_urlretrieve(url, filename):
        calls.append(url)
        shutil.copyfile(tgz, filename)

    monkeypatch.setattr(urllib.request, "urlretrieve", fake_urlretrieve)
    dest = tmp_path / "dest"
    with pytest.raises(ValueError, match="md5"):  # the real checksum cannot match the fake
        load_image_dataset("cifar10", dest, download=True)
    assert not (dest / cifar10.CIFAR10_FOLDER).exists() and not list(dest.glob("*.tar.gz*"))
    monkeypatch.setattr(cifar10, "CIFAR10_MD5", md5)
    ds = load_image_dataset("cifar10", dest, download=True)
    assert calls == [cifar10.CIFAR10_URL] * 2 and len(ds) == 20
    assert torch.equal(ds.raw(range(20)), load_image_dataset("cifar10", cifar_root).raw(range(20)))
    load_image_dataset("cifar10", dest, download=True)  # already there: no new fetch
    assert len(calls) == 2


def test_offline_download_explains_manual_steps(tmp_path, monkeypatch):
    def offline(url, filename):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlretrieve", offline)
    with pytest.raises(FileNotFoundError, match="curl") as err:
        load_image_dataset("cifar10", tmp_path, download=True)
    assert "no network" in str(err.value) and str(tmp_path) in str(err.value)


def test_unsafe_archive_is_refused(tmp_path, monkeypatch):
    evil = tmp_path / "evil.tar.gz"
    payload = tmp_path / "payload"
    payload.write_text("x")
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(payload, arcname="../escaped")
    monkeypatch.setattr(urllib.request, "urlretrieve", lambda u, f: shutil.copyfile(evil, f))
    md5 = hashlib.md5(evil.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="unsafe"):
        cifar10.download_cifar10(tmp_path / "dest", md5=md5)
    assert not (tmp_path / "escaped").exists()


def test_image_dataset_validates_inputs():
    with pytest.raises(ValueError, match="uint8"):
        ImageDataset(torch.zeros(2, 1, 4, 4))
    with pytest.raises(ValueError, match="n_bins"):
        ImageDataset(torch.full((2, 1, 4, 4), 20, dtype=torch.uint8), n_bins=17)
    with pytest.raises(ValueError, match="labels"):
        ImageDataset(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), labels=torch.zeros(3))


def test_numpy1_style_pickles_load(cifar_root):
    """The real files were pickled by numpy 1.x, whose arrays reference numpy.core.multiarray."""
    path = cifar_root / cifar10.CIFAR10_FOLDER / "test_batch"
    old = pickle.dumps(_batch(5), protocol=2).replace(
        b"numpy._core.multiarray", b"numpy.core.multiarray"
    )
    assert b"numpy.core.multiarray" in old
    path.write_bytes(old)
    ds = load_image_dataset("cifar10", cifar_root, split="test")
    assert torch.equal(ds.raw(0)[0], torch.from_numpy(_batch(5)[b"data"][0].reshape(3, 32, 32)))
