"""Lifecycle message rules, pure (issue 9): which event sends which kind and by which channel, which kinds
are essential, the locale fallback, preferences, settings, kassa's built-in texts, and the signed
unsubscribe token."""

from __future__ import annotations

import pytest

from kassa.core.errors import DomainError
from kassa.core.message_texts import BUILTIN_LOCALES, builtin
from kassa.core.messages import (
    VARIABLES,
    MessageKind,
    MessageSettings,
    UnsubscribeToken,
    by_email,
    check_preferences,
    essential,
    kind_for,
    locale_chain,
    read_unsubscribe,
    sample_variables,
    settings_from,
    sign_unsubscribe,
    subscribed,
    template_locale,
    variable_names,
    verify_unsubscribe,
)

K = MessageKind


def test_events_map_to_kinds_and_dunning_only_for_the_steps_a_customer_hears_of() -> None:
    assert kind_for("customer.created", {}) is K.WELCOME
    assert kind_for("subscription.trial_ending", {}) is K.TRIAL_ENDING
    assert kind_for("payment.failed", {}) is K.PAYMENT_FAILED
    assert kind_for("dispute.resolved", {"outcome": "accepted"}) is K.DISPUTE_RESOLVED
    assert kind_for("message.sent", {}) is None  # a message never sends a message
    assert kind_for("invoice.overdue", {"action": "reminder"}) is K.DUNNING_STEP
    assert kind_for("invoice.overdue", {"action": "past_due"}) is K.DUNNING_STEP
    assert kind_for("invoice.overdue", {"action": "cancel"}) is None  # subscription_canceled tells it
    assert kind_for("invoice.overdue", {"action": "write_off"}) is None


def test_what_kassa_emails_elsewhere_is_not_emailed_twice() -> None:
    assert not by_email(K.INVOICE_ISSUED, {})
    assert not by_email(K.CARD_EXPIRING, {})
    assert not by_email(K.DUNNING_STEP, {"action": "reminder"})
    assert not by_email(K.DUNNING_STEP, {"action": "suspension_notice"})
    assert by_email(K.DUNNING_STEP, {"action": "past_due"})
    assert by_email(K.PAYMENT_FAILED, {}) and by_email(K.WELCOME, {})


def test_only_courtesy_messages_are_optional() -> None:
    optional = {k for k in K if not essential(k)}
    assert optional == {K.WELCOME, K.RENEWAL_UPCOMING, K.USAGE_THRESHOLD, K.LOW_BALANCE}


def test_locale_fallback_is_the_locale_its_parents_the_tenants_then_english() -> None:
    assert locale_chain("de_AT") == ["de_AT", "de", "en"]
    assert locale_chain("de-AT", "fr_CH") == ["de_AT", "de", "fr_CH", "fr", "en"]
    assert locale_chain("zh_Hant_TW") == ["zh_Hant_TW", "zh_Hant", "zh", "en"]
    assert locale_chain("en_GB", "en") == ["en_GB", "en"]
    assert template_locale("de-AT") == "de_AT"
    with pytest.raises(DomainError) as bad:
        template_locale("German")
    assert bad.value.code == "invalid_locale"


def test_preferences_essential_kinds_cannot_be_turned_off() -> None:
    assert check_preferences({"renewal_upcoming": False, "*": True}) == {"renewal_upcoming": False, "*": True}
    with pytest.raises(DomainError) as essential_off:
        check_preferences({"payment_failed": False})
    assert (essential_off.value.code, essential_off.value.field) == ("essential_message", "payment_failed")
    assert check_preferences({"payment_failed": True}) == {"payment_failed": True}
    for bad in ({"nope": False}, {"welcome": "no"}, {}, []):
        with pytest.raises(DomainError):
            check_preferences(bad)


def test_a_kinds_own_choice_wins_over_all_and_essential_always_goes() -> None:
    prefs = {"*": False, "welcome": True}
    assert subscribed(prefs, K.WELCOME)
    assert not subscribed(prefs, K.RENEWAL_UPCOMING)
    assert subscribed(prefs, K.PAYMENT_FAILED)
    assert subscribed({"payment_failed": False}, K.PAYMENT_FAILED)  # never stored, never honoured
    assert subscribed({}, K.LOW_BALANCE)


def test_settings_defaults_and_validation() -> None:
    assert MessageSettings().to_json() == {"enabled": False, "trial_ending_days": 3, "renewal_upcoming_days": 7,
                                           "update_payment_method_url": None, "public_url": None}  # fmt: skip
    changed = settings_from(MessageSettings(), {"trial_ending_days": 5, "public_url": "https://b.example"})
    assert (changed.trial_ending_days, changed.renewal_upcoming_days, changed.public_url) == (
        5, 7, "https://b.example")  # fmt: skip
    for bad, code in (({"trial_ending_days": 0}, "invalid_message_settings"),
                      ({"renewal_upcoming_days": 61}, "invalid_message_settings"),
                      ({"trial_ending_days": True}, "invalid_message_settings"),
                      ({"public_url": "javascript:alert(1)"}, "invalid_url"),
                      ({"colour": "red"}, "invalid_message_settings")):  # fmt: skip
        with pytest.raises(DomainError) as error:
            settings_from(MessageSettings(), bad)
        assert error.value.code == code


@pytest.mark.parametrize("locale", BUILTIN_LOCALES)
def test_every_kind_has_a_builtin_text_in_english_and_german(locale: str) -> None:
    for kind in K:
        template = builtin(kind, locale)
        assert template is not None and template.builtin and template.locale == locale
        assert "{{ company_name }}" in template.body_text
    assert builtin(K.WELCOME, "fr") is None


def test_every_documented_variable_has_a_sample() -> None:
    for kind in K:
        assert set(sample_variables(kind)) == set(variable_names(kind)), kind
        assert set(VARIABLES[kind]) <= set(variable_names(kind))


def test_an_unsubscribe_token_round_trips_and_a_forgery_fails() -> None:
    key = bytes(range(32))
    claims = UnsubscribeToken(tenant_id="ten_1", customer_id="cus_1", kind=K.RENEWAL_UPCOMING)
    token = sign_unsubscribe(key, claims)
    assert verify_unsubscribe(key, token) == claims
    assert read_unsubscribe(token) == claims
    with pytest.raises(DomainError) as other_key:
        verify_unsubscribe(bytes(32), token)
    assert other_key.value.code == "invalid_unsubscribe_token"
    forged = sign_unsubscribe(
        bytes(32), UnsubscribeToken(tenant_id="ten_1", customer_id="cus_2", kind=K.WELCOME)
    )
    with pytest.raises(DomainError):
        verify_unsubscribe(key, forged.split(".")[0] + "." + token.split(".")[1])
    for garbage in ("", "abc", "a.b.c", "e30.sig", token + "x"):
        with pytest.raises(DomainError):
            verify_unsubscribe(key, garbage)
