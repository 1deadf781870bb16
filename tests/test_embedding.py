"""Recognizer embedded in a program or web service: threads, forks, exit, odd arguments, custom
fetchers. Each case was found misbehaving by an adversarial pass (2026-11-26)."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from httpserver import Server
from PIL import Image

from fingerspell import Recognizer
from fingerspell.errors import FetchError, InputError, ModelError

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TFLITE = ARTIFACTS / "fingerspell-vgg16-int8.tflite"


def _jpeg(size: tuple[int, int] = (64, 48), exif_orientation: int | None = None) -> bytes:
    img = Image.new("RGB", size, (200, 120, 90))
    img.paste((20, 40, 200), (0, 0, size[0] // 2, size[1] // 3))  # not symmetric: rotation shows
    buf = io.BytesIO()
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        img.save(buf, "JPEG", exif=exif)
    else:
        img.save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def rec() -> Recognizer:
    return Recognizer(crop="none")


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server(_jpeg())
    yield s
    s.close()


def test_exit_while_daemon_threads_predict_is_clean() -> None:
    """onnxruntime aborted the process (SIGABRT) when it exited mid-run in a daemon thread, as
    http.server's ThreadingHTTPServer request threads are."""
    code = textwrap.dedent("""
        import threading, time
        import numpy as np
        from fingerspell import Recognizer
        rec = Recognizer(crop="none")
        x = np.zeros((2, 150, 150, 3), np.uint8)
        def loop():
            while True:
                rec.probabilities(x)
        for _ in range(2):
            threading.Thread(target=loop, daemon=True).start()
        time.sleep(1.0)
    """)
    for _ in range(3):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-500:]


def test_block_private_urls_survives_dns_rebinding(server: Server,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The name is checked, then resolved again to connect: a second answer pointing inside the
    network must be refused at the connection, not trusted."""
    port = int(server.url.rsplit(":", 1)[1])
    real = socket.getaddrinfo
    calls = []

    def rebinding(host, *args, **kwargs):
        if host == "rebind.test":
            calls.append(host)
            ip = "93.184.216.34" if len(calls) == 1 else "127.0.0.1"  # public, then loopback
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    guarded = Recognizer(block_private_urls=True, crop="none")
    with pytest.raises(FetchError, match=r"non-public address 127\.0\.0\.1"):
        guarded.predict(f"http://rebind.test:{port}/good.jpg")
    assert len(calls) >= 2


def test_block_private_urls_with_a_custom_fetcher_is_refused() -> None:
    with pytest.raises(ValueError, match="built-in download"):
        Recognizer(fetcher=lambda url: b"", block_private_urls=True)


@pytest.mark.parametrize("returned", ["/etc/hostname", 42, None])
def test_a_fetcher_must_return_bytes(returned: object) -> None:
    r = Recognizer(fetcher=lambda url: returned, crop="none")
    with pytest.raises(FetchError, match="not bytes"):
        r.predict("http://example.org/a.jpg")


def test_a_fetcher_may_return_bytearray(rec: Recognizer) -> None:
    data = _jpeg()
    r = Recognizer(fetcher=lambda url: bytearray(data), crop="none")
    assert r.predict("http://example.org/a.jpg").label == rec.predict(data).label


@pytest.mark.parametrize("kwargs", [{"top_k": 0}, {"top_k": 2.0}, {"top_k": -1}])
def test_bad_top_k_is_refused_before_inference(rec: Recognizer, kwargs: dict) -> None:
    with pytest.raises(ValueError, match="top_k"):
        rec.predict(_jpeg(), **kwargs)


@pytest.mark.parametrize("kwargs", [{"top_k": None}, {"top_k": 2.5}, {"threads": 2.0},
                                    {"threads": "2"}, {"threads": 0}, {"threads": -1},
                                    {"threads": True}])  # 0 meant all CPUs, -1 and True one
def test_bad_constructor_counts_are_value_errors(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Recognizer(crop="none", **kwargs)


def test_predict_many_refuses_one_source_and_bad_counts(rec: Recognizer) -> None:
    # a file object was read line by line (28 Failures), a PIL image or one image's array
    # taken apart; and every check waited for the first result
    ones = ("photo.jpg", b"\xff\xd8", Path("photo.jpg"), io.BytesIO(_jpeg()),
            Image.open(io.BytesIO(_jpeg())), np.zeros((40, 40, 3), np.uint8))
    for one in ones:
        with pytest.raises(TypeError, match="iterable of sources"):
            rec.predict_many(one)
    for kwargs in ({"workers": -2}, {"workers": 0}, {"batch_size": 2.5}, {"batch_size": 0}):
        with pytest.raises(ValueError):
            rec.predict_many([_jpeg()] * 3, **kwargs)
    batch = np.zeros((2, 40, 40, 3), np.uint8)  # a batch of arrays is an iterable of images
    assert [r.ok for r in rec.predict_many(batch)] == [True, True]


def test_predict_many_answers_what_a_failing_iterable_gave(rec: Recognizer) -> None:
    def sources() -> Iterator[object]:
        yield _jpeg()
        yield b"junk"
        yield _jpeg()
        raise RuntimeError("source cursor died")

    got = []
    with pytest.raises(RuntimeError, match="cursor died"):
        got.extend(rec.predict_many(sources()))
    # the three inputs read ahead used to get no result at all
    assert [r.ok for r in got] == [True, False, True]


def test_pil_images_get_their_exif_orientation_like_bytes(rec: Recognizer) -> None:
    data = _jpeg((80, 40), exif_orientation=6)
    from_bytes = rec.pixels(data)
    img = Image.open(io.BytesIO(data))
    assert np.array_equal(rec.pixels(img), from_bytes)
    assert img.size == (80, 40)  # the caller's image is left as it was


def test_empty_path_and_a_raising_name(rec: Recognizer) -> None:
    with pytest.raises(InputError, match="empty path"):
        rec.predict("")

    class Odd:
        @property
        def name(self) -> str:
            raise OSError("no name")

    with pytest.raises(InputError):
        rec.predict(Odd())
    out = list(rec.predict_many([Odd(), _jpeg()]))
    assert not out[0].ok and out[1].ok


def test_an_explicit_backend_must_match_the_file() -> None:
    with pytest.raises(ModelError, match=r"reads \.tflite files"):
        Recognizer(ARTIFACTS / "fingerspell-vgg16-int8.onnx", backend="litert")


def test_litert_interpreters_are_pooled_not_one_per_thread() -> None:
    pytest.importorskip("ai_edge_litert", reason="needs the litert extra")
    from fingerspell.backends.onnx import default_threads

    r = Recognizer(TFLITE, crop="none")
    x = r.pixels(_jpeg())[None]
    want = r.probabilities(x)
    got: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: got.append(r.probabilities(x))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and all(np.array_equal(g, want) for g in got)
    assert 1 <= r.backend._made <= default_threads()  # 70 MB each: bounded by CPUs, not threads


def test_onnx_threads_sleep_between_runs(rec: Recognizer) -> None:
    """The network's and the hand models' sessions do not spin between runs: predict_many finds
    hands in its decoding threads while the network runs, and spinning threads take their CPU."""
    from fingerspell.handmodels import OnnxHands

    def spins(session: object) -> str:
        return session.get_session_options().get_session_config_entry(  # type: ignore[attr-defined]
            "session.intra_op.allow_spinning")

    assert spins(rec.backend.session) == "0"
    hands = OnnxHands(ARTIFACTS, min_confidence=0.5)
    assert spins(hands._palm) == spins(hands._landmarks) == "0"


_FORKED: dict[str, Recognizer] = {}


def _in_child(x: np.ndarray) -> np.ndarray:
    return _FORKED["rec"].probabilities(x)


def test_a_forked_child_predicts_like_its_parent(rec: Recognizer) -> None:
    """From a parent that is not predicting at the fork (README: create a Recognizer per worker
    when a parent's threads may be predicting; a child may not load a session of its own: measured,
    a new onnxruntime session in a forked child hung)."""
    import multiprocessing as mp

    x = rec.pixels(_jpeg())[None]
    want = rec.probabilities(x)
    _FORKED["rec"] = rec
    with mp.get_context("fork").Pool(1) as pool:
        got = pool.apply(_in_child, (x,))
    assert np.allclose(got, want, atol=1e-6)


def test_probabilities_and_spell_refuse_values_they_would_bend(rec: Recognizer) -> None:
    with pytest.raises(ValueError, match="0–255"):
        rec.probabilities(np.full((1, 150, 150, 3), 300.7))
    listed = np.zeros((1, 150, 150, 3), np.uint8).tolist()
    assert np.allclose(rec.probabilities(listed), rec.probabilities(np.array(listed, np.uint8)))
    with pytest.raises(ValueError, match="threshold"):
        rec.spell([], threshold="x")
