"""Objectives where the right answer is known: the lab's test bench.

Every objective has ``loss(x)`` and ``grad(x)`` (exact), ``sample_grad(x, rng)`` (the
gradient an optimizer sees: exact, or noisy for the stochastic ones), a starting point
``x0``, the minimiser ``x_star`` and minimum ``f_star``. Where theory applies it also knows
the smoothness ``L`` (largest curvature) and strong convexity ``mu`` (smallest curvature).

All functions take a batch of points ``x`` of shape ``(..., dim)`` and return one loss per
point, so a whole grid of rates can run as the rows of one array.

==================  =======================================================================
name                objective
==================  =======================================================================
quadratic           ``1/2 (x - x*)^T H (x - x*)``, eigenvalues of H from ``mu = L/kappa`` to L
noisy-quadratic     the same, with gradients ``H (x - x*) + sigma * N(0, I)``
rosenbrock          ``(1 - x)^2 + 100 (y - x^2)^2``, a curved narrow valley, minimum at (1, 1)
beale               ``sum_i (c_i - x + x y^i)^2``, flat plateaus and steep walls, min at (3, 0.5)
saddle              ``x^2/2 + y^4/4 - y^2/2``, a saddle at 0 and minima at (0, +-1)
logistic            L2-regularised logistic regression on scikit-learn's breast-cancer data
==================  =======================================================================

>>> q = quadratic(kappa=100, dim=10)
>>> q.L, q.mu
(1.0, 0.01)
>>> float(q.loss(q.x_star))
0.0
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from lrkit._validation import (
    _fail,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    check_real,
    check_seed,
)


class Objective:
    """A differentiable function with a known minimum (base class).

    Attributes:
        name: the registry name.
        description: one line for tables and plot titles.
        dim: number of coordinates.
        x0: default starting point.
        x_star: a minimiser (the one the default start leads to).
        f_star: the minimum value.
        L, mu: largest and smallest curvature where known (``None`` otherwise).
        eigenvalues: the Hessian's eigenvalues for quadratics (``None`` otherwise).
        noise_std: standard deviation of each gradient coordinate's noise (0 when exact).
        bounds: ``((xmin, xmax), (ymin, ymax))`` of a good contour plot for 2-D objectives.
    """

    name: str = ""
    description: str = ""
    L: float | None = None
    mu: float | None = None
    eigenvalues: np.ndarray | None = None
    noise_std: float = 0.0
    bounds: tuple[tuple[float, float], tuple[float, float]] | None = None
    log_contours: bool = False

    def __init__(self, x0: np.ndarray, x_star: np.ndarray, f_star: float) -> None:
        self.x0 = np.asarray(x0, dtype=float)
        self.x_star = np.asarray(x_star, dtype=float)
        self.f_star = float(f_star)
        self.dim = int(self.x0.shape[-1])

    def loss(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - every objective defines it

    def grad(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - every objective defines it

    def sample_grad(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The gradient an optimizer sees; exact unless the objective is stochastic."""
        return self.grad(x)

    @property
    def stochastic(self) -> bool:
        """Whether :meth:`sample_grad` is random."""
        return False

    def curvature_at(self, x: np.ndarray) -> float:
        """The largest eigenvalue of the Hessian at ``x``, by central differences of the
        exact gradient: ``H[:, j] = (grad(x + h e_j) - grad(x - h e_j)) / 2h``, symmetrised.

        >>> round(make("rosenbrock").curvature_at(np.array([1.0, 1.0])), 1)  # 501 + sqrt(250601)
        1001.6
        """
        x = np.asarray(x, dtype=float)
        columns = []
        for j in range(x.size):
            h = 1e-5 * max(1.0, abs(float(x[j])))
            step = np.zeros_like(x)
            step[j] = h
            columns.append((self.grad(x + step) - self.grad(x - step)) / (2 * h))
        hessian = np.stack(columns, axis=1)
        return float(np.linalg.eigvalsh((hessian + hessian.T) / 2)[-1])

    @functools.cached_property
    def resolution(self) -> float:
        """The smallest gap ``loss(x) - f_star`` that rounding lets one tell from zero.

        Two limits: ``loss(x)`` is computed to about ``eps * |f*|``, and ``x`` itself is only
        known to a few ulps, ``delta = 4 eps max(1, |x*|)`` per coordinate, which is worth
        ``1/2 trace(H*) delta^2`` of loss at the minimum (``H*`` the Hessian there, its
        trace taken by central differences of the gradient). Smaller gaps are noise.
        """
        eps = float(np.finfo(float).eps)
        h = 1e-5 * max(1.0, float(np.max(np.abs(self.x_star))))
        eye = np.eye(self.dim)
        trace = float(sum(
            (self.grad(self.x_star + h * e)[i] - self.grad(self.x_star - h * e)[i]) / (2 * h)
            for i, e in enumerate(eye)
        ))
        delta = 4 * eps * max(1.0, float(np.max(np.abs(self.x_star))))
        return 8 * eps * abs(self.f_star) + 0.5 * max(trace, 0.0) * delta**2

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"


# the largest condition number whose smallest curvature the built matrix still has (to
# about 1e-5 relative; at 1e14 it is off by 0.2%, at 1e16 by 8%)
MAX_KAPPA = 1e12


class Quadratic(Objective):
    """``f(x) = 1/2 (x - x*)^T H (x - x*)`` with ``H = Q diag(lambda) Q^T``.

    The eigenvalues ``lambda`` are spaced geometrically from ``mu = L / kappa`` to ``L``
    (both included); ``Q`` is a random rotation and ``x*`` a random point drawn from
    ``seed``. The start ``x0 = x* + Q 1`` lies at distance 1 from ``x*`` along every
    eigenvector, so each curvature is equally present.
    """

    name = "quadratic"

    def __init__(self, kappa: float = 100.0, dim: int = 10, L: float = 1.0, seed: int = 0) -> None:
        kappa = check_positive("kappa", kappa)
        if kappa < 1:
            _fail("kappa", ">= 1 (the condition number L/mu)", kappa)
        if kappa > MAX_KAPPA:  # past it, Q diag(lambda) Q^T in float64 loses mu to rounding
            _fail("kappa", f"<= {MAX_KAPPA:g} (float64 cannot hold a smaller mu beside L)", kappa)
        dim = check_int("dim", dim, minimum=1)
        if dim == 1 and kappa != 1:
            _fail("dim", ">= 2 when kappa > 1 (one coordinate has one curvature)", dim)
        L = check_positive("L", L)
        seed = check_seed("seed", seed)
        rng = np.random.default_rng(seed)
        self.kappa = kappa
        self.L = L
        self.mu = L / kappa
        self.eigenvalues = np.geomspace(self.mu, L, dim)
        q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
        self.Q = q * np.sign(np.diag(r))
        self.H = (self.Q * self.eigenvalues) @ self.Q.T
        self.H = (self.H + self.H.T) / 2
        x_star = rng.standard_normal(dim)
        super().__init__(x_star + self.Q @ np.ones(dim), x_star, 0.0)
        self.description = f"quadratic, kappa={kappa:g}, dim={dim}"
        if dim == 2:
            radius = 1.6 * np.sqrt(2.0)
            self.bounds = ((x_star[0] - radius, x_star[0] + radius),
                           (x_star[1] - radius, x_star[1] + radius))

    def loss(self, x: np.ndarray) -> np.ndarray:
        d = np.asarray(x, dtype=float) - self.x_star
        return 0.5 * np.sum(d * (d @ self.H), axis=-1) + self.f_star

    def grad(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=float) - self.x_star) @ self.H


class NoisyQuadratic(Quadratic):
    """A :class:`Quadratic` whose gradients carry independent Gaussian noise::

        sample_grad(x) = H (x - x*) + sigma * N(0, I)

    ``loss`` is the exact (expected) loss, so what is plotted is the true distance to the
    answer. With a constant rate, gradient descent stalls at a noise floor (see
    :func:`lrkit.lab.theory.noise_floor`); a decaying rate goes below it.
    """

    name = "noisy-quadratic"

    def __init__(self, kappa: float = 10.0, dim: int = 10, sigma: float = 0.1, L: float = 1.0,
                 seed: int = 0) -> None:
        super().__init__(kappa=kappa, dim=dim, L=L, seed=seed)
        self.noise_std = check_nonnegative("sigma", sigma)
        self.description = f"noisy quadratic, kappa={kappa:g}, dim={dim}, sigma={sigma:g}"

    def sample_grad(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        g = self.grad(x)
        return g + self.noise_std * rng.standard_normal(g.shape)

    @property
    def stochastic(self) -> bool:
        return self.noise_std > 0


class Rosenbrock(Objective):
    """``f(x, y) = (a - x)^2 + b (y - x^2)^2``, minimum 0 at ``(a, a^2)``.

    A narrow curved valley: the curvature across it is about ``1000`` times the curvature
    along it at the minimum, so one rate cannot suit both directions.
    """

    name = "rosenbrock"
    bounds = ((-2.0, 2.0), (-1.0, 3.0))
    log_contours = True

    def __init__(self, a: float = 1.0, b: float = 100.0) -> None:
        self.a = check_real("a", a)
        self.b = check_positive("b", b)
        super().__init__(np.array([-1.2, 1.0]), np.array([self.a, self.a**2]), 0.0)
        self.description = "Rosenbrock valley"

    def loss(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        u, v = x[..., 0], x[..., 1]
        return (self.a - u) ** 2 + self.b * (v - u**2) ** 2

    def grad(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        u, v = x[..., 0], x[..., 1]
        du = -2 * (self.a - u) - 4 * self.b * u * (v - u**2)
        dv = 2 * self.b * (v - u**2)
        return np.stack([du, dv], axis=-1)


class Beale(Objective):
    """``f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2``.

    Minimum 0 at ``(3, 0.5)``; flat plateaus next to steep walls, where a rate right for
    one region is wrong for the other.
    """

    name = "beale"
    bounds = ((-4.5, 4.5), (-4.5, 4.5))
    log_contours = True
    _c = (1.5, 2.25, 2.625)

    def __init__(self) -> None:
        super().__init__(np.array([1.0, 1.5]), np.array([3.0, 0.5]), 0.0)
        self.description = "Beale function"

    def _terms(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        x = np.asarray(x, dtype=float)
        u, v = x[..., 0], x[..., 1]
        return u, v, [c - u + u * v ** (i + 1) for i, c in enumerate(self._c)]

    def loss(self, x: np.ndarray) -> np.ndarray:
        _, _, terms = self._terms(x)
        return sum(t**2 for t in terms)

    def grad(self, x: np.ndarray) -> np.ndarray:
        u, v, terms = self._terms(x)
        du = sum(2 * t * (v ** (i + 1) - 1) for i, t in enumerate(terms))
        dv = sum(2 * t * u * (i + 1) * v**i for i, t in enumerate(terms))
        return np.stack([du, dv], axis=-1)


class Saddle(Objective):
    """``f(x, y) = x^2/2 + y^4/4 - y^2/2``: a saddle point at the origin, minima -1/4 at (0, +-1).

    Started next to the saddle, the way down (along ``y``) is nearly flat: ``y`` grows only
    by the factor ``1 + lr`` per step, so a tiny rate lingers at the saddle for a long time.
    """

    name = "saddle"
    bounds = ((-2.5, 2.5), (-1.8, 1.8))

    def __init__(self) -> None:
        super().__init__(np.array([2.0, 1e-3]), np.array([0.0, 1.0]), -0.25)
        self.description = "saddle x^2/2 + y^4/4 - y^2/2"

    def loss(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        u, v = x[..., 0], x[..., 1]
        return u**2 / 2 + v**4 / 4 - v**2 / 2

    def grad(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        u, v = x[..., 0], x[..., 1]
        return np.stack([u, v**3 - v], axis=-1)


class Logistic(Objective):
    """L2-regularised logistic regression on scikit-learn's bundled breast-cancer data::

        f(w) = mean_i [log(1 + exp(z_i)) - y_i z_i] + lam/2 |w|^2,   z = X w

    (569 examples, 30 standardised features plus an intercept column). Convex with
    ``L = lambda_max(X^T X) / (4 n) + lam`` and ``mu = lam``; ``x_star`` and ``f_star`` are
    computed by Newton's method. With ``batch_size`` the optimizer sees minibatch gradients.
    """

    name = "logistic"

    def __init__(self, lam: float = 1e-2, batch_size: int | None = None) -> None:
        self.lam = check_positive("lam", lam)
        datasets = _sklearn_datasets()
        data = datasets.load_breast_cancer()
        features = (data.data - data.data.mean(0)) / data.data.std(0)
        self.X = np.hstack([features, np.ones((features.shape[0], 1))])
        self.y = data.target.astype(float)
        n = self.X.shape[0]
        if batch_size is not None:
            batch_size = check_int("batch_size", batch_size, minimum=1)
            if batch_size > n:
                _fail("batch_size", f"at most the {n} examples", batch_size)
        self.batch_size = batch_size
        self.L = float(np.linalg.eigvalsh(self.X.T @ self.X).max() / (4 * n) + self.lam)
        self.mu = self.lam
        w = self._newton(np.zeros(self.X.shape[1]))
        super().__init__(np.zeros(self.X.shape[1]), w, float(self.loss(w)))
        batch = "full batch" if batch_size is None else f"batch {batch_size}"
        self.description = f"logistic regression (breast cancer), lam={lam:g}, {batch}"

    def _newton(self, w: np.ndarray) -> np.ndarray:
        for _ in range(50):
            p = _sigmoid(self.X @ w)
            hessian = (self.X.T * (p * (1 - p))) @ self.X / len(self.y) + self.lam * np.eye(len(w))
            step = np.linalg.solve(hessian, self.grad(w))
            w = w - step
            if np.max(np.abs(step)) < 1e-14:
                break
        return w

    def loss(self, x: np.ndarray) -> np.ndarray:
        w = np.asarray(x, dtype=float)
        z = w @ self.X.T
        data_loss = np.mean(np.logaddexp(0.0, z) - self.y * z, axis=-1)
        return data_loss + 0.5 * self.lam * np.sum(w**2, axis=-1)

    def _grad_on(self, w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (_sigmoid(w @ X.T) - y) @ X / len(y) + self.lam * w

    def grad(self, x: np.ndarray) -> np.ndarray:
        return self._grad_on(np.asarray(x, dtype=float), self.X, self.y)

    def sample_grad(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.batch_size is None:
            return self.grad(x)
        idx = rng.choice(len(self.y), size=self.batch_size, replace=False)
        return self._grad_on(np.asarray(x, dtype=float), self.X[idx], self.y[idx])

    @property
    def stochastic(self) -> bool:
        return self.batch_size is not None


def _sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def _sklearn_datasets() -> Any:
    from lrkit._optional import require

    return require("sklearn.datasets", "the logistic objective")


OBJECTIVES: dict[str, Callable[..., Objective]] = {
    "quadratic": Quadratic,
    "noisy-quadratic": NoisyQuadratic,
    "rosenbrock": Rosenbrock,
    "beale": Beale,
    "saddle": Saddle,
    "logistic": Logistic,
}

quadratic = Quadratic
noisy_quadratic = NoisyQuadratic
rosenbrock = Rosenbrock
beale = Beale
saddle = Saddle
logistic = Logistic


def names() -> list[str]:
    """The objective names :func:`make` accepts."""
    return list(OBJECTIVES)


def options(name: str) -> list[str]:
    """The keyword options the objective ``name`` takes, e.g. ``["kappa", "dim", "L", "seed"]``."""
    check_choice("objective", name, OBJECTIVES)
    return list(inspect.signature(OBJECTIVES[name]).parameters)


def make(name: str, **kwargs: Any) -> Objective:
    """The objective called ``name``, built with the options it takes.

    >>> make("quadratic", kappa=10, dim=2).L
    1.0
    """
    accepted = options(name)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        takes = ", ".join(accepted) if accepted else "no options"
        raise ValueError(
            f"`{unknown[0]}` does not apply to objective {name!r} (it takes {takes}), "
            f"but got {unknown[0]}={kwargs[unknown[0]]!r}"
        )
    return OBJECTIVES[name](**kwargs)
