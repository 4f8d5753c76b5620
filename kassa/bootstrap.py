"""The composition root: settings in, a ServiceContext with the concrete adapters out."""

from __future__ import annotations

import base64

from kassa import config
from kassa.adapters.bank_files.reader import FileBankReader
from kassa.adapters.clock import SystemClock
from kassa.adapters.logs import configure_logging
from kassa.adapters.mail.base import NoMailer
from kassa.adapters.mail.smtp import SmtpMailer
from kassa.adapters.payments.base import Gateway
from kassa.adapters.payments.sandbox import SandboxGateway
from kassa.adapters.presentment.pdf import WeasyDocuments
from kassa.adapters.sepa.pain008 import SepaXmlFiles
from kassa.adapters.tax_ids.offline import StdnumTaxIdValidator
from kassa.adapters.webhooks.http import HttpWebhookSender
from kassa.services import (
    dunning,
    emails,
    invoicing,
    messages,
    payments,
    provisioning,
    reconciliation,
    subscriptions,
    support,
    wallet_draws,
    wallets,
)
from kassa.services.context import ServiceContext
from kassa.store.engine import create_engine

# The stages whose due work (jobs) the worker and test clock advances run; importing registers the handlers.
STAGES = (
    subscriptions,
    invoicing,
    emails,
    payments,
    dunning,
    reconciliation,
    support,
    provisioning,
    messages,
    wallets,
    wallet_draws,
)


def build_context(settings: config.Settings | None = None) -> ServiceContext:
    settings = settings or config.load()
    return ServiceContext(
        engine=create_engine(settings.database_url),
        clock=SystemClock(),
        tax_ids=StdnumTaxIdValidator(),
        webhooks=HttpWebhookSender(),
        settings=settings,
        documents=WeasyDocuments(),
        mailer=SmtpMailer(settings.smtp_url) if settings.smtp_url else NoMailer(),
        gateways=gateways(settings),
        bank_files=FileBankReader(),
        sepa=SepaXmlFiles(schema=SEPA_SCHEMA),
    )


# The EPC 2019 rulebook's version, in use since November 2023 (the creditor's BIC is optional in it).
SEPA_SCHEMA = "pain.008.001.08"

# The sandbox's webhook secret unless KASSA_SANDBOX_WEBHOOK_SECRET sets one: public on purpose (the sandbox moves
# no real money), so the demo and a second process agree on it without configuration.
SANDBOX_TEST_SECRET = "whsec_" + base64.b64encode(b"kassa sandbox: a public test secret").decode()


def gateways(settings: config.Settings) -> dict[str, Gateway]:
    """The payment gateways this installation offers, by name."""
    found: dict[str, Gateway] = {}
    if settings.stripe_api_key:
        from kassa.adapters.payments.stripe import StripeGateway  # an optional extra: imported only when used

        found["stripe"] = StripeGateway(settings.stripe_api_key, settings.stripe_webhook_secret or "")
    if settings.sandbox_gateway:
        found["sandbox"] = SandboxGateway(settings.sandbox_webhook_secret or SANDBOX_TEST_SECRET)
    return found


def setup_logging(settings: config.Settings) -> None:
    configure_logging(settings.log_level)
