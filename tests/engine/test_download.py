"""Tests of the checkpoint registry, the cache folder and the verified download.

Nothing here touches the internet: downloads come from an HTTP server on 127.0.0.1
serving a few megabytes of seeded random bytes.
"""

from __future__ import annotations

import hashlib
import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import pytest

from sam2_engine.errors import CheckpointError, DownloadError
from sam2_engine.weights import download
from sam2_engine.weights.download import (
    CACHE_ENV,
    OFFICIAL_CHECKPOINTS,
    DownloadCancelled,
    OfficialCheckpoint,
    cache_dir,
    cached_path,
    ensure_checkpoint,
    sha256_of,
)

PAYLOAD = random.Random(0).randbytes(3 * (1 << 20) + 12345)  # several download chunks
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


@dataclass
class ServerState:
    """What the local server serves, and the paths it was asked for."""

    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    base_url: str = ""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        state: ServerState = self.server.state  # type: ignore[attr-defined]
        state.requests.append(self.path)
        if self.path == "/stall":  # headers, then silence until the test ends
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            state.release.wait(10)
            return
        if self.path == "/truncated":  # announces the whole payload, sends half, hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
            return
        body = state.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def server() -> Iterator[ServerState]:
    state = ServerState(files={"/model.pt": PAYLOAD})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.state = state  # type: ignore[attr-defined]
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/model.pt"


def make_entry(
    url: str, sha256: str = PAYLOAD_SHA, size: int | None = len(PAYLOAD)
) -> OfficialCheckpoint:
    return OfficialCheckpoint("test_model", "test_model.pt", url, sha256, size)


def assert_empty(folder: Path) -> None:
    leftovers = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    assert leftovers == []


# --------------------------------------------------------------------------------------
# registry and cache folder
# --------------------------------------------------------------------------------------


def test_registry_holds_the_eight_official_files() -> None:
    sizes = ("tiny", "small", "base_plus", "large")
    expected = {f"sam2.1_hiera_{s}" for s in sizes} | {f"sam2_hiera_{s}" for s in sizes}
    assert set(OFFICIAL_CHECKPOINTS) == expected
    for name, entry in OFFICIAL_CHECKPOINTS.items():
        assert entry.name == name
        assert entry.filename == f"{name}.pt"
        assert entry.url.endswith("/" + entry.filename)
        prefix = "092824" if name.startswith("sam2.1") else "072824"
        assert entry.url.startswith(f"https://dl.fbaipublicfiles.com/segment_anything_2/{prefix}/")
        assert (entry.size is not None) == name.startswith("sam2.1")

    tiny = OFFICIAL_CHECKPOINTS["sam2.1_hiera_tiny"]
    assert tiny.url == (
        "https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_tiny.pt"
    )
    assert tiny.size == 156008466
    assert tiny.sha256 == "7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69"
    assert OFFICIAL_CHECKPOINTS["sam2.1_hiera_large"].size == 898083611
    assert OFFICIAL_CHECKPOINTS["sam2_hiera_base_plus"].sha256 == (
        "d0bb7f236400a49669ffdd1be617959a8b1d1065081789d7bbff88eded3a8071"
    )


def test_registry_names_are_model_config_names() -> None:
    configs = resources.files("sam2_engine") / "configs"
    for name in OFFICIAL_CHECKPOINTS:
        assert (configs / f"{name}.yaml").is_file(), name


def test_entries_are_validated() -> None:
    with pytest.raises(ValueError, match="64 lowercase"):
        OfficialCheckpoint("x", "x.pt", "http://h/x.pt", "abc", None)
    with pytest.raises(ValueError, match="without folders"):
        OfficialCheckpoint("x", "../x.pt", "http://h/x.pt", PAYLOAD_SHA, None)
    with pytest.raises(ValueError, match="size -1"):
        OfficialCheckpoint("x", "x.pt", "http://h/x.pt", PAYLOAD_SHA, -1)


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "mine"

    monkeypatch.delenv(CACHE_ENV)
    assert cache_dir() == tmp_path / "xdg" / "sam2_engine"

    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "sam2_engine"
    assert not (tmp_path / "home").exists()  # asking for the folder does not create it


def test_cached_path_uses_env_and_explicit_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert cached_path("sam2_hiera_small") == tmp_path / "sam2_hiera_small.pt"
    entry = OFFICIAL_CHECKPOINTS["sam2.1_hiera_large"]
    assert cached_path(entry, tmp_path / "b") == tmp_path / "b" / "sam2.1_hiera_large.pt"


def test_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sam2_hiera_huge") as info:
        ensure_checkpoint("sam2_hiera_huge", cache=tmp_path)
    for name in OFFICIAL_CHECKPOINTS:
        assert name in str(info.value)
    with pytest.raises(ValueError, match=r"sam2\.1_hiera_tiny"):
        cached_path("nope")
    assert_empty(tmp_path)


def test_sha256_of_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(PAYLOAD)
    assert sha256_of(path, chunk=1000) == PAYLOAD_SHA


# --------------------------------------------------------------------------------------
# download
# --------------------------------------------------------------------------------------


def test_download_lands_in_cache_and_reports_progress(server: ServerState, tmp_path: Path) -> None:
    entry = make_entry(server.base_url + "/model.pt")
    calls: list[tuple[int, int | None]] = []
    path = ensure_checkpoint(entry, cache=tmp_path, progress=lambda d, t: calls.append((d, t)))

    assert path == tmp_path / "test_model.pt"
    assert path.read_bytes() == PAYLOAD
    done = [d for d, _ in calls]
    assert len(calls) >= 3  # several chunks
    assert done == sorted(done)
    assert done[-1] == len(PAYLOAD)
    assert {t for _, t in calls} == {len(PAYLOAD)}
    # only the file and its verification record remain
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test_model.pt", "test_model.pt.verified"]


def test_unknown_size_takes_total_from_the_server(server: ServerState, tmp_path: Path) -> None:
    entry = make_entry(server.base_url + "/model.pt", size=None)
    calls: list[tuple[int, int | None]] = []
    ensure_checkpoint(entry, cache=tmp_path, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (len(PAYLOAD), len(PAYLOAD))


def test_cache_folder_is_created_and_name_is_accepted(
    server: ServerState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.files["/sam2_hiera_tiny.pt"] = PAYLOAD
    url = server.base_url + "/sam2_hiera_tiny.pt"
    fake = OfficialCheckpoint("sam2_hiera_tiny", "sam2_hiera_tiny.pt", url, PAYLOAD_SHA, None)
    monkeypatch.setitem(OFFICIAL_CHECKPOINTS, "sam2_hiera_tiny", fake)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "new" / "folder"))

    path = ensure_checkpoint("sam2_hiera_tiny")
    assert path == tmp_path / "new" / "folder" / "sam2_hiera_tiny.pt"
    assert path.read_bytes() == PAYLOAD


def test_second_call_uses_the_cache(
    server: ServerState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = make_entry(server.base_url + "/model.pt")
    first = ensure_checkpoint(entry, cache=tmp_path)
    assert server.requests == ["/model.pt"]

    # the sidecar is trusted: no request and no re-hash
    def no_hash(path: Path, chunk: int = 0) -> str:
        raise AssertionError("the verified file was hashed again")

    monkeypatch.setattr(download, "sha256_of", no_hash)
    assert ensure_checkpoint(entry, cache=tmp_path) == first
    assert server.requests == ["/model.pt"]


def test_changed_file_is_hashed_again_and_refused(server: ServerState, tmp_path: Path) -> None:
    entry = make_entry(server.base_url + "/model.pt")
    path = ensure_checkpoint(entry, cache=tmp_path)
    path.write_bytes(b"x" * len(PAYLOAD))  # same size, new mtime and content

    with pytest.raises(DownloadError, match="delete it") as info:
        ensure_checkpoint(entry, cache=tmp_path)
    assert PAYLOAD_SHA in str(info.value)
    assert hashlib.sha256(path.read_bytes()).hexdigest() in str(info.value)
    assert server.requests == ["/model.pt"]


def test_wrong_sha256_leaves_nothing(server: ServerState, tmp_path: Path) -> None:
    entry = make_entry(server.base_url + "/model.pt", sha256="0" * 64)
    with pytest.raises(DownloadError, match=r"expected sha256 0{64}") as info:
        ensure_checkpoint(entry, cache=tmp_path)
    assert PAYLOAD_SHA in str(info.value)
    assert "Nothing was kept" in str(info.value)
    assert_empty(tmp_path)


@pytest.mark.parametrize("size", [len(PAYLOAD) - 1, len(PAYLOAD) + 1])
def test_wrong_size_is_refused(server: ServerState, tmp_path: Path, size: int) -> None:
    entry = make_entry(server.base_url + "/model.pt", size=size)
    with pytest.raises(DownloadError, match=f"has {size} bytes"):
        ensure_checkpoint(entry, cache=tmp_path)
    assert_empty(tmp_path)


def test_truncated_transfer_is_refused(server: ServerState, tmp_path: Path) -> None:
    entry = make_entry(server.base_url + "/truncated")
    with pytest.raises(DownloadError, match=f"has {len(PAYLOAD)} bytes"):
        ensure_checkpoint(entry, cache=tmp_path)
    assert_empty(tmp_path)


def test_http_404_names_url_and_where_to_put_the_file(server: ServerState, tmp_path: Path) -> None:
    url = server.base_url + "/missing.pt"
    with pytest.raises(DownloadError) as info:
        ensure_checkpoint(make_entry(url), cache=tmp_path)
    message = str(info.value)
    assert url in message
    assert "404" in message
    assert str(tmp_path / "test_model.pt") in message
    assert CACHE_ENV in message
    assert_empty(tmp_path)


def test_offline_names_url_and_where_to_put_the_file(closed_port_url: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError) as info:
        ensure_checkpoint(make_entry(closed_port_url), cache=tmp_path, timeout=5)
    message = str(info.value)
    assert closed_port_url in message
    assert "refused" in message.lower()
    assert str(tmp_path / "test_model.pt") in message
    assert CACHE_ENV in message
    assert isinstance(info.value, CheckpointError)
    assert_empty(tmp_path)


def test_url_argument_overrides_the_entry(server: ServerState, tmp_path: Path) -> None:
    entry = make_entry("http://127.0.0.1:9/never-used.pt")
    path = ensure_checkpoint(entry, cache=tmp_path, url=server.base_url + "/model.pt")
    assert path.read_bytes() == PAYLOAD


def test_unwritable_cache_names_the_folder_and_the_fix(
    server: ServerState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    # the temporary download file cannot be created (chmod would not stop root)
    monkeypatch.setattr(download, "open", refuse, raising=False)
    with pytest.raises(DownloadError, match=CACHE_ENV) as info:
        ensure_checkpoint(make_entry(server.base_url + "/model.pt"), cache=tmp_path)
    assert str(tmp_path) in str(info.value)
    assert "Permission denied" in str(info.value)
    assert server.requests == []


def test_bad_url_scheme_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"ftp://host/x\.pt"):
        ensure_checkpoint(make_entry("ftp://host/x.pt"), cache=tmp_path)


def test_timeout_leaves_nothing(server: ServerState, tmp_path: Path) -> None:
    entry = make_entry(server.base_url + "/stall")
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"no data arrived within 0\.3 s"):
        ensure_checkpoint(entry, cache=tmp_path, timeout=0.3)
    assert time.monotonic() - start < 5
    assert_empty(tmp_path)


def test_cancel_midway_leaves_nothing(server: ServerState, tmp_path: Path) -> None:
    seen: list[int] = []
    entry = make_entry(server.base_url + "/model.pt")
    with pytest.raises(DownloadCancelled, match="cancelled") as info:
        ensure_checkpoint(
            entry,
            cache=tmp_path,
            progress=lambda done, total: seen.append(done),
            cancel=lambda: bool(seen) and seen[-1] > 0,
        )
    assert isinstance(info.value, DownloadError)
    assert 0 < seen[-1] < len(PAYLOAD)
    assert_empty(tmp_path)


def test_keyboard_interrupt_leaves_nothing(server: ServerState, tmp_path: Path) -> None:
    def interrupt(done: int, total: int | None) -> None:
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ensure_checkpoint(
            make_entry(server.base_url + "/model.pt"), cache=tmp_path, progress=interrupt
        )
    assert_empty(tmp_path)


def test_concurrent_downloads_agree(server: ServerState, tmp_path: Path) -> None:
    entry = make_entry(server.base_url + "/model.pt")
    results: list[Path | BaseException] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        try:
            results.append(ensure_checkpoint(entry, cache=tmp_path))
        except BaseException as exc:  # reported by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [tmp_path / "test_model.pt"] * 4
    assert (tmp_path / "test_model.pt").read_bytes() == PAYLOAD
    assert not list(tmp_path.glob("*.part"))


def test_stale_temporary_files_are_swept(server: ServerState, tmp_path: Path) -> None:
    stale = tmp_path / ".test_model.pt.dead1234.part"
    fresh = tmp_path / ".test_model.pt.live5678.part"
    stale.write_bytes(b"old")
    fresh.write_bytes(b"busy")
    old = time.time() - 3 * 24 * 3600
    os.utime(stale, (old, old))

    ensure_checkpoint(make_entry(server.base_url + "/model.pt"), cache=tmp_path)
    assert not stale.exists()
    assert fresh.exists()  # may belong to a download still running elsewhere


# --------------------------------------------------------------------------------------
# files placed by hand
# --------------------------------------------------------------------------------------


def test_hand_placed_file_is_verified_once_without_network(
    closed_port_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "test_model.pt"
    path.write_bytes(PAYLOAD)
    entry = make_entry(closed_port_url)

    assert ensure_checkpoint(entry, cache=tmp_path) == path
    assert (tmp_path / "test_model.pt.verified").is_file()

    hashed: list[Path] = []
    monkeypatch.setattr(download, "sha256_of", lambda p, chunk=0: hashed.append(p) or "")
    assert ensure_checkpoint(entry, cache=tmp_path) == path
    assert hashed == []


def test_hand_placed_file_with_wrong_hash_is_refused(closed_port_url: str, tmp_path: Path) -> None:
    path = tmp_path / "test_model.pt"
    path.write_bytes(PAYLOAD[:-1])
    found = hashlib.sha256(PAYLOAD[:-1]).hexdigest()

    with pytest.raises(DownloadError) as info:
        ensure_checkpoint(make_entry(closed_port_url), cache=tmp_path)
    message = str(info.value)
    assert str(path) in message
    assert f"expected sha256 {PAYLOAD_SHA}" in message
    assert f"found {found}" in message
    assert "delete it" in message and "replace it" in message
    assert path.read_bytes() == PAYLOAD[:-1]  # the user's file is left alone
    assert not (tmp_path / "test_model.pt.verified").exists()


def test_corrupt_sidecar_falls_back_to_hashing(closed_port_url: str, tmp_path: Path) -> None:
    path = tmp_path / "test_model.pt"
    path.write_bytes(PAYLOAD)
    (tmp_path / "test_model.pt.verified").write_text("{not json")
    assert ensure_checkpoint(make_entry(closed_port_url), cache=tmp_path) == path
