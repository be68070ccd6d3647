"""What theory says about the learning rate on a quadratic with curvatures in ``[mu, L]``.

Gradient descent multiplies the error along an eigenvector of curvature ``lambda`` by
``1 - lr * lambda`` each step, so the error shrinks by the contraction factor

    rho(lr) = max(|1 - lr * mu|, |1 - lr * L|)

per step. From this:

* ``lr < 2/L`` converges, ``lr > 2/L`` diverges (the stiffest direction overshoots more each
  step than it corrects);
* ``1/L`` is the classic safe rate (no direction overshoots), contracting by ``1 - 1/kappa``;
* ``2/(L + mu)`` is the best constant rate, balancing the slowest and the stiffest direction,
  with ``rho = (kappa - 1)/(kappa + 1)``, where ``kappa = L/mu``;
* heavy-ball momentum with ``lr = 4/(sqrt(L) + sqrt(mu))^2`` and
  ``momentum = ((sqrt(kappa) - 1)/(sqrt(kappa) + 1))^2`` contracts by
  ``(sqrt(kappa) - 1)/(sqrt(kappa) + 1)``: the square root of kappa instead of kappa.

>>> round(gd_contraction(2 / 1.01, L=1.0, mu=0.01), 6)
0.980198
>>> round(optimal_contraction(100.0), 6)
0.980198
"""

from __future__ import annotations

import math

import numpy as np

from lrkit._validation import _fail, check_int, check_nonnegative, check_positive, check_range


def _check_curvatures(L: float, mu: float) -> tuple[float, float]:
    L = check_positive("L", L)
    mu = check_positive("mu", mu)
    if mu > L:
        raise ValueError(f"`mu <= L` must hold, but got (mu={mu!r}, L={L!r})")
    return L, mu


def max_stable_lr(L: float) -> float:
    """``2/L``: gradient descent diverges above it (on the direction of curvature ``L``)."""
    return 2.0 / check_positive("L", L)


def safe_lr(L: float) -> float:
    """``1/L``: the classic rate that never overshoots along any direction."""
    return 1.0 / check_positive("L", L)


def optimal_lr(L: float, mu: float) -> float:
    """``2/(L + mu)``: the constant rate with the smallest contraction factor."""
    L, mu = _check_curvatures(L, mu)
    return 2.0 / (L + mu)


def gd_contraction(lr: float, L: float, mu: float) -> float:
    """``max(|1 - lr mu|, |1 - lr L|)``: the factor gradient descent shrinks the error by each step.

    Above 1 the error grows: the rate diverges.
    """
    lr = check_positive("lr", lr)
    L, mu = _check_curvatures(L, mu)
    return max(abs(1 - lr * mu), abs(1 - lr * L))


def gd_gap(lr: float | np.ndarray, steps: int, eigenvalues: np.ndarray,
           initial_error: np.ndarray) -> float | np.ndarray:
    """The exact gap after ``steps`` of gradient descent at a constant rate on a quadratic::

        f(x_T) - f* = 1/2 sum_i lambda_i c_i^2 (1 - lr lambda_i)^(2 T)

    where ``c = Q^T (x0 - x*)`` is the initial error in the Hessian's eigenbasis. Minimising
    it over ``lr`` gives the best rate *for a run of T steps*, which sits a little below
    ``2/(L + mu)`` and approaches it as ``T`` grows. ``lr`` may be an array.

    >>> float(gd_gap(0.5, 1, np.array([1.0]), np.array([2.0])))
    0.5
    """
    steps = check_int("steps", steps, minimum=0)
    lam = np.asarray(eigenvalues, dtype=float)
    c = np.asarray(initial_error, dtype=float)
    if lam.shape != c.shape:
        raise ValueError(f"`initial_error` must have the shape of `eigenvalues` {lam.shape}, "
                         f"but got initial_error shape {c.shape}")
    rates = np.asarray(lr, dtype=float)
    if not np.all(np.isfinite(rates) & (rates > 0)):
        raise ValueError(f"`lr` must be positive finite rates, but got lr={lr!r}")
    factors = (1 - rates[..., None] * lam) ** (2 * steps)
    gap = 0.5 * np.sum(lam * c**2 * factors, axis=-1)
    return float(gap) if np.ndim(lr) == 0 else gap


def optimal_contraction(kappa: float) -> float:
    """``(kappa - 1)/(kappa + 1)``: gradient descent's contraction at its best constant rate."""
    kappa = check_positive("kappa", kappa)
    if kappa < 1:
        _fail("kappa", ">= 1", kappa)
    return (kappa - 1) / (kappa + 1)


def heavy_ball_parameters(L: float, mu: float) -> tuple[float, float]:
    """Polyak's tuned ``(lr, momentum)`` for heavy ball on a quadratic::

        lr       = 4 / (sqrt(L) + sqrt(mu))^2
        momentum = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2
    """
    L, mu = _check_curvatures(L, mu)
    lr = 4.0 / (math.sqrt(L) + math.sqrt(mu)) ** 2
    root = math.sqrt(L / mu)
    return lr, ((root - 1) / (root + 1)) ** 2


def heavy_ball_optimal_contraction(kappa: float) -> float:
    """``(sqrt(kappa) - 1)/(sqrt(kappa) + 1)``: heavy ball's contraction with tuned parameters."""
    kappa = check_positive("kappa", kappa)
    if kappa < 1:
        _fail("kappa", ">= 1", kappa)
    root = math.sqrt(kappa)
    return (root - 1) / (root + 1)


def heavy_ball_contraction(lr: float, momentum: float, eigenvalues: np.ndarray) -> float:
    """The asymptotic contraction per step of heavy ball on a quadratic with these curvatures.

    Along an eigenvector of curvature ``lambda`` the pair ``(e_t, e_{t-1})`` evolves by
    ``[[1 + momentum - lr lambda, -momentum], [1, 0]]``; the factor is the largest spectral
    radius of these matrices over the eigenvalues.
    """
    lr = check_positive("lr", lr)
    momentum = check_range("momentum", momentum, 0.0, 1.0, high_open=True)
    lam = np.asarray(eigenvalues, dtype=float).ravel()
    radius = 0.0
    for value in lam:
        matrix = np.array([[1 + momentum - lr * value, -momentum], [1.0, 0.0]])
        radius = max(radius, float(np.max(np.abs(np.linalg.eigvals(matrix)))))
    return radius


def heavy_ball_max_stable_lr(L: float, momentum: float) -> float:
    """``2 (1 + momentum) / L``: heavy ball diverges above it."""
    momentum = check_range("momentum", momentum, 0.0, 1.0, high_open=True)
    return 2.0 * (1 + momentum) / check_positive("L", L)


def steps_to_reach(tolerance: float, contraction: float) -> float:
    """Steps for the error to shrink by ``tolerance`` at this contraction: ``log(tol)/log(rho)``.

    ``inf`` when the contraction is 1 or more (no progress or divergence); 1 when it is 0
    (the error vanishes in one step, as at ``lr = 1/L`` with ``kappa = 1``).

    >>> round(steps_to_reach(1e-6, 0.5), 2), steps_to_reach(1e-6, optimal_contraction(1.0))
    (19.93, 1.0)
    """
    tolerance = check_range("tolerance", tolerance, 0.0, 1.0, low_open=True, high_open=True)
    contraction = check_nonnegative("contraction", contraction)
    if contraction == 0:
        return 1.0
    if contraction >= 1:
        return math.inf
    return math.log(tolerance) / math.log(contraction)


def noise_floor(lr: float, eigenvalues: np.ndarray, sigma: float) -> float:
    """Expected excess loss where constant-rate SGD settles on a noisy quadratic::

        E[f(x) - f*] = 1/2 sum_i lr sigma^2 / (2 - lr lambda_i)

    (each coordinate in the eigenbasis is an AR(1) process ``e <- (1 - lr lambda) e - lr sigma
    xi``, whose variance is ``lr sigma^2 / (lambda (2 - lr lambda))``). For small rates the
    floor is proportional to the rate (and grows faster near ``2/L``): only a decaying rate
    goes below it. ``inf`` at ``lr >= 2/L``.
    """
    lr = check_positive("lr", lr)
    sigma = check_positive("sigma", sigma) if sigma != 0 else 0.0
    lam = np.asarray(eigenvalues, dtype=float)
    if lam.size == 0 or not np.all(np.isfinite(lam)) or np.any(lam <= 0):
        raise ValueError(f"`eigenvalues` must be positive finite numbers, but got "
                         f"eigenvalues={eigenvalues!r}")
    if np.any(lr * lam >= 2):
        return math.inf
    return float(0.5 * np.sum(lr * sigma**2 / (2 - lr * lam)))


def quadratic_rates(L: float, mu: float) -> dict[str, float]:
    """The reference rates of gradient descent on a quadratic, by the label plots use.

    >>> quadratic_rates(1.0, 0.01)["2/(L+mu)"]
    1.9801980198019802
    """
    L, mu = _check_curvatures(L, mu)
    return {"1/L": safe_lr(L), "2/(L+mu)": optimal_lr(L, mu), "2/L": max_stable_lr(L)}
