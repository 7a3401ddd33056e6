"""The study plan's checkers accept the references and reject at least three plausible mistakes each."""

import pytest
import torch
from torch import nn

from micourse.checks import CheckFailure
from micourse.checks import study_plan as chk

M, S = chk.MNIST_MEAN, chk.MNIST_STD


def rejects(check, fn, *fragments):
    with pytest.raises(CheckFailure) as info:
        check(fn)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


# ---------------------------------------------------------------- week 1


def test_preprocess():
    chk.check_preprocess(chk.preprocess_reference)
    rejects(chk.check_preprocess, lambda ims: [(i.flatten().float() - M) / S for i in ims], "divide by 255")
    rejects(chk.check_preprocess, lambda ims: [i.flatten().float() / 255 for i in ims], "not standardised")
    rejects(chk.check_preprocess, lambda ims: [(i.T.flatten().float() / 255 - M) / S for i in ims], "column by column")
    rejects(chk.check_preprocess, lambda ims: [(i.float() / 255 - M) / S for i in ims], "not flattened")
    rejects(chk.check_preprocess, lambda ims: (ims.flatten(1).float() / 255 - M) / S, "one tensor")
    rejects(chk.check_preprocess, lambda ims: [(i.flatten().float() / 255 - M) * S for i in ims], "don't multiply")


def _batches_drop_last(xs, ys, bs):
    return [b for b in chk.make_batches_reference(xs, ys, bs) if len(b[1]) == bs]


def test_make_batches():
    chk.check_make_batches(chk.make_batches_reference)
    chk.check_make_batches(lambda xs, ys, bs: (b for b in chk.make_batches_reference(xs, ys, bs)))  # a generator is fine
    rejects(chk.check_make_batches, _batches_drop_last, "short batch")
    rejects(chk.check_make_batches,
            lambda xs, ys, bs: [(torch.stack(xs[i:i + bs]), torch.tensor(ys[i:i + bs], dtype=torch.float32)) for i in range(0, len(xs), bs)],
            "int64")
    rejects(chk.check_make_batches, lambda xs, ys, bs: [(list(xs[i:i + bs]), torch.tensor(ys[i:i + bs])) for i in range(0, len(xs), bs)],
            "torch.stack")
    rejects(chk.check_make_batches,
            lambda xs, ys, bs: [(torch.stack(xs[i:i + bs]), torch.tensor(ys[i + 1:i + bs + 1] + ys[:1])[:len(xs[i:i + bs])]) for i in range(0, len(xs), bs)],
            "labels")


class _NoStandardise(chk.MnistDatasetReference):
    def __init__(self, images, labels):
        super().__init__(images, labels)
        self.x = images.reshape(len(images), -1).float() / 255


class _Unflattened(chk.MnistDatasetReference):
    def __getitem__(self, i):
        return self.x[i].reshape(28, 28), self.y[i]


class _ShiftedLabels(chk.MnistDatasetReference):
    def __getitem__(self, i):
        return self.x[i], self.y[(i + 1) % len(self.y)]


class _NotADataset:
    def __init__(self, images, labels):
        pass


def test_dataset():
    chk.check_dataset(chk.MnistDatasetReference)
    rejects(chk.check_dataset, _NoStandardise, "standardise")
    rejects(chk.check_dataset, _Unflattened, "flatten")
    rejects(chk.check_dataset, _ShiftedLabels, "label")
    rejects(chk.check_dataset, _NotADataset, "subclass")


def test_build_mlp():
    chk.check_build_mlp(chk.build_mlp_reference)
    chk.check_build_mlp(lambda: nn.Sequential(nn.Linear(784, 256), nn.GELU(), nn.Linear(256, 10)))
    rejects(chk.check_build_mlp, lambda: nn.Sequential(nn.Linear(784, 256), nn.Linear(256, 10)), "nonlinearity")
    rejects(chk.check_build_mlp, lambda: nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10), nn.Softmax(-1)), "softmax")
    rejects(chk.check_build_mlp, lambda: nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)), "256")
    rejects(chk.check_build_mlp, lambda: nn.Linear(784, 10), "nn.Sequential")
