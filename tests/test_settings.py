from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError

from graph.errors import ConfigError
from graph.kalshi.signing import generate_private_key, private_key_pem
from graph.settings import ESPN_URL, KALSHI_URLS, Settings, env_name, load_settings

PROD_REST, PROD_WS = KALSHI_URLS["prod"]
DEMO_REST, DEMO_WS = KALSHI_URLS["demo"]


def _settings(**values: Any) -> Settings:
    """Settings from the environment and explicit values only (never a .env file)."""
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _write_env(folder: Path, lines: list[str]) -> Path:
    env = folder / ".env"
    env.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return env


def _same_key(a: rsa.RSAPrivateKey, b: rsa.RSAPrivateKey) -> bool:
    return a.private_numbers() == b.private_numbers()


def _assert_no_key_material(message: str, pem: bytes) -> None:
    """Neither a PEM body line nor a base64 rendering of the PEM may leak into a message."""
    body = [line for line in pem.decode(errors="replace").splitlines() if not line.startswith("--")]
    for line in body:
        if len(line) >= 8:
            assert line not in message
    assert base64.b64encode(pem).decode()[:24] not in message
    assert "PRIVATE KEY-----" not in message


def _ec_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def test_old_key_name_accepted_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """KALSHI_API_KEY (the old name) fills kalshi_api_key_id from the environment."""
    monkeypatch.setenv("KALSHI_API_KEY", "old-name-id")
    assert _settings().kalshi_api_key_id == "old-name-id"


def test_old_key_name_accepted_from_env_file(tmp_path: Path) -> None:
    """KALSHI_API_KEY in a .env file fills kalshi_api_key_id."""
    settings = load_settings(_write_env(tmp_path, ["KALSHI_API_KEY=from-dotenv"]))
    assert settings.kalshi_api_key_id == "from-dotenv"
    assert settings.env_dir == tmp_path.resolve()


def test_new_key_name_wins_over_old(monkeypatch: pytest.MonkeyPatch) -> None:
    """When both names are set, KALSHI_API_KEY_ID is the one used."""
    monkeypatch.setenv("KALSHI_API_KEY", "old")
    monkeypatch.setenv("KALSHI_API_KEY_ID", "new")
    assert _settings().kalshi_api_key_id == "new"


def test_load_settings_without_env_file_reads_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing .env is fine: values come from the environment and env_dir stays None."""
    monkeypatch.setenv("KALSHI_ENV", "demo")
    settings = load_settings(tmp_path / "absent.env")
    assert settings.environment == "demo"
    assert settings.env_dir is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param({}, "sim", id="no-credentials-sim"),
        pytest.param({"KALSHI_API_KEY_ID": "abc"}, "prod", id="key-id-prod"),
        pytest.param({"KALSHI_PRIVATE_KEY_PATH": "k.pem"}, "prod", id="key-path-prod"),
        pytest.param({"KALSHI_ENV": "demo"}, "demo", id="explicit-demo"),
        pytest.param({"KALSHI_ENV": "sim", "KALSHI_API_KEY_ID": "abc"}, "sim", id="explicit-sim"),
    ],
)
def test_environment_default_and_explicit(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str], expected: str
) -> None:
    """KALSHI_ENV wins; otherwise sim without credentials and prod with them."""
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    assert _settings().environment == expected


def test_invalid_environment_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown KALSHI_ENV value is a validation error, not a silent default."""
    monkeypatch.setenv("KALSHI_ENV", "staging")
    with pytest.raises(ValueError, match="KALSHI_ENV|kalshi_env"):
        _settings()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param({}, (None, None, None), id="sim"),
        pytest.param({"KALSHI_ENV": "demo"}, (DEMO_REST, DEMO_WS, ESPN_URL), id="demo"),
        pytest.param({"KALSHI_ENV": "prod"}, (PROD_REST, PROD_WS, ESPN_URL), id="prod"),
        pytest.param(
            {
                "KALSHI_ENV": "prod",
                "KALSHI_REST_URL": "http://127.0.0.1:9000/trade-api/v2",
                "KALSHI_WS_URL": "ws://127.0.0.1:9000/trade-api/ws/v2",
                "SCOREBOARD_URL": "http://127.0.0.1:9000/apis/site/v2/sports",
            },
            (
                "http://127.0.0.1:9000/trade-api/v2",
                "ws://127.0.0.1:9000/trade-api/ws/v2",
                "http://127.0.0.1:9000/apis/site/v2/sports",
            ),
            id="overrides",
        ),
        pytest.param(
            {"KALSHI_REST_URL": "http://127.0.0.1:1/trade-api/v2"},
            ("http://127.0.0.1:1/trade-api/v2", None, None),
            id="sim-partial-override",
        ),
    ],
)
def test_upstream_urls_per_environment_and_overrides(
    monkeypatch: pytest.MonkeyPatch,
    values: dict[str, str],
    expected: tuple[str | None, str | None, str | None],
) -> None:
    """Each environment picks its hosts; explicit URL variables override them one by one."""
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    assert _settings().upstream_urls() == expected


def test_prod_and_demo_hosts_are_current() -> None:
    """The default hosts are the current recommended ones (kalshi-api.md §1), never the sim."""
    assert PROD_REST == "https://external-api.kalshi.com/trade-api/v2"
    assert DEMO_REST == "https://external-api.demo.kalshi.co/trade-api/v2"
    assert PROD_WS.startswith("wss://") and PROD_WS.endswith("/trade-api/ws/v2")
    assert DEMO_WS.startswith("wss://") and DEMO_WS.endswith("/trade-api/ws/v2")


def test_no_credentials_gives_no_signer() -> None:
    """Without a key id or key, credentials() is None (public endpoints only)."""
    assert _settings().credentials() is None


def test_relative_key_path_falls_back_to_env_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsa_key: rsa.RSAPrivateKey
) -> None:
    """A relative KALSHI_PRIVATE_KEY_PATH missing from cwd is found next to the .env file."""
    env_dir, work = tmp_path / "project", tmp_path / "elsewhere"
    (env_dir / "keys").mkdir(parents=True)
    work.mkdir()
    (env_dir / "keys" / "kalshi.pem").write_bytes(private_key_pem(rsa_key))
    env = _write_env(env_dir, ["KALSHI_API_KEY=id-1", "KALSHI_PRIVATE_KEY_PATH=keys/kalshi.pem"])
    monkeypatch.chdir(work)
    signer = load_settings(env).credentials()
    assert signer is not None
    assert signer.key_id == "id-1"
    assert _same_key(signer.private_key, rsa_key)


def test_relative_key_path_prefers_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsa_key: rsa.RSAPrivateKey
) -> None:
    """When both cwd and the .env folder hold the relative path, the cwd file is used."""
    env_dir, work = tmp_path / "project", tmp_path / "elsewhere"
    env_dir.mkdir()
    work.mkdir()
    other = generate_private_key()
    (env_dir / "kalshi.pem").write_bytes(private_key_pem(other))
    (work / "kalshi.pem").write_bytes(private_key_pem(rsa_key, pkcs8=True))
    env = _write_env(env_dir, ["KALSHI_API_KEY_ID=id-2", "KALSHI_PRIVATE_KEY_PATH=kalshi.pem"])
    monkeypatch.chdir(work)
    signer = load_settings(env).credentials()
    assert signer is not None
    assert _same_key(signer.private_key, rsa_key)


def test_absolute_key_path_loads(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    """An absolute KALSHI_PRIVATE_KEY_PATH is read as is."""
    pem = tmp_path / "abs.pem"
    pem.write_bytes(private_key_pem(rsa_key))
    signer = _settings(kalshi_api_key_id="id", kalshi_private_key_path=str(pem)).credentials()
    assert signer is not None
    assert _same_key(signer.private_key, rsa_key)


@pytest.mark.parametrize("pkcs8", [pytest.param(False, id="pkcs1"), pytest.param(True, id="pkcs8")])
def test_inline_private_key(
    monkeypatch: pytest.MonkeyPatch, rsa_key: rsa.RSAPrivateKey, pkcs8: bool
) -> None:
    """KALSHI_PRIVATE_KEY holding the PEM text is loaded and hidden in the settings repr."""
    pem = private_key_pem(rsa_key, pkcs8=pkcs8)
    monkeypatch.setenv("KALSHI_API_KEY_ID", "inline-id")
    monkeypatch.setenv("KALSHI_PRIVATE_KEY", pem.decode())
    settings = _settings()
    signer = settings.credentials()
    assert signer is not None
    assert signer.key_id == "inline-id"
    assert _same_key(signer.private_key, rsa_key)
    _assert_no_key_material(repr(settings), pem)
    _assert_no_key_material(str(settings.model_dump()), pem)


def test_key_id_without_key_fails_naming_the_variables() -> None:
    """A key id with neither a key file nor an inline key is a ConfigError naming both options."""
    with pytest.raises(ConfigError) as info:
        _settings(kalshi_api_key_id="lonely").credentials()
    message = str(info.value)
    assert "KALSHI_API_KEY_ID" in message
    assert "KALSHI_PRIVATE_KEY_PATH" in message and "KALSHI_PRIVATE_KEY" in message


def test_key_file_without_id_fails_naming_the_variable(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    """A key file without a key id is a ConfigError naming KALSHI_API_KEY_ID and its alias."""
    pem = tmp_path / "k.pem"
    pem.write_bytes(private_key_pem(rsa_key))
    with pytest.raises(ConfigError) as info:
        _settings(kalshi_private_key_path=str(pem)).credentials()
    assert "KALSHI_API_KEY_ID" in str(info.value)
    assert "KALSHI_API_KEY" in str(info.value)
    _assert_no_key_material(str(info.value), private_key_pem(rsa_key))


def test_inline_key_without_id_fails_without_echoing_key(
    monkeypatch: pytest.MonkeyPatch, rsa_key: rsa.RSAPrivateKey
) -> None:
    """An inline key without a key id is a ConfigError that does not contain the PEM."""
    pem = private_key_pem(rsa_key)
    monkeypatch.setenv("KALSHI_PRIVATE_KEY", pem.decode())
    with pytest.raises(ConfigError) as info:
        _settings().credentials()
    assert "KALSHI_API_KEY_ID" in str(info.value)
    _assert_no_key_material(str(info.value), pem)


def test_missing_relative_file_names_every_path_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing relative key file names the variable, the value, and both folders tried."""
    env_dir, work = tmp_path / "project", tmp_path / "elsewhere"
    env_dir.mkdir()
    work.mkdir()
    env = _write_env(env_dir, ["KALSHI_API_KEY=id", "KALSHI_PRIVATE_KEY_PATH=nope/key.pem"])
    monkeypatch.chdir(work)
    with pytest.raises(ConfigError) as info:
        load_settings(env).credentials()
    message = str(info.value)
    assert "KALSHI_PRIVATE_KEY_PATH=nope/key.pem" in message
    assert str(work.resolve() / "nope" / "key.pem") in message
    assert str(env_dir.resolve() / "nope" / "key.pem") in message


def test_env_file_in_cwd_is_tried_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the .env folder is the working directory, the path is listed once, not twice."""
    env = _write_env(tmp_path, ["KALSHI_API_KEY=id", "KALSHI_PRIVATE_KEY_PATH=gone.pem"])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_settings(env).credentials()
    assert str(info.value).count("gone.pem") == 2  # the variable's value and one tried path


def test_missing_absolute_file_names_the_path(tmp_path: Path) -> None:
    """A missing absolute key file names the variable and that path."""
    missing = tmp_path / "missing.pem"
    with pytest.raises(ConfigError) as info:
        _settings(kalshi_api_key_id="id", kalshi_private_key_path=str(missing)).credentials()
    assert "KALSHI_PRIVATE_KEY_PATH" in str(info.value)
    assert str(missing) in str(info.value)


def test_unreadable_key_path_names_the_variable_and_path(tmp_path: Path) -> None:
    """A key path that exists but cannot be read (a directory, even as root) says so."""
    folder = tmp_path / "key.pem"
    folder.mkdir()
    with pytest.raises(ConfigError) as info:
        _settings(kalshi_api_key_id="id", kalshi_private_key_path=str(folder)).credentials()
    message = str(info.value)
    assert "KALSHI_PRIVATE_KEY_PATH" in message
    assert str(folder) in message
    assert "cannot read" in message


@pytest.mark.parametrize(
    "make_pem",
    [
        pytest.param(
            lambda: (
                b"-----BEGIN RSA PRIVATE KEY-----\nTUlJQ1hBSUJBQUtCZ1FDcXNlY3JldA==\n"
                b"-----END RSA PRIVATE KEY-----\n"
            ),
            id="garbled",
        ),
        pytest.param(_ec_pem, id="ec-key"),
        pytest.param(lambda: b"just some text, not a key\n", id="not-pem"),
    ],
)
def test_bad_key_file_fails_naming_path_without_key_material(
    tmp_path: Path, make_pem: object
) -> None:
    """A garbled or non-RSA PEM file is a ConfigError naming the variable and file, not the key."""
    assert callable(make_pem)
    pem: bytes = make_pem()
    file = tmp_path / "bad.pem"
    file.write_bytes(pem)
    with pytest.raises(ConfigError) as info:
        _settings(kalshi_api_key_id="id", kalshi_private_key_path=str(file)).credentials()
    message = str(info.value)
    assert "KALSHI_PRIVATE_KEY_PATH" in message
    assert str(file) in message
    _assert_no_key_material(message, pem)


@pytest.mark.parametrize(
    "make_pem",
    [
        pytest.param(
            lambda: (
                b"-----BEGIN PRIVATE KEY-----\nTUlJQ1hBSUJBQUtCZ1FDcXNlY3JldA==\n"
                b"-----END PRIVATE KEY-----\n"
            ),
            id="garbled",
        ),
        pytest.param(_ec_pem, id="ec-key"),
    ],
)
def test_bad_inline_key_fails_without_key_material(
    monkeypatch: pytest.MonkeyPatch, make_pem: object
) -> None:
    """A garbled or non-RSA inline KALSHI_PRIVATE_KEY is a ConfigError that does not echo it."""
    assert callable(make_pem)
    pem: bytes = make_pem()
    monkeypatch.setenv("KALSHI_API_KEY_ID", "id")
    monkeypatch.setenv("KALSHI_PRIVATE_KEY", pem.decode())
    with pytest.raises(ConfigError) as info:
        _settings().credentials()
    assert "KALSHI_PRIVATE_KEY" in str(info.value)
    _assert_no_key_material(str(info.value), pem)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param({}, "ratings-sim.sqlite3", id="sim-default"),
        pytest.param({"kalshi_env": "prod"}, "ratings-prod.sqlite3", id="prod-default"),
        pytest.param({"kalshi_env": "demo"}, "ratings-demo.sqlite3", id="demo-default"),
        pytest.param({"ratings_db_path": "/data/r.db"}, "/data/r.db", id="explicit"),
    ],
)
def test_ratings_file_is_per_environment_unless_set(values: dict[str, Any], expected: str) -> None:
    """Simulated results never land in the file a real run uses, unless told to."""
    assert Settings(_env_file=None, **values).ratings_file == expected  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        pytest.param("CORS_ORIGINS", '["http://a.example"]', ["http://a.example"], id="json"),
        pytest.param(
            "CORS_ORIGINS",
            "http://a.example, https://b.example:8443",
            ["http://a.example", "https://b.example:8443"],
            id="comma-separated",
        ),
        pytest.param("ALLOWED_ORIGINS", "http://a.example", ["http://a.example"], id="old-name"),
        pytest.param("CORS_ORIGINS", "*", ["*"], id="any"),
        pytest.param("CORS_ORIGINS", "", [], id="empty"),
    ],
)
def test_cors_origins_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: list[str]
) -> None:
    """CORS_ORIGINS (or the old ALLOWED_ORIGINS) takes a JSON list or comma-separated origins."""
    monkeypatch.setenv(variable, value)
    origins = Settings(_env_file=None).cors_origins  # type: ignore[call-arg]
    assert origins == expected


@pytest.mark.parametrize("origin", ["http://a.example/", "a.example", "http://a.example/path"])
def test_an_origin_with_a_path_is_refused(origin: str) -> None:
    """Origins are compared exactly, so a path or trailing slash is a configuration error."""
    with pytest.raises(ValidationError, match="is not an origin"):
        Settings(_env_file=None, cors_origins=[origin])  # type: ignore[call-arg]


def test_api_tokens_are_secret_and_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    """GRAPH_API_TOKENS: comma-separated or JSON; hidden in reprs and in validation errors."""
    monkeypatch.setenv("GRAPH_API_TOKENS", "tok-one-secret, tok-two-secret")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.api_tokens == ["tok-one-secret", "tok-two-secret"]
    assert "tok-one" not in repr(settings) and "tok-one" not in str(settings.model_dump())
    monkeypatch.setenv("GRAPH_API_TOKENS", '["tok-three-secret"')
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert "tok-three" not in str(refused.value)
    monkeypatch.setenv("GRAPH_API_TOKENS", '["tok-four-secret"]')
    assert Settings(_env_file=None).api_tokens == ["tok-four-secret"]  # type: ignore[call-arg]


def test_invalid_values_are_one_config_error_line_naming_each_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """load_settings turns pydantic's report into one line: each variable and why, by its
    environment name (an alias where the field has one), never the rejected value."""
    monkeypatch.setenv("MAX_QUERY_DEPTH", "deep")
    monkeypatch.setenv("GRAPH_API_TOKENS", "[not-json-secret")
    monkeypatch.setenv("ALLOWED_HOSTS", "http://example.com")
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path / "absent.env")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("MAX_QUERY_DEPTH: Input should be a valid integer")
    assert "GRAPH_API_TOKENS: Value error, not a JSON list" in message
    assert "ALLOWED_HOSTS: Value error, 'http://example.com' is not a host name" in message
    assert "not-json-secret" not in message
    assert env_name("kalshi_api_key_id") == "KALSHI_API_KEY_ID"
    assert env_name("cors_origins") == "CORS_ORIGINS"


@pytest.mark.parametrize(
    ("host", "trusted"),
    [
        ("127.0.0.1", ["localhost", "127.0.0.1", "[::1]"]),
        ("0.0.0.0", ["localhost", "127.0.0.1", "[::1]"]),
        ("::", ["localhost", "127.0.0.1", "[::1]"]),
        ("api.example.com", ["localhost", "127.0.0.1", "[::1]", "api.example.com"]),
        ("::1", ["localhost", "127.0.0.1", "[::1]"]),
        ("fe80::1", ["localhost", "127.0.0.1", "[::1]", "[fe80::1]"]),
    ],
)
def test_trusted_hosts_add_host_when_it_names_one_address(host: str, trusted: list[str]) -> None:
    """ALLOWED_HOSTS plus HOST unless HOST is a wildcard address (or already listed)."""
    settings = Settings(_env_file=None, host=host)  # type: ignore[call-arg]
    assert settings.trusted_hosts == trusted


def test_allowed_hosts_accept_names_wildcards_and_addresses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Comma-separated names, *.domain, IPv4 and bracketed IPv6 pass, lower-cased."""
    monkeypatch.setenv("ALLOWED_HOSTS", "API.example.com, *.example.org,10.0.0.1,[::1],*")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.allowed_hosts == ["api.example.com", "*.example.org", "10.0.0.1", "[::1]", "*"]


@pytest.mark.parametrize(
    ("values", "ttl"),
    [
        pytest.param({}, 1.0, id="default"),
        pytest.param({"result_cache_ttl_s": 3.0}, 3.0, id="set"),
        pytest.param({"result_cache_ttl_s": 30.0}, 5.0, id="capped-by-the-price-ttl"),
        pytest.param({"result_cache_ttl_s": 0.0}, 0.0, id="off"),
    ],
)
def test_results_live_no_longer_than_prices(values: dict[str, Any], ttl: float) -> None:
    """A query's result answers repeats for RESULT_CACHE_TTL_S, never past PRICES_TTL_S."""
    assert _settings(**values).result_ttl_s == ttl


def test_deflate_is_off_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """WebSocket compression is off by default and turned on by WS_PER_MESSAGE_DEFLATE."""
    assert not _settings().ws_per_message_deflate
    monkeypatch.setenv("WS_PER_MESSAGE_DEFLATE", "true")
    assert _settings().ws_per_message_deflate
