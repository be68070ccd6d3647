"""A problem of your own for every lrkit command: a function returning an
``lrkit.problems.Problem``.

    lrkit find --problem examples/my_problem.py:make_problem

This one fits a small MLP to scikit-learn's bundled diabetes data (442 patients, 10
features, disease progression after one year), standardised, with Adam.
"""

import numpy as np
import torch
from sklearn.datasets import load_diabetes

from lrkit.problems import Problem


def make_problem() -> Problem:
    data = load_diabetes()
    x = torch.tensor(data.data, dtype=torch.float32)
    y = torch.tensor(data.target, dtype=torch.float32).unsqueeze(1)
    order = np.random.RandomState(0).permutation(len(x))  # a fixed split, whatever the seed
    train_idx, test_idx = torch.tensor(order[100:]), torch.tensor(order[:100])
    mean, std = x[train_idx].mean(0), x[train_idx].std(0)
    x = (x - mean) / std
    y = (y - y[train_idx].mean()) / y[train_idx].std()
    x_train, y_train, x_test, y_test = x[train_idx], y[train_idx], x[test_idx], y[test_idx]

    def make_model(seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)  # lrkit's train() forks torch's RNG around the run
        return torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))

    def make_optimizer(params, lr: float) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=lr)

    def loss_fn(model: torch.nn.Module, batch) -> torch.Tensor:
        inputs, targets = batch
        return torch.nn.functional.mse_loss(model(inputs), targets)

    def batches(seed: int):
        generator = torch.Generator().manual_seed(seed)
        while True:
            order = torch.randperm(len(x_train), generator=generator)
            for start in range(0, len(order) - 31, 32):
                index = order[start : start + 32]
                yield x_train[index], y_train[index]

    def evaluate(model: torch.nn.Module) -> float:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            loss = float(loss_fn(model, (x_test, y_test)))
        model.train(was_training)
        return loss

    return Problem(
        name="diabetes-mlp",
        description="MLP 10-32-1 regressing diabetes progression, Adam batch 32",
        make_model=make_model,
        make_optimizer=make_optimizer,
        loss_fn=loss_fn,
        batches=batches,
        evaluate=evaluate,
        steps=200,
        default_lr=1e-3,
        optimizer="adam",
        tags=("regression", "user"),
    )
