"""The safe parser: text and dict forms round-trip; anything else is a ValueError."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrkit import schedules as S
from lrkit.schedules import Schedule, from_dict, parse


def test_parses_nested_calls_with_keywords_and_lists() -> None:
    s = parse("  join([warmup(10, cosine(90, final=0.1)), constant(0.1)], [100])\n")
    assert s == S.join([S.warmup(10, S.cosine(90, final=0.1)), S.constant(0.1)], [100])
    assert parse("multistep((30, 60), 0.1)") == S.multistep([30, 60], 0.1)
    assert parse("one_cycle(1_000, three_phase=True)") == S.one_cycle(1000, three_phase=True)
    assert parse('wsd(100, 10, 20, decay="1-sqrt")') == S.wsd(100, 10, 20, decay="1-sqrt")
    assert parse("linear(+1, 1e-1, 10)") == S.linear(1.0, 0.1, 10)
    assert parse("one_cycle(100, warmup_steps=None)") == S.one_cycle(100)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "must be a schedule expression"),
        ("cosine(", "must be a schedule expression"),
        ("cosine", "expected a call"),
        ("cosine(100) + 1", "expected a call"),
        ("coisne(100)", "unknown schedule 'coisne'"),
        ("__import__('os')", "unknown schedule '__import__'"),
        ("__import__('os').system('true')", "expected a call"),
        ("cosine.__class__(1)", "expected a call"),
        ("cosine(x)", "arguments must be numbers, strings, lists or schedules"),
        ("cosine(10, final=1/2)", "arguments must be"),
        ("cosine(**{'total_steps': 1})", "'**' arguments are not allowed"),
        ("cosine(10, 0.1, 3)", "too many positional arguments"),
        ("cosine(10, fnal=0.1)", "unexpected keyword argument 'fnal'"),
        ("cosine()", "missing a required argument"),
        ("cosine(-5)", "`total_steps` must be a positive integer, but got total_steps=-5"),
        ("cosine('10')", "`total_steps` must be an integer"),
        ("multistep([30, 20], 0.1)", "strictly increasing"),
        ("warmup(200, 'cosine(1000)')", "`then` must be an lrkit schedule"),
        ("cosine(10" + "0" * 30 + ")", "too large"),
        ("cosine(1e999)", "`total_steps` must be"),
        ("x" * 20_000, "at most 10000 characters"),
        ("warmup(1, " * 40 + "constant()" + ")" * 40, "nest at most"),
        ("cosine(10)\x00", "must be a schedule expression"),
        # inside another call, the message says which inner call is wrong
        ("warmup(10, cosine(-5))", "in 'cosine(-5)': `total_steps` must be a positive integer"),
        ("join([cosine(10), cosine(10, final=-1)], [10])", "in 'cosine(10, final=-1)': `final`"),
        ("warmup(10, cosine(5, 1, 2))", "in 'cosine(5, 1, 2)': cosine(total_steps"),
    ],
)
def test_malformed_text_is_one_value_error(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        parse(text)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_non_string_is_type_error() -> None:
    with pytest.raises(TypeError, match="`text` must be a string"):
        parse(S.cosine(10))  # type: ignore[arg-type]


def test_from_dict_errors() -> None:
    with pytest.raises(TypeError, match="`data` must be a dict"):
        from_dict("cosine(10)")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`name` must be one of"):
        from_dict({"name": "nope", "args": {}})
    with pytest.raises(ValueError, match="extra"):
        from_dict({"name": "cosine", "args": {"total_steps": 3}, "x": 1})
    with pytest.raises(ValueError, match="`args` must fit cosine"):
        from_dict({"name": "cosine", "args": {"steps": 3}})
    with pytest.raises(ValueError, match="`total_steps` must be a positive integer"):
        from_dict({"name": "cosine", "args": {"total_steps": 0}})


# -- fuzzing -------------------------------------------------------------------------

_ALPHABET = string.ascii_letters + string.digits + "_()[],.=+-*/'\" \t\n:{}#@!eE"
_TOKENS = st.sampled_from(
    [*S.FACTORIES, "(", ")", "[", "]", ",", "=", "final", "total_steps", "1", "0", "-1", "0.5",
     "1e-3", "'linear'", "True", "None", "lambda", "x", " ", "**", "import"]
)


def _must_be_schedule_or_value_error(text: str) -> None:
    try:
        result = parse(text)
    except ValueError:
        return
    assert isinstance(result, Schedule)
    assert parse(str(result)) == result


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=_ALPHABET, max_size=60))
def test_fuzz_arbitrary_text(text: str) -> None:
    _must_be_schedule_or_value_error(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_fuzz_arbitrary_unicode(text: str) -> None:
    _must_be_schedule_or_value_error(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(_TOKENS, max_size=14).map("".join))
def test_fuzz_token_soup(text: str) -> None:
    _must_be_schedule_or_value_error(text)


_numbers = st.one_of(
    st.integers(min_value=-5, max_value=2000),
    st.floats(min_value=-1.0, max_value=3.0),
    st.floats(),
)
_args = st.lists(st.one_of(_numbers, st.just("'cosine'"), st.just("[10, 20]")), max_size=4)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(S.FACTORIES)), _args)
def test_fuzz_factory_calls_with_random_arguments(name: str, args: list[object]) -> None:
    text = f"{name}({', '.join(str(a) for a in args)})"
    _must_be_schedule_or_value_error(text)


def _schedules() -> st.SearchStrategy[Schedule]:
    total = st.integers(min_value=1, max_value=10**6)
    frac = st.floats(min_value=0.0, max_value=1.0)
    leaf = st.one_of(
        st.builds(S.constant, frac),
        st.builds(S.cosine, total, final=frac),
        st.builds(S.linear, frac, frac, total),
        st.builds(S.polynomial, total, power=st.floats(0.1, 5.0), final=frac),
        st.builds(S.step, st.integers(1, 1000), st.floats(0.01, 1.0)),
        st.builds(S.exponential, st.floats(0.5, 1.0)),
        st.builds(S.cosine_restarts, st.integers(1, 1000), mult=st.integers(1, 3),
                  decay=st.floats(0.1, 1.0), final=frac),
        st.builds(S.inverse_sqrt, st.integers(1, 1000)),
    )
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(S.warmup, st.integers(0, 1000), inner),
            st.lists(inner, min_size=1, max_size=3).flatmap(
                lambda parts: st.lists(st.integers(1, 10**6), min_size=len(parts) - 1,
                                       max_size=len(parts) - 1, unique=True).map(
                    lambda bounds: S.join(parts, sorted(bounds)))
            ),
        ),
        max_leaves=6,
    )


@settings(max_examples=200, deadline=None)
@given(_schedules(), st.integers(min_value=0, max_value=10**7))
def test_fuzz_generated_schedules_round_trip(s: Schedule, t: int) -> None:
    assert parse(str(s)) == s
    assert from_dict(s.to_dict()) == s
    assert parse(str(s))(t) == s(t)


@pytest.mark.parametrize(
    ("text", "steps", "warns"),
    [
        ("cosine(100)", 1000, True),  # ends at 0: 900 steps that do not train
        ("cosine(100)", 101, True),
        ("cosine(100)", 100, False),  # ends exactly with the run
        ("warmup(10, cosine(90))", 100, False),
        ("multistep([100, 150], 0.1)", 200, False),  # over at 3/4 of the run, on purpose
        ("multistep([50], 0.1)", 200, True),  # over by half-way at a non-zero value
        ("constant()", 500, False),  # never changes: nothing ends early
        ("warmup(10, constant())", 500, False),  # a ramp that holds its peak is a shape
        ("linear(0.1, 1.0, 50)", 500, False),
        ("linear(1.0, 0.1, 50)", 500, True),  # a decay over a tenth of the run is not
        ("cosine_restarts(50)", 1000, False),  # periodic: no horizon
        ("constant(0)", 200, True),  # 0 from the start: nothing trains (audit case)
        ("linear(0, 0, 1000)", 200, True),  # over a horizon longer than the run too
        ("linear(0, 1, 1000)", 200, False),  # 0 only at step 0
    ],
)
def test_warn_if_ends_early(text, steps, warns):
    import warnings

    from lrkit.schedules import ScheduleEndsEarlyWarning, parse, warn_if_ends_early

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_if_ends_early(parse(text), steps)
    ours = [w for w in caught if issubclass(w.category, ScheduleEndsEarlyWarning)]
    assert len(ours) == int(warns)
    if warns:
        assert f"of {steps}" in str(ours[0].message) and text.split("(")[0] in str(ours[0].message)


def test_autotrain_and_train_warn_about_a_schedule_that_ends_early():
    pytest.importorskip("torch")
    import torch

    from lrkit.problems import get, train
    from lrkit.schedules import ScheduleEndsEarlyWarning
    from lrkit.torch import autotrain

    with pytest.warns(ScheduleEndsEarlyWarning, match="do not train"):
        train(get("quadratic"), 0.1, steps=40, schedule="cosine(10)")
    x = torch.randn(64, 2)
    data = [(x[i:i + 16], x[i:i + 16].sum(1, keepdim=True)) for i in range(0, 64, 16)]
    with pytest.warns(ScheduleEndsEarlyWarning, match="step 10 of 40"):
        autotrain(torch.nn.Linear(2, 1), lambda p, lr: torch.optim.SGD(p, lr=lr),
                  lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]), data, 40,
                  schedule=__import__("lrkit").schedules.parse("cosine(10)"), seed=0)


def test_the_warning_points_at_the_users_line_not_at_lrkit():
    pytest.importorskip("torch")
    import warnings

    from lrkit.problems import get, train

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(get("quadratic"), 0.1, steps=40, schedule="cosine(10)")  # this line
    assert caught and caught[0].filename == __file__
