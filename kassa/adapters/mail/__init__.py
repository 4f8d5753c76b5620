"""Outgoing email: the port in `base`, the SMTP implementation in `smtp` (wired by bootstrap only)."""
