"""The ``kura`` command: the single entry point for operators (see DESIGN.md's contract).

Exit codes: 0 done; 2 bad input or configuration (one-line reason on stderr);
3 the request was refused by policy; 4 a part Kura depends on is unavailable.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
import warnings
from collections.abc import Callable, Coroutine, Sequence
from typing import cast

from pydantic import ValidationError

from bot.cli.parser import build_parser
from bot.errors import ConfigurationError, InputError, KuraError, UpstreamError
from bot.redaction import RedactingFilter
from bot.settings import KuraSettings

__all__ = ["EXIT_BAD_INPUT", "EXIT_REFUSED", "EXIT_UNAVAILABLE", "Handler", "main", "resolve_handler"]

EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3
EXIT_UNAVAILABLE = 4


def _fail(message: str, code: int) -> int:
    print(f"kura: {message}", file=sys.stderr)
    return code


Handler = Callable[[KuraSettings, argparse.Namespace], Coroutine[object, object, int]]


def resolve_handler(spec: str) -> Handler:
    """Import the ``"package.module:function"`` a command names, only when that command runs."""
    module_name, _, attribute = spec.partition(":")
    return cast(Handler, getattr(importlib.import_module(module_name), attribute))


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, build settings once, run the command; return the exit code."""
    # The embedded PostgreSQL asks platformdirs for a runtime folder many servers do not have;
    # it falls back to /tmp, which is fine, so its warning would only alarm operators.
    warnings.filterwarnings("ignore", module="platformdirs")
    args = build_parser().parse_args(argv)
    try:
        settings = KuraSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        return _fail(f"bad setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}", EXIT_BAD_INPUT)
    logging.basicConfig(
        level=settings.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    for log_handler in logging.getLogger().handlers:
        log_handler.addFilter(RedactingFilter())  # logs never carry personal data
    try:
        run = resolve_handler(args.handler)
        result: int = asyncio.run(run(settings, args))
        return result
    except KeyboardInterrupt:
        return 130
    except (ConfigurationError, InputError) as exc:
        return _fail(str(exc), EXIT_BAD_INPUT)
    except UpstreamError as exc:
        return _fail(str(exc), EXIT_UNAVAILABLE)
    except KuraError as exc:
        return _fail(str(exc), EXIT_BAD_INPUT)


if __name__ == "__main__":
    sys.exit(main())
