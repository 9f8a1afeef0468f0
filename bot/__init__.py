"""Kura's application: the core pipeline, adapters, audit, CLI, settings and wiring."""
