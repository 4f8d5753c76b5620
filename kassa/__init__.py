"""kassa: activity-to-cash, self-hosted."""

__version__ = "0.1.0"
