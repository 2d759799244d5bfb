"""`--cuda` trains on the GPU where there is one, and on the CPU with a notice where there is none."""

import pytest
import torch
from conftest import ACTING_NETWORK, SHORT_RUNS, load_algorithm


def short_run_with_cuda(name: str):
    algorithm = load_algorithm(name)
    summary = algorithm.train(algorithm.Args(cuda=True, save_model=True, **SHORT_RUNS[name]))
    # loaded where it was saved from: the tensors keep their device
    return torch.load(summary["model_path"], weights_only=True)[ACTING_NETWORK[name][0]]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine")
@pytest.mark.parametrize(
    "name", [name for name in SHORT_RUNS if name != "a3c"]
)  # a3c's workers learn on the CPU
def test_cuda_trains_on_the_gpu(name, capsys):
    weights = short_run_with_cuda(name)
    assert all(tensor.is_cuda for tensor in weights.values())
    assert "no GPU" not in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("name", ["dqn", "actor_critic"])
def test_cuda_without_a_gpu_trains_on_the_cpu_and_says_so(name, capsys):
    weights = short_run_with_cuda(name)
    assert not any(tensor.is_cuda for tensor in weights.values())
    assert "notice: --cuda given but no GPU is available; training on the CPU" in capsys.readouterr().out
