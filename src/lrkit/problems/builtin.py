"""Registers lrkit's built-in problems, from convex to deep. Imported by the registry on
first use of :func:`lrkit.problems.get` / :func:`lrkit.problems.names`."""

from __future__ import annotations

from lrkit.problems.base import Problem, register


@register("quadratic")
def _quadratic() -> Problem:
    from lrkit.problems.quadratic import make_quadratic

    return make_quadratic(name="quadratic")


@register("logistic")
def _logistic() -> Problem:
    from lrkit.problems.logistic import make_logistic

    return make_logistic()


@register("digits-mlp")
def _digits_mlp() -> Problem:
    from lrkit.problems.digits import make_digits_mlp

    return make_digits_mlp()


@register("digits-cnn")
def _digits_cnn() -> Problem:
    from lrkit.problems.digits import make_digits_cnn

    return make_digits_cnn()


@register("autoencoder")
def _autoencoder() -> Problem:
    from lrkit.problems.digits import make_autoencoder

    return make_autoencoder()


@register("char-lm")
def _char_lm() -> Problem:
    from lrkit.problems.text import make_char_lm

    return make_char_lm()


@register("deep-tanh")
def _deep_tanh() -> Problem:
    from lrkit.problems.digits import make_deep_tanh

    return make_deep_tanh()


@register("matrix-factorisation")
def _matrix_factorisation() -> Problem:
    from lrkit.problems.factorisation import make_matrix_factorisation

    return make_matrix_factorisation()
