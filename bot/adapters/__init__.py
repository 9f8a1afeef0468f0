"""Adapters: translate a platform's events to InboundMessage and render pipeline events back."""
