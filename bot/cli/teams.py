"""``kura teams package``: the Teams app package (manifest, icons, ja-jp text) to upload.

Needs only ``KURA_TEAMS_APP_ID`` (the Entra app's client id, which is the bot id); no database or
model is started. Exit codes: 0 written, 2 bad input or the app id unset.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bot.adapters.teams.package import MANIFEST_VERSION, PackageOptions, app_version_of, write_package
from bot.errors import ConfigurationError, InputError
from bot.settings import KuraSettings

__all__ = ["teams_package"]


def _kura_version() -> str:
    try:
        return app_version_of(version("kura"))
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


def _write(options: PackageOptions, out: Path) -> tuple[dict[str, object], list[str], Path]:
    if out.is_dir():
        raise InputError(f"{out} is a folder: give a file name such as {out / 'kura-teams.zip'}")
    try:
        manifest, files = write_package(options, out)
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror or exc}") from exc
    return manifest, files, out.resolve()


async def teams_package(settings: KuraSettings, args: argparse.Namespace) -> int:
    """Write the zip and say where it is."""
    bot_id = (settings.teams.app_id or "").strip()
    if not bot_id:
        raise ConfigurationError("KURA_TEAMS_APP_ID is not set: the package needs the Entra app's client id")
    try:
        options = PackageOptions(
            bot_id=bot_id,
            app_version=args.app_version or _kura_version(),
            host=args.host.strip().lower() if args.host else None,
            developer_name=args.developer_name,
            website_url=args.website_url,
            privacy_url=args.privacy_url,
            terms_url=args.terms_url,
        )
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    manifest, files, path = await asyncio.to_thread(_write, options, Path(args.out))
    if args.json:
        print(
            json.dumps(
                {
                    "path": str(path),
                    "app_id": manifest["id"],
                    "manifest_version": MANIFEST_VERSION,
                    "files": files,
                }
            )
        )
    else:
        print(f"wrote {path} (app {manifest['id']}, manifest v{MANIFEST_VERSION}): upload it in Teams")
    return 0
