"""The composition root: settings in, a ServiceContext with the concrete adapters out."""

from __future__ import annotations

from kassa import config
from kassa.adapters.clock import SystemClock
from kassa.adapters.logs import configure_logging
from kassa.adapters.mail.base import NoMailer
from kassa.adapters.mail.smtp import SmtpMailer
from kassa.adapters.presentment.pdf import WeasyDocuments
from kassa.adapters.tax_ids.offline import StdnumTaxIdValidator
from kassa.adapters.webhooks.http import HttpWebhookSender
from kassa.services import emails, invoicing, subscriptions
from kassa.services.context import ServiceContext
from kassa.store.engine import create_engine

# The stages whose due work (jobs) the worker and test clock advances run; importing registers the handlers.
STAGES = (subscriptions, invoicing, emails)


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
    )


def setup_logging(settings: config.Settings) -> None:
    configure_logging(settings.log_level)
