"""`--certfile/--keyfile`: the config layers, validation, the server context's checks, and
the real CLI (start-up errors as one line with exit 2; status and client-config say https)."""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trustme
from cryptography.hazmat.primitives import serialization

from scsd.config.load import load_config
from scsd.errors import ConfigError, StartupError
from scsd.process import net, tls
from tests.kit.cli import run_scsd
from tests.kit.tls import TlsFiles, TlsRunning, make_tls_files, start_tls_daemon


@pytest.fixture
def files(tmp_path: Path) -> TlsFiles:
    return make_tls_files(tmp_path / "tls")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), **extra}


def _pair(files: TlsFiles) -> list[str]:
    return ["--certfile", str(files.certfile), "--keyfile", str(files.keyfile)]


def test_tls_is_off_by_default(tmp_path: Path) -> None:
    cfg = load_config([], _env(tmp_path))
    assert (cfg.certfile, cfg.keyfile, cfg.tls) == (None, None, False)


def test_flags_env_and_toml_each_set_both_files(tmp_path: Path, files: TlsFiles) -> None:
    other = make_tls_files(tmp_path / "other")
    toml = tmp_path / "scsd.toml"
    toml.write_text(f'certfile = "{files.certfile}"\nkeyfile = "{files.keyfile}"\n', encoding="utf-8")
    from_toml = load_config(["--config", str(toml)], _env(tmp_path))
    assert (from_toml.certfile, from_toml.keyfile, from_toml.tls) == (files.certfile, files.keyfile, True)
    env = _env(
        tmp_path,
        SHARED_CONTEXT_CERTFILE=str(other.certfile),
        SHARED_CONTEXT_KEYFILE=str(other.keyfile),
    )
    from_env = load_config(["--config", str(toml)], env)  # environment beats TOML
    assert (from_env.certfile, from_env.keyfile) == (other.certfile, other.keyfile)
    from_flags = load_config(["--config", str(toml), *_pair(files)], env)  # flags beat both
    assert (from_flags.certfile, from_flags.keyfile) == (files.certfile, files.keyfile)


@pytest.mark.parametrize("given", ["--certfile", "--keyfile"])
def test_one_without_the_other_is_refused(tmp_path: Path, files: TlsFiles, given: str) -> None:
    path = files.certfile if given == "--certfile" else files.keyfile
    with pytest.raises(ConfigError, match="TLS needs both, or neither") as caught:
        load_config([given, str(path)], _env(tmp_path))
    other = "--keyfile" if given == "--certfile" else "--certfile"
    assert given in str(caught.value) and other in str(caught.value)


def test_one_from_env_and_none_elsewhere_names_the_variables(tmp_path: Path, files: TlsFiles) -> None:
    with pytest.raises(ConfigError, match="SHARED_CONTEXT_KEYFILE"):
        load_config([], _env(tmp_path, SHARED_CONTEXT_CERTFILE=str(files.certfile)))


def test_missing_file_or_a_directory_is_refused_for_serve(tmp_path: Path, files: TlsFiles) -> None:
    with pytest.raises(ConfigError, match=r"--certfile.*does not exist"):
        load_config(
            ["--certfile", str(tmp_path / "nope.pem"), "--keyfile", str(files.keyfile)], _env(tmp_path)
        )
    with pytest.raises(ConfigError, match=r"--keyfile.*not a file"):
        load_config(["--certfile", str(files.certfile), "--keyfile", str(tmp_path)], _env(tmp_path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_key_is_refused(tmp_path: Path, files: TlsFiles) -> None:
    files.keyfile.chmod(0)
    with pytest.raises(ConfigError, match=r"--keyfile.*not readable"):
        load_config(_pair(files), _env(tmp_path))


def test_other_commands_only_need_to_know_tls_is_on(tmp_path: Path, files: TlsFiles) -> None:
    """`scsd status` may run as a user who cannot read the service's key: it needs https://,
    not the key."""
    gone = ["--certfile", str(tmp_path / "elsewhere.pem"), "--keyfile", str(tmp_path / "elsewhere.key")]
    cfg = load_config(["client-config", "cursor", *gone], _env(tmp_path))
    assert cfg.tls
    with pytest.raises(ConfigError):
        load_config(["serve", *gone], _env(tmp_path))


def test_server_context_is_tls12_or_newer(files: TlsFiles) -> None:
    context = tls.server_context(files.certfile, files.keyfile, tls.WS_ALPN)
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_mismatched_key_is_one_clear_error(tmp_path: Path, files: TlsFiles) -> None:
    stranger = make_tls_files(tmp_path / "stranger")
    with pytest.raises(StartupError, match="does not belong to certificate"):
        tls.server_context(files.certfile, stranger.keyfile, tls.HTTP_ALPN)


def test_garbage_files_are_named(tmp_path: Path, files: TlsFiles) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n", encoding="utf-8")
    with pytest.raises(StartupError, match=rf"{junk} holds no valid PEM certificate"):
        tls.server_context(junk, files.keyfile, tls.HTTP_ALPN)
    with pytest.raises(StartupError, match=rf"{junk} holds no usable PEM private key"):
        tls.server_context(files.certfile, junk, tls.HTTP_ALPN)
    # The two swapped: the key file holds no certificate.
    with pytest.raises(StartupError, match="holds no valid PEM certificate"):
        tls.server_context(files.keyfile, files.certfile, tls.HTTP_ALPN)


def test_encrypted_key_is_refused_without_prompting(tmp_path: Path, files: TlsFiles) -> None:
    key = serialization.load_pem_private_key(files.keyfile.read_bytes(), password=None)
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"sesame"),
        )
    )
    with pytest.raises(StartupError, match="is encrypted"):
        tls.server_context(files.certfile, encrypted, tls.HTTP_ALPN)


def test_pinned_probe_context_trusts_our_certificate_only(tmp_path: Path, files: TlsFiles) -> None:
    context = tls.pinned_client_context(files.certfile)
    assert context.verify_mode == ssl.CERT_REQUIRED
    stranger = make_tls_files(tmp_path / "stranger", trustme.CA())
    assert _handshake_ok(context, stranger) is False
    assert _handshake_ok(context, files) is True


def _handshake_ok(client: ssl.SSLContext, server: TlsFiles) -> bool:
    """One in-memory TLS handshake between `client` and a server using `server`'s files."""
    server_side = tls.server_context(server.certfile, server.keyfile, tls.WS_ALPN)
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    c = client.wrap_bio(c_in, c_out, server_hostname="scsd.invalid")
    s = server_side.wrap_bio(s_in, s_out, server_side=True)
    done = {"c": False, "s": False}
    for _ in range(10):
        for name, end in (("c", c), ("s", s)):
            if done[name]:
                continue
            try:
                end.do_handshake()
                done[name] = True
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except ssl.SSLError:
                return False
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return True
    return False


def test_local_urls_follow_tls() -> None:
    assert net.local_url("0.0.0.0", 443, tls=True) == "https://127.0.0.1:443"
    assert net.local_url("::1", 8080, tls=True, websocket=True) == "wss://[::1]:8080"
    assert net.local_url("box.example", 80, tls=False) == "http://box.example:80"
    assert net.ui_origins("127.0.0.1", 5, tls=True) == (
        "https://127.0.0.1:5",
        "https://localhost:5",
        "https://[::1]:5",
    )
    assert net.ui_origins("box.example", 5, tls=True) == ("https://box.example:5",)


# The real CLI, in a subprocess.


@pytest.mark.parametrize("case", ["only-cert", "missing", "mismatch", "garbage"])
async def test_bad_tls_setup_ends_start_up_with_one_line_and_status_2(
    tmp_path: Path, files: TlsFiles, case: str
) -> None:
    stranger = make_tls_files(tmp_path / "stranger")
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----\n", encoding="utf-8")
    flags = {
        "only-cert": ["--certfile", files.certfile],
        "missing": ["--certfile", tmp_path / "absent.pem", "--keyfile", files.keyfile],
        "mismatch": ["--certfile", files.certfile, "--keyfile", stranger.keyfile],
        "garbage": ["--certfile", junk, "--keyfile", files.keyfile],
    }[case]
    done = await run_scsd("serve", "--data-dir", tmp_path / "data", "--port", "0", "--ws-port", "0", *flags)
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("scsd: ") and "Traceback" not in err
    assert "--certfile" in err or "--keyfile" in err, err


@pytest.fixture
async def tls_running(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[TlsRunning]:
    running = await start_tls_daemon(nursery, tmp_path)
    try:
        yield running
    finally:
        running.stop.set()


async def test_status_and_client_config_use_https(tls_running: TlsRunning) -> None:
    assert tls_running.files is not None
    target = ("--data-dir", tls_running.config.data_dir, "--port", tls_running.endpoints.http_port,
              "--certfile", tls_running.files.certfile, "--keyfile", tls_running.files.keyfile)  # fmt: skip
    status = await run_scsd("status", *target)
    assert status.returncode == 0, status.stderr
    lines = dict(line.split(None, 1) for line in status.stdout.decode().splitlines())
    assert lines["http"] == tls_running.endpoints.http_url
    assert lines["websocket"].startswith("wss://")
    config = await run_scsd("client-config", "cursor", *target)
    assert config.returncode == 0, config.stderr
    server = json.loads(config.stdout)["mcpServers"]["scsd"]
    assert server["url"] == f"{tls_running.endpoints.http_url}/mcp"
    # Without the TLS settings, status finds no plain-HTTP scsd there.
    plain = await run_scsd("status", *target[:4])
    assert plain.returncode == 3
