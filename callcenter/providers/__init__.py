"""Ports (Protocols) and adapters for telephony, mail and speech."""
