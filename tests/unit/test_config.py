import pytest

from stripe_otel.config import KNOBS, ConfigError, Settings


def test_defaults() -> None:
    assert Settings.resolve(environ={}) == Settings()


def test_argument_beats_env_beats_default() -> None:
    env = {"STRIPE_OTEL_ATTEMPT_SPANS": "false", "STRIPE_OTEL_ERROR_LOG_INTERVAL": "5"}
    assert Settings.resolve(environ=env).attempt_spans is False
    assert Settings.resolve(environ=env, attempt_spans=True).attempt_spans is True
    assert Settings.resolve(environ=env).error_log_interval == 5.0


@pytest.mark.parametrize("knob", KNOBS, ids=lambda k: k.env)
def test_every_knob_rejects_garbage_naming_its_variable(knob) -> None:
    with pytest.raises(ConfigError, match=knob.env):
        Settings.resolve(environ={knob.env: "not-a-valid-value"})
    with pytest.raises(ConfigError, match=f"argument {knob.name}="):
        Settings.resolve(environ={}, **{knob.name: "not-a-valid-value"})


def test_unknown_keyword_is_an_error() -> None:
    with pytest.raises(ConfigError, match="attempt_span"):
        Settings.resolve(environ={}, attempt_span=True)


def test_negative_interval_rejected() -> None:
    with pytest.raises(ConfigError, match="STRIPE_OTEL_ERROR_LOG_INTERVAL"):
        Settings.resolve(environ={"STRIPE_OTEL_ERROR_LOG_INTERVAL": "-1"})
