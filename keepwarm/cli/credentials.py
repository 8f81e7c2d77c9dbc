"""Which AWS credentials and region ``keepwarm invoke --endpoint`` signs with.

Why the AWS CLI's rules, reimplemented: a user who can ``aws lambda invoke --endpoint-url`` a
server must reach it with ``keepwarm invoke --endpoint`` and the same environment, without the
CLI importing botocore for one request. Followed as botocore does: the ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN`` variables first, unless ``--profile`` names a
profile (``AWS_PROFILE`` does not outrank them); then the profile (default ``default``) in the
shared credentials file, then in the config file. Only static keys: SSO, roles and
``credential_process`` need botocore. No credentials at all: the request goes unsigned, which a
default ``keepwarm serve`` accepts.
"""

from __future__ import annotations

import configparser
import os
import shlex
from collections.abc import Mapping
from pathlib import Path

from keepwarm.config import DEFAULT_REGION
from keepwarm.errors import CredentialsError
from keepwarm.sigv4 import Credentials, Signer

Profile = Mapping[str, str]


def signer(profile: str | None, region: str | None, environ: Mapping[str, str]) -> Signer | None:
    """The signer for ``--profile`` / ``--region`` in ``environ``; None without credentials."""
    name = profile or environ.get("AWS_PROFILE") or None
    wanted = name or "default"
    creds_file = _path(environ, "AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")
    config_file = _path(environ, "AWS_CONFIG_FILE", "~/.aws/config")
    creds_section = _sections(creds_file).get(wanted)
    config_section = _profiles(_sections(config_file)).get(wanted)
    if name is not None and creds_section is None and config_section is None:
        raise CredentialsError(f"The config profile ({name}) could not be found")
    chosen = (
        (None if profile else _from_env(environ))
        or _from_profile(creds_section, "shared-credentials-file")
        or _from_profile(config_section, "config-file")
    )
    if chosen is None and name is not None:
        raise CredentialsError(
            f"The config profile ({name}) has no aws_access_key_id and aws_secret_access_key "
            "(keepwarm invoke signs with static keys only)"
        )
    if chosen is None:
        return None
    _check_sendable(chosen)
    merged = {**(config_section or {}), **(creds_section or {})}
    return Signer(chosen, _region(region, environ, merged))


def _check_sendable(creds: Credentials) -> None:
    """The key id and token travel in headers, which carry Latin-1 at most; AWS issues ASCII."""
    for what, value in (("access key id", creds.access_key), ("session token", creds.token)):
        if value and not value.isascii():
            raise CredentialsError(
                f"The AWS {what} holds characters a request header cannot carry "
                "(AWS access keys and session tokens are ASCII)"
            )


def _region(given: str | None, environ: Mapping[str, str], profile: Profile) -> str:
    for value in (given, environ.get("AWS_REGION"), environ.get("AWS_DEFAULT_REGION")):
        if value:
            return value
    return profile.get("region") or DEFAULT_REGION


def _from_env(environ: Mapping[str, str]) -> Credentials | None:
    key, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if not key:
        return None
    if not secret:
        raise CredentialsError("Partial credentials found in env, missing: AWS_SECRET_ACCESS_KEY")
    token = environ.get("AWS_SESSION_TOKEN") or environ.get("AWS_SECURITY_TOKEN")
    return Credentials(key, secret, token or None)


def _from_profile(section: Profile | None, source: str) -> Credentials | None:
    if section is None or "aws_access_key_id" not in section:
        return None
    key, secret = section["aws_access_key_id"], section.get("aws_secret_access_key")
    if not secret:
        raise CredentialsError(
            f"Partial credentials found in {source}, missing: aws_secret_access_key"
        )
    token = section.get("aws_session_token") or section.get("aws_security_token")
    return Credentials(key, secret, token or None)


def _path(environ: Mapping[str, str], variable: str, default: str) -> Path:
    return Path(os.path.expanduser(os.path.expandvars(environ.get(variable) or default)))


def _sections(path: Path) -> dict[str, dict[str, str]]:
    """An INI file's sections; a missing file has none. Parsed as botocore parses it."""
    if not path.is_file():
        return {}
    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except (configparser.Error, UnicodeDecodeError):
        raise CredentialsError(f"Unable to parse config file: {path}") from None
    return {name: dict(parser.items(name)) for name in parser.sections()}


def _profiles(sections: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The config file's profiles: ``[default]`` and ``[profile NAME]``; other sections are
    not profiles."""
    profiles: dict[str, dict[str, str]] = {}
    for section, values in sections.items():
        if section == "default":
            profiles["default"] = values
            continue
        try:
            parts = shlex.split(section)  # botocore's reading: [profile "my name"] is allowed
        except ValueError:
            continue
        if len(parts) == 2 and parts[0] == "profile":
            profiles[parts[1]] = values
    return profiles
