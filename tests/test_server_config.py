"""``satchel serve`` configuration: defaults < TOML file < SATCHEL_* environment < flags, and its errors."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import satchel.server.config
from satchel.errors import ConfigError
from satchel.server.auth import ALL_PERMISSIONS, READ, WRITE
from satchel.server.config import KeyConfig, ServerConfig, UsecaseConfig, load_config
from satchel.server.errors import ApiError
from satchel.types import TTI, TTL

DAY = timedelta(days=1)


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def docstring_example() -> str:
    """Return the TOML example of the config module's docstring, so the documentation is tested."""
    doc = satchel.server.config.__doc__ or ""
    block = doc.split("A file looks like this::\n\n", 1)[1]
    lines = []
    for line in block.splitlines():
        if line and not line.startswith("    "):
            break
        lines.append(line[4:])
    return "\n".join(lines)


def test_defaults() -> None:
    config = load_config(env={})
    assert config == ServerConfig()
    assert (config.host, config.port, config.data, config.store) == ("127.0.0.1", 8888, "satchel-data", None)
    assert (config.enforce_auth, config.keys, config.signing_key) == (False, (), None)
    assert (config.sweep_interval, config.max_requests, config.server_engine) == (60.0, 512, "uvicorn")
    assert config.usecase("anything") == UsecaseConfig()


def test_the_documented_example_loads(tmp_path: Path) -> None:
    config = load_config(str(write(tmp_path / "satchel.toml", docstring_example())), env={})
    assert config.enforce_auth
    assert config.data == str(tmp_path / "satchel-data")
    assert config.signing_key == str(tmp_path / "server-key.pem")
    assert config.keys == (KeyConfig("mykid", (str(tmp_path / "mykid.pub.pem"),), frozenset({READ, WRITE})),)
    attachments = config.usecase("attachments")
    assert attachments == UsecaseConfig(
        compression="zstd",
        expiration=TTI(30 * DAY),
        allow_manual=False,
        max_ttl=90 * DAY,
        max_tti=30 * DAY,
        max_object_size=100 * 1024 * 1024,
    )
    assert config.default_usecase == UsecaseConfig()
    assert "_default" not in config.usecases
    assert config.usecase("other") is config.default_usecase


def test_precedence_is_defaults_file_environment_flags(tmp_path: Path) -> None:
    file = str(write(tmp_path / "c.toml", 'port = 1000\nlog_level = "debug"\naccess_log = false\n'))
    assert load_config(file, env={}).port == 1000
    env = {"SATCHEL_PORT": "2000"}
    assert load_config(file, env=env).port == 2000
    config = load_config(file, env=env, overrides={"port": 3000, "log_level": None})
    assert (config.port, config.log_level, config.access_log) == (3000, "debug", False)
    assert load_config(env={"SATCHEL_CONFIG": file}).port == 1000
    other = str(write(tmp_path / "d.toml", "port = 4000\n"))
    assert load_config(other, env={"SATCHEL_CONFIG": file}).port == 4000


def test_environment_values_are_parsed(tmp_path: Path) -> None:
    env = {
        "SATCHEL_HOST": "localhost",
        "SATCHEL_DATA": "rel/data",
        "SATCHEL_STORE": "memory://",
        "SATCHEL_ENFORCE_AUTH": "Yes",
        "SATCHEL_ALLOW_OPEN_PUBLIC": "0",
        "SATCHEL_ACCESS_LOG": "off",
        "SATCHEL_SIGNING_KEY": "server.pem",
        "SATCHEL_SWEEP_INTERVAL": "5m",
        "SATCHEL_MAX_REQUESTS": "64",
        "SATCHEL_LOG_LEVEL": "WARNING",
        "SATCHEL_SERVER_ENGINE": "granian",
        "SATCHEL_AUTH_KEYS": "a=/keys/a1.pem, a=/keys/a2.pem,b=b.pem",
        "SATCHEL_PORT": "",
        "UNRELATED": "x",
    }
    config = load_config(env=env)
    assert (config.host, config.data, config.store, config.signing_key) == (
        "localhost",
        "rel/data",
        "memory://",
        "server.pem",
    )
    assert (config.enforce_auth, config.allow_open_public, config.access_log) == (True, False, False)
    assert (config.sweep_interval, config.max_requests, config.port) == (300.0, 64, 8888)
    assert (config.log_level, config.server_engine) == ("warning", "granian")
    assert config.keys == (KeyConfig("a", ("/keys/a1.pem", "/keys/a2.pem")), KeyConfig("b", ("b.pem",)))
    assert load_config(env={"SATCHEL_SWEEP_INTERVAL": "0"}).sweep_interval == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SATCHEL_PORT", "http"),
        ("SATCHEL_PORT", "70000"),
        ("SATCHEL_PORT", "-1"),
        ("SATCHEL_ENFORCE_AUTH", "maybe"),
        ("SATCHEL_MAX_REQUESTS", "0"),
        ("SATCHEL_SWEEP_INTERVAL", "soon"),
        ("SATCHEL_LOG_LEVEL", "loud"),
        ("SATCHEL_SERVER_ENGINE", "gunicorn"),
        ("SATCHEL_AUTH_KEYS", "just-a-path.pem"),
        ("SATCHEL_AUTH_KEYS", "=x.pem"),
        ("SATCHEL_AUTH_KEYS", "k="),
    ],
)
def test_bad_environment_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_config(env={variable: value})


def test_flag_keys_take_strings_and_key_configs() -> None:
    limited = KeyConfig("b", ("/b.pem",), frozenset({READ}))
    config = load_config(env={"SATCHEL_AUTH_KEYS": "z=/z.pem"}, overrides={"keys": ["a=/a1.pem", limited, "a=/a2.pem"]})
    assert config.keys == (KeyConfig("a", ("/a1.pem", "/a2.pem")), limited)
    assert load_config(env={}, overrides={"keys": "a=/a.pem"}).keys == (KeyConfig("a", ("/a.pem",)),)
    with pytest.raises(ConfigError, match="different max_permissions"):
        load_config(env={}, overrides={"keys": ["b=/c.pem", limited]})
    with pytest.raises(ConfigError, match="--auth-key"):
        load_config(env={}, overrides={"keys": ["nokid"]})


def test_bad_flags() -> None:
    with pytest.raises(ConfigError, match="--port"):
        load_config(env={}, overrides={"port": "eighty"})
    with pytest.raises(ConfigError, match="--enforce-auth"):
        load_config(env={}, overrides={"enforce_auth": 1})
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_config(env={}, overrides={"colour": "blue"})
    with pytest.raises(ConfigError, match="--usecases"):
        load_config(env={}, overrides={"usecases": {"u": "zstd"}})
    usecases = {"u": UsecaseConfig(compression="zstd")}
    config = load_config(env={}, overrides={"usecases": usecases, "default_usecase": UsecaseConfig(allow_tti=False)})
    assert config.usecase("u").compression == "zstd"
    assert not config.usecase("v").allow_tti


def test_relative_paths_in_a_file_follow_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    key = Ed25519PrivateKey.generate()
    (folder / "k.pem").write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    file = write(
        folder / "satchel.toml",
        """
        data = "../var/data"
        signing_key = "/abs/server.pem"
        [auth.keys.k]
        key_files = ["k.pem", "sub/../k.pem"]
        """,
    )
    config = load_config(str(file), env={})
    assert config.data == str(tmp_path / "var" / "data")
    assert config.signing_key == "/abs/server.pem"
    assert config.keys[0].key_files == (str(folder / "k.pem"), str(folder / "k.pem"))
    auth_key = config.keys[0].load()
    assert auth_key.kid == "k"
    assert auth_key.max_permissions == ALL_PERMISSIONS
    assert len(auth_key.public_keys) == 2


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("colour = 'blue'", "'colour'"),
        ("[auth]\nenforce = true", "enforce_auth"),
        ("port = 'x'", "'port'"),
        ("port = true", "'port'"),
        ("enforce_auth = 'sometimes'", "'enforce_auth'"),
        ("host = 5", "'host'"),
        ("sweep_interval = -1", "'sweep_interval'"),
        ("usecases = 5", "'usecases'"),
        ("[auth.keys.k]\nkey_files = []", "'auth.keys.k.key_files'"),
        ("[auth.keys.k]\nkey_files = 'k.pem'", "'auth.keys.k.key_files'"),
        ("[auth.keys.k]\nkey_files = ['k.pem']\nmax_permissions = ['object.list']", "'auth.keys.k.max_permissions'"),
        ("[auth.keys.k]\nkey_files = ['k.pem']\nfile = 'x'", "'auth.keys.k.file'"),
        ("[usecases.u]\ncompression = 'gzip'", "'usecases.u.compression'"),
        ("[usecases.u]\nexpiration = 'ttl:forever'", "'usecases.u.expiration'"),
        ("[usecases.u]\nexpiration = 30", "'usecases.u.expiration'"),
        ("[usecases.u]\nmax_object_size = '100 parsecs'", "'usecases.u.max_object_size'"),
        ("[usecases.u]\nmax_object_size = 0", "'usecases.u'"),
        ("[usecases.u]\nretention = '1d'", "'usecases.u.retention'"),
        ("[usecases.u.expiration_policy]\nweekly = { allowed = true }", "'usecases.u.expiration_policy.weekly'"),
        ("[usecases.u.expiration_policy]\nttl = { allowed = 'yes' }", "'usecases.u.expiration_policy.ttl.allowed'"),
        ("[usecases.u.expiration_policy]\nttl = { max = 'long' }", "'usecases.u.expiration_policy.ttl.max'"),
        ("[usecases.u.expiration_policy]\nmanual = { max = '1d' }", "'usecases.u.expiration_policy.manual.max'"),
        ("[usecases.u]\nexpiration = 'tti:60d'\nexpiration_policy = { tti = { max = '30d' } }", "'usecases.u'"),
        ("[usecases.u]\nexpiration_policy = { ttl = { max = '0s' } }", "'usecases.u'"),
        ("port = [", "not valid TOML"),
    ],
)
def test_file_errors_name_the_setting_and_the_file(tmp_path: Path, text: str, named: str) -> None:
    file = write(tmp_path / "bad.toml", text + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(str(file), env={})
    message = str(caught.value)
    assert named in message
    assert str(file) in message
    # No tomllib (or other) traceback rides along: nothing chained, or the context suppressed.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(str(tmp_path / "missing.toml"), env={})
    (tmp_path / "latin1.toml").write_bytes(b"host = '\xe9'\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(str(tmp_path / "latin1.toml"), env={})


def test_sizes_and_durations_in_files(tmp_path: Path) -> None:
    file = write(
        tmp_path / "c.toml",
        """
        sweep_interval = "1h 30m"
        [usecases.a]
        max_object_size = 4096
        expiration = "manual"
        [usecases.b]
        max_object_size = "1.5GB"
        expiration = "ttl:7 days"
        expiration_policy = { ttl = { max = 604800 }, tti = { allowed = false } }
        [usecases.c]
        max_object_size = "10 KiB"
        compression = "none"
        """,
    )
    config = load_config(str(file), env={})
    assert config.sweep_interval == 5400.0
    assert config.usecase("a") == UsecaseConfig(max_object_size=4096)
    assert config.usecase("b") == UsecaseConfig(
        expiration=TTL(7 * DAY), max_ttl=7 * DAY, allow_tti=False, max_object_size=1_500_000_000
    )
    assert config.usecase("c") == UsecaseConfig(max_object_size=10240)


def test_check_policy() -> None:
    UsecaseConfig().check_policy(None)
    UsecaseConfig().check_policy(TTL(400 * DAY))
    rules = UsecaseConfig(allow_manual=False, allow_tti=False, max_ttl=30 * DAY)
    rules.check_policy(TTL(30 * DAY))
    for refused, reason in ((None, "manual"), (TTI(DAY), "tti"), (TTL(30 * DAY + timedelta(seconds=1)), "30d")):
        with pytest.raises(ApiError, match=reason) as caught:
            rules.check_policy(refused)
        assert caught.value.status == 400
    with pytest.raises(ApiError, match="maximum of 1h"):
        UsecaseConfig(max_tti=timedelta(hours=1)).check_policy(TTI(timedelta(hours=2)))


def test_dataclasses_validate_themselves() -> None:
    with pytest.raises(ConfigError):
        UsecaseConfig(expiration=TTL(2 * DAY), max_ttl=DAY)
    with pytest.raises(ConfigError):
        UsecaseConfig(expiration=TTL(DAY), allow_ttl=False)
    with pytest.raises(ConfigError):
        UsecaseConfig(max_object_size=-1)
    UsecaseConfig(allow_manual=False)  # clients must then send a policy; that is a valid choice
    with pytest.raises(ConfigError):
        KeyConfig("k", ())
    with pytest.raises(ConfigError):
        KeyConfig("k", ("a.pem",), frozenset({"object.admin"}))
    with pytest.raises(ConfigError):
        ServerConfig(port=65536)
    with pytest.raises(ConfigError):
        ServerConfig(log_level="loud")


def test_any_host_is_accepted_binding_decides() -> None:
    for host in ("0.0.0.0", "::", "example.com", "localhost"):
        assert load_config(env={"SATCHEL_HOST": host}).host == host
    assert load_config(env={"SATCHEL_ALLOW_OPEN_PUBLIC": "true"}).allow_open_public
