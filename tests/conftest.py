from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import AliasChoices, AliasPath

from graph.kalshi.signing import generate_private_key
from graph.settings import Settings


def _settings_env_names() -> frozenset[str]:
    """Every environment variable name Settings reads, upper-cased (pydantic matches any case)."""
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        names.add(name.upper())
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        for choice in choices:
            if isinstance(choice, str):
                names.add(choice.upper())
            elif isinstance(choice, AliasPath) and isinstance(choice.path[0], str):
                names.add(choice.path[0].upper())
    return frozenset(names)


SETTINGS_ENV_NAMES = _settings_env_names()


@pytest.fixture(autouse=True)
def _clean_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's shell (or an exported .env) out of every test."""
    for var in list(os.environ):
        if var.upper() in SETTINGS_ENV_NAMES:
            monkeypatch.delenv(var)


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """One 2048-bit key per test session (generating keys is slow)."""
    return generate_private_key()
