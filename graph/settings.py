"""Configuration from the environment and an optional ``.env`` (DESIGN.md §3).

How it works: :class:`Settings` only reads values. :meth:`Settings.credentials`
turns them into a :class:`~graph.kalshi.signing.Signer` (or ``None``) and is called by
``create_app`` at startup, so a key id without a usable key, a missing or
unreadable file, or a garbled PEM stops the service with one message naming the
variable and the path tried, instead of a 401 later. ``KALSHI_API_KEY`` is
accepted for ``KALSHI_API_KEY_ID`` because the service we replace read that name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from graph.errors import ConfigError
from graph.kalshi.signing import KeyFormatError, Signer, load_private_key
from graph.models import League

Environment = Literal["sim", "demo", "prod"]

# Current recommended hosts (reference/kalshi-api.md §1).
KALSHI_URLS: dict[str, tuple[str, str]] = {
    "prod": (
        "https://external-api.kalshi.com/trade-api/v2",
        "wss://external-api-ws.kalshi.com/trade-api/ws/v2",
    ),
    "demo": (
        "https://external-api.demo.kalshi.co/trade-api/v2",
        "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2",
    ),
}
ESPN_URL = "https://site.api.espn.com/apis/site/v2/sports"
_ORIGIN_RE = re.compile(r"https?://[^/\s]+")
_HOST_RE = re.compile(r"\*|(\*\.)?[a-z0-9_.-]+|\[[0-9a-f:.]+\]")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        # A rejected value may be a token or a key: never echo it in the error.
        hide_input_in_errors=True,
    )

    # Kalshi credentials
    kalshi_api_key_id: str | None = Field(
        default=None, validation_alias=AliasChoices("KALSHI_API_KEY_ID", "KALSHI_API_KEY")
    )
    kalshi_private_key_path: str | None = None
    kalshi_private_key: SecretStr | None = None

    # Upstreams
    kalshi_env: Environment | None = None
    kalshi_rest_url: str | None = None
    kalshi_ws_url: str | None = None
    scoreboard_url: str | None = None

    # Server
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"

    # Timeouts and retries
    http_timeout_s: float = 10.0
    http_attempts: int = Field(default=4, ge=1)

    # Caches (seconds)
    prices_ttl_s: float = 5.0
    schedule_ttl_s: float = 60.0
    result_cache_ttl_s: float = Field(default=1.0, ge=0)

    # Limits
    prediction_concurrency: int = Field(default=16, ge=1)
    max_query_depth: int = Field(default=12, ge=2)
    max_query_tokens: int = Field(default=2000, ge=50)
    max_body_bytes: int = Field(default=65_536, ge=1024)
    max_games_per_query: int = Field(default=500, ge=1)
    max_tickers_per_subscription: int = Field(default=50, ge=1)
    max_subscriptions_per_connection: int = Field(default=20, ge=1)
    connection_init_timeout_s: float = 10.0
    ws_keepalive_s: float = 15.0
    ws_per_message_deflate: bool = False

    # Operations
    log_format: Literal["text", "json"] = "text"
    max_ws_connections: int = Field(default=1000, ge=1)
    shutdown_timeout_s: float = Field(default=5.0, gt=0)
    readiness_cache_s: float = Field(default=5.0, ge=0)

    # Hardening (issue 8): query limits, access control, CORS
    max_query_aliases: int = Field(default=30, ge=1)
    # Query cost (graph.api.cost), checked before any other validation
    max_query_fields: int = Field(default=300, ge=10)
    max_query_root_fields: int = Field(default=20, ge=1)
    max_query_nodes: int = Field(default=100_000, ge=100)
    max_query_cost: int = Field(default=1_000, ge=1)
    # Upstream budget per operation, and the per-client rate limit (0: off)
    max_upstream_requests: int = Field(default=600, ge=1)
    rate_limit_per_s: float = Field(default=20.0, ge=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    # The shared Kalshi feed
    max_upstream_tickers: int = Field(default=1_000, ge=1)
    # The transport edge (python -m graph)
    http_header_timeout_s: float = Field(default=10.0, gt=0)
    http_body_timeout_s: float = Field(default=30.0, gt=0)
    max_connections: int = Field(default=2_000, ge=2)
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "[::1]"]
    )
    # Observability
    metrics_operation_names: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["TodaysGames", "LiveGames", "LivePrices", "IntrospectionQuery"]
    )
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str = "kalshi-graph"
    max_query_bytes: int = Field(default=16_384, ge=256)
    query_timeout_s: float = Field(default=30.0, gt=0)
    introspection: bool = True
    graph_api_tokens: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("CORS_ORIGINS", "ALLOWED_ORIGINS")
    )

    # Scale-out (issue 15): replicas share one Kalshi feed, caches and read budget in Redis.
    # Without REDIS_URL none of this is active. The URL may hold a password: never logged.
    redis_url: SecretStr | None = None
    redis_prefix: str = Field(default="kalshi-graph:", min_length=1)
    redis_timeout_s: float = Field(default=1.0, gt=0)
    kalshi_read_rate: float = Field(default=20.0, gt=0)
    kalshi_read_max_wait_s: float = Field(default=2.0, ge=0)
    feed_lease_ttl_s: float = Field(default=5.0, gt=0)
    cluster_heartbeat_s: float = Field(default=1.0, gt=0)
    local_feed_after_s: float = Field(default=3.0, ge=0)
    shared_cache_lock_s: float = Field(default=5.0, gt=0)

    # Model
    ratings_db_path: str | None = None
    default_leagues: list[League] = Field(default_factory=lambda: list(League))
    ratings_refresh_s: float = Field(default=600.0, ge=0)

    # Simulator (KALSHI_ENV=sim)
    sim_seed: int = 0
    sim_latency_ms: float = 0.0

    @field_validator(
        "graph_api_tokens",
        "cors_origins",
        "allowed_hosts",
        "metrics_operation_names",
        mode="before",
    )
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        """A JSON list, or (friendlier in an env file) comma-separated values."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError:
                # Never echo the value: it may hold tokens.
                raise ValueError("not a JSON list of strings") from None
        return [item.strip() for item in text.split(",") if item.strip()]

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        """Origins are compared exactly, so a path or trailing slash would never match."""
        cleaned = [o.strip() for o in origins]
        bad = [o for o in cleaned if o != "*" and not _ORIGIN_RE.fullmatch(o)]
        if bad:
            raise ValueError(
                f"{bad[0]!r} is not an origin: write scheme://host[:port] (no path, "
                "no trailing slash) or *"
            )
        return cleaned

    @field_validator("allowed_hosts")
    @classmethod
    def _check_hosts(cls, hosts: list[str]) -> list[str]:
        """Host names as a Host header carries them, without a port: ``*`` allows any,
        ``*.example.com`` any subdomain."""
        cleaned = [h.strip().lower() for h in hosts]
        bad = [h for h in cleaned if not _HOST_RE.fullmatch(h)]
        if bad:
            raise ValueError(
                f"{bad[0]!r} is not a host name: write example.com, *.example.com, "
                "127.0.0.1, [::1] or * (no scheme, no port)"
            )
        return cleaned

    @property
    def trusted_hosts(self) -> list[str]:
        """ALLOWED_HOSTS plus HOST when it names one address (not 0.0.0.0 or ::)."""
        host = self.host.strip().lower()
        extra = f"[{host}]" if ":" in host else host
        wildcard = host in ("", "0.0.0.0", "::")
        return self.allowed_hosts + ([] if wildcard or extra in self.allowed_hosts else [extra])

    @property
    def redis(self) -> str | None:
        """REDIS_URL in the clear (for the Redis client only; log it redacted), or None."""
        url = self.redis_url.get_secret_value().strip() if self.redis_url else ""
        return url or None

    @property
    def api_tokens(self) -> list[str]:
        """GRAPH_API_TOKENS in the clear (for the token check only; never log them)."""
        return [t.get_secret_value() for t in self.graph_api_tokens if t.get_secret_value()]

    # The folder of the .env file these settings came from (see load_settings).
    _env_dir: Path | None = PrivateAttr(default=None)

    @property
    def env_dir(self) -> Path | None:
        return self._env_dir

    @property
    def has_key_material(self) -> bool:
        return bool(
            self.kalshi_api_key_id or self.kalshi_private_key_path or self.kalshi_private_key
        )

    @property
    def environment(self) -> Environment:
        """``KALSHI_ENV``, or ``sim`` without credentials and ``prod`` with them."""
        if self.kalshi_env is not None:
            return self.kalshi_env
        return "prod" if self.has_key_material else "sim"

    @property
    def result_ttl_s(self) -> float:
        """How long a query's result answers identical repeats: RESULT_CACHE_TTL_S, never
        longer than PRICES_TTL_S (the result holds prices)."""
        return min(self.result_cache_ttl_s, self.prices_ttl_s)

    @property
    def ratings_file(self) -> str:
        """``RATINGS_DB_PATH``, else one file per environment so simulated results never
        reach the ratings a real run uses."""
        return self.ratings_db_path or f"ratings-{self.environment}.sqlite3"

    def upstream_urls(self) -> tuple[str | None, str | None, str | None]:
        """(rest, ws, scoreboard) base URLs; ``None`` means "the in-process simulator"."""
        env = self.environment
        rest, ws = KALSHI_URLS.get(env, (None, None))
        scoreboard = None if env == "sim" else ESPN_URL
        return (
            self.kalshi_rest_url or rest,
            self.kalshi_ws_url or ws,
            self.scoreboard_url or scoreboard,
        )

    def credentials(self, *, cwd: Path | None = None) -> Signer | None:
        """Load and check the key pair; ``None`` when none is configured.

        Relative ``KALSHI_PRIVATE_KEY_PATH`` values are tried against ``cwd`` (the
        working directory) and then the ``.env`` file's folder.

        Raises:
            ConfigError: naming the variable and the paths tried; never key material.
        """
        key_id = (self.kalshi_api_key_id or "").strip()
        inline = self.kalshi_private_key.get_secret_value() if self.kalshi_private_key else ""
        path = (self.kalshi_private_key_path or "").strip()
        if not key_id and not inline and not path:
            return None
        if not key_id:
            raise ConfigError(
                "a Kalshi private key is configured but KALSHI_API_KEY_ID is not set "
                "(KALSHI_API_KEY is accepted as an alias)"
            )
        if inline:
            pem, source = inline.encode(), "KALSHI_PRIVATE_KEY"
        elif path:
            file = _resolve(path, cwd or Path.cwd(), self._env_dir)
            try:
                pem = file.read_bytes()
            except OSError as exc:
                raise ConfigError(
                    f"KALSHI_PRIVATE_KEY_PATH={path}: cannot read {file} ({exc.strerror})"
                ) from None
            source = f"KALSHI_PRIVATE_KEY_PATH={path} ({file})"
        else:
            raise ConfigError(
                "KALSHI_API_KEY_ID is set but no private key is configured: "
                "set KALSHI_PRIVATE_KEY_PATH to the PEM file Kalshi gave you, "
                "or KALSHI_PRIVATE_KEY to its contents"
            )
        try:
            key = load_private_key(pem)
        except KeyFormatError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        return Signer(key_id=key_id, private_key=key)


def _resolve(path: str, cwd: Path, env_dir: Path | None) -> Path:
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        tried = [candidate]
    else:
        tried = [cwd / candidate]
        if env_dir is not None and env_dir.resolve() != cwd.resolve():
            tried.append(env_dir / candidate)
    # exists(), not is_file(): a directory or special file found here is reported as
    # unreadable by the caller rather than as "not found".
    for file in tried:
        if file.exists():
            return file
    raise ConfigError(
        f"KALSHI_PRIVATE_KEY_PATH={path}: file not found (tried {', '.join(map(str, tried))})"
    )


def load_settings(env_file: Path | None = Path(".env")) -> Settings:
    """Settings from the environment and ``env_file`` (remembering the file's folder).

    Raises:
        ConfigError: a value does not fit; one line naming each variable and why (never
            the value itself: it may be a token or a key).
    """
    use = env_file if env_file is not None and env_file.is_file() else None
    try:
        settings = Settings(_env_file=use)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
    if use is not None:
        settings._env_dir = use.resolve().parent
    return settings


def env_name(field: str) -> str:
    """The environment variable that sets ``field`` (its first alias, if it has any)."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return field.upper()


def _one_line(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        where = env_name(str(error["loc"][0])) if error["loc"] else "settings"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)
