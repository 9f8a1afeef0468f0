"""The Teams adapter (issue 9). So far: inbound authentication of activity requests (``auth.py``),
activities as the core's values (``translate.py``) and the app package (``package.py``). Import
the modules themselves: ``kura teams package`` must not load the token libraries ``auth`` needs."""
