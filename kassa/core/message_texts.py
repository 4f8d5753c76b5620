"""kassa's own wording of every lifecycle message, in English and German: what a customer gets until the
tenant saves its own template for that kind and locale. Jinja2 syntax; the variables are in messages.py."""

from __future__ import annotations

from collections.abc import Mapping

from kassa.core.messages import MessageKind, MessageTemplate

_GREETING = {"en": "Hello {{ customer_name }},\n\n", "de": "Guten Tag {{ customer_name }},\n\n"}
_SIGNATURE = {
    "en": "\n\nKind regards\n{{ company_name }}\n",
    "de": "\n\nMit freundlichen Grüßen\n{{ company_name }}\n",
}
_UNSUBSCRIBE = {
    "en": "{% if unsubscribe_url %}\nNo longer want these emails? {{ unsubscribe_url }}\n{% endif %}",
    "de": "{% if unsubscribe_url %}\nSie möchten diese E-Mails nicht mehr erhalten? {{ unsubscribe_url }}\n{% endif %}",
}  # fmt: skip

K = MessageKind
_TEXTS: Mapping[tuple[MessageKind, str], tuple[str, str]] = {
    (K.WELCOME, "en"): ("Welcome to {{ company_name }}",
                        "welcome aboard! Your account is ready."),
    (K.WELCOME, "de"): ("Willkommen bei {{ company_name }}",
                        "herzlich willkommen! Ihr Konto ist eingerichtet."),
    (K.TRIAL_ENDING, "en"): ("Your trial ends in {{ days }} days",
                             "your trial of {{ plan }} ends on {{ trial_end }}. From then on your subscription "
                             "is billed."),
    (K.TRIAL_ENDING, "de"): ("Ihre Testphase endet in {{ days }} Tagen",
                             "Ihre Testphase für {{ plan }} endet am {{ trial_end }}. Danach wird Ihr Abonnement "
                             "berechnet."),
    (K.RENEWAL_UPCOMING, "en"): ("Your subscription renews on {{ renews_on }}",
                                 "your subscription to {{ plan }} renews on {{ renews_on }}."
                                 "{% if amount %} The upcoming invoice comes to {{ amount }}.{% endif %}"),
    (K.RENEWAL_UPCOMING, "de"): ("Ihr Abonnement verlängert sich am {{ renews_on }}",
                                 "Ihr Abonnement {{ plan }} verlängert sich am {{ renews_on }}."
                                 "{% if amount %} Die nächste Rechnung beträgt {{ amount }}.{% endif %}"),
    (K.INVOICE_ISSUED, "en"): ("Invoice {{ invoice_number }}",
                               "invoice {{ invoice_number }} of {{ amount_due }} is ready."
                               "{% if due_date %} It is due on {{ due_date }}.{% endif %}"),
    (K.INVOICE_ISSUED, "de"): ("Rechnung {{ invoice_number }}",
                               "die Rechnung {{ invoice_number }} über {{ amount_due }} liegt bereit."
                               "{% if due_date %} Sie ist fällig am {{ due_date }}.{% endif %}"),
    (K.PAYMENT_SUCCEEDED, "en"): ("Payment received: {{ amount }}",
                                  "thank you: we received your payment of {{ amount }}"
                                  "{% if invoice_number %} for invoice {{ invoice_number }}{% endif %}."),
    (K.PAYMENT_SUCCEEDED, "de"): ("Zahlung erhalten: {{ amount }}",
                                  "vielen Dank: Ihre Zahlung über {{ amount }}"
                                  "{% if invoice_number %} für die Rechnung {{ invoice_number }}{% endif %} ist "
                                  "eingegangen."),
    (K.PAYMENT_FAILED, "en"): ("Your payment of {{ amount }} failed",
                               "we could not collect {{ amount }}"
                               "{% if invoice_number %} for invoice {{ invoice_number }}{% endif %}."
                               "{% if failure_message %} The bank said: {{ failure_message }}{% endif %}\n"
                               "{% if update_payment_method_url %}Please update your payment method: "
                               "{{ update_payment_method_url }}{% else %}Please update your payment method."
                               "{% endif %}"),
    (K.PAYMENT_FAILED, "de"): ("Ihre Zahlung über {{ amount }} ist fehlgeschlagen",
                               "wir konnten {{ amount }}"
                               "{% if invoice_number %} für die Rechnung {{ invoice_number }}{% endif %} nicht "
                               "einziehen.{% if failure_message %} Die Bank meldet: {{ failure_message }}{% endif %}\n"
                               "{% if update_payment_method_url %}Bitte aktualisieren Sie Ihre Zahlungsmethode: "
                               "{{ update_payment_method_url }}{% else %}Bitte aktualisieren Sie Ihre "
                               "Zahlungsmethode.{% endif %}"),
    (K.CARD_EXPIRING, "en"): ("Your card ending in {{ last4 }} expires soon",
                              "your {{ brand }} card ending in {{ last4 }} expires at the end of "
                              "{{ exp_month }}/{{ exp_year }}."
                              "{% if update_payment_method_url %} Please add a new one: "
                              "{{ update_payment_method_url }}{% endif %}"),
    (K.CARD_EXPIRING, "de"): ("Ihre Karte mit Endziffern {{ last4 }} läuft bald ab",
                              "Ihre {{ brand }}-Karte mit Endziffern {{ last4 }} läuft Ende "
                              "{{ exp_month }}/{{ exp_year }} ab."
                              "{% if update_payment_method_url %} Bitte hinterlegen Sie eine neue: "
                              "{{ update_payment_method_url }}{% endif %}"),
    (K.USAGE_THRESHOLD, "en"): ("Usage alert: {{ threshold }} reached",
                                "your usage{% if metric %} of {{ metric }}{% endif %} reached {{ threshold }} in "
                                "the period ending {{ period_end }}."),
    (K.USAGE_THRESHOLD, "de"): ("Verbrauchshinweis: {{ threshold }} erreicht",
                                "Ihr Verbrauch{% if metric %} von {{ metric }}{% endif %} hat im Zeitraum bis "
                                "{{ period_end }} {{ threshold }} erreicht."),
    (K.LOW_BALANCE, "en"): ("Your balance is low: {{ balance }}",
                            "your prepaid balance fell below {{ threshold }}; it is now {{ balance }}."),
    (K.LOW_BALANCE, "de"): ("Ihr Guthaben ist niedrig: {{ balance }}",
                            "Ihr Guthaben liegt unter {{ threshold }}; es beträgt jetzt {{ balance }}."),
    (K.PLAN_CHANGED, "en"): ("Your subscription changed to {{ plan }}",
                             "your subscription is now {{ plan }} (quantity {{ quantity }}); before it was "
                             "{{ previous_plan }}."),
    (K.PLAN_CHANGED, "de"): ("Ihr Abonnement wurde auf {{ plan }} geändert",
                             "Ihr Abonnement lautet jetzt {{ plan }} (Menge {{ quantity }}); vorher "
                             "{{ previous_plan }}."),
    (K.SUBSCRIPTION_CANCELED, "en"): ("Your subscription to {{ plan }} was canceled",
                                      "your subscription to {{ plan }} has been canceled."),
    (K.SUBSCRIPTION_CANCELED, "de"): ("Ihr Abonnement {{ plan }} wurde gekündigt",
                                      "Ihr Abonnement {{ plan }} ist gekündigt."),
    (K.DUNNING_STEP, "en"): ("Invoice {{ invoice_number }} is overdue",
                             "invoice {{ invoice_number }} of {{ amount_due }} was due on {{ due_date }} and is "
                             "{{ days_past_due }} days overdue.{% if action == 'past_due' %} Your account is now "
                             "past due.{% endif %}"),
    (K.DUNNING_STEP, "de"): ("Rechnung {{ invoice_number }} ist überfällig",
                             "die Rechnung {{ invoice_number }} über {{ amount_due }} war am {{ due_date }} fällig "
                             "und ist seit {{ days_past_due }} Tagen überfällig.{% if action == 'past_due' %} Ihr "
                             "Konto ist nun im Zahlungsverzug.{% endif %}"),
    (K.DISPUTE_RESOLVED, "en"): ("Your dispute was {{ outcome }}",
                                 "we reviewed your dispute: it was {{ outcome }}."
                                 "{% if credited %} We credited {{ credited }}.{% endif %}"
                                 "{% if resolution %}\n{{ resolution }}{% endif %}"),
    (K.DISPUTE_RESOLVED, "de"): ("Ihre Reklamation wurde bearbeitet",
                                 "wir haben Ihre Reklamation geprüft: "
                                 "{% if outcome == 'accepted' %}angenommen{% else %}abgelehnt{% endif %}."
                                 "{% if credited %} Wir haben {{ credited }} gutgeschrieben.{% endif %}"
                                 "{% if resolution %}\n{{ resolution }}{% endif %}"),
    (K.PORTAL_LINK, "en"): ("Your account at {{ company_name }}",
                            "here is your personal link to your account, where you can see your invoices and "
                            "usage, pay and manage your payment methods:\n{{ portal_url }}\n\n"
                            "The link works until {{ expires_at }}. Do not forward it: anyone with it can "
                            "open your account."),
    (K.PORTAL_LINK, "de"): ("Ihr Konto bei {{ company_name }}",
                            "hier ist Ihr persönlicher Link zu Ihrem Konto, in dem Sie Ihre Rechnungen und Ihren "
                            "Verbrauch sehen, bezahlen und Ihre Zahlungsmethoden verwalten können:\n"
                            "{{ portal_url }}\n\nDer Link gilt bis {{ expires_at }}. Bitte leiten Sie ihn nicht "
                            "weiter: Wer ihn hat, kann Ihr Konto öffnen."),
}  # fmt: skip

BUILTIN_LOCALES = ("en", "de")


def builtin(kind: MessageKind, locale: str) -> MessageTemplate | None:
    """kassa's default for (kind, locale), or None where kassa has no text in that language."""
    found = _TEXTS.get((kind, locale))
    if found is None:
        return None
    subject, body = found
    text = _GREETING[locale] + body + _SIGNATURE[locale] + _UNSUBSCRIBE[locale]
    return MessageTemplate(kind=kind, locale=locale, subject=subject, body_text=text, builtin=True)
