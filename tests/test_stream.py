"""Images one after another on stdin (ffmpeg's image2pipe, a camera's MJPEG): each is read and
answered, where `predict -` and `spell -` read the first and dropped the rest in silence."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fingerspell.stream import Problem, images


def _img(seed: int, fmt: str = "JPEG", size: tuple[int, int] = (40, 30), **kw) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), np.uint8)).save(buf, fmt, **kw)
    return buf.getvalue()


def _split(data: bytes, limit: int = 10**6) -> list[bytes | Problem]:
    return list(images(io.BytesIO(data), limit))


class Trickle(io.RawIOBase):
    """A pipe that hands out a few bytes a read, as a slow writer does."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step, self.pos = data, step, 0

    def readable(self) -> bool:
        return True

    def read1(self, n: int = -1) -> bytes:
        out = self.data[self.pos:self.pos + min(n, self.step)]
        self.pos += len(out)
        return out


def _with_thumbnail(jpeg: bytes) -> bytes:
    """The JPEG with an APP1 segment holding another whole JPEG, as EXIF keeps a thumbnail."""
    thumb = _img(99, size=(8, 8))
    body = b"Exif\0\0" + thumb
    return jpeg[:2] + b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body + jpeg[2:]


def test_jpegs_pngs_and_ppms_back_to_back_are_cut_where_each_ends() -> None:
    parts = [_with_thumbnail(_img(1)), _img(2, "PNG"), _img(3, "PPM"), _img(4, progressive=True),
             _img(5, "PPM", size=(3, 2)), _img(6)]
    assert _split(b"".join(parts)) == parts
    assert list(images(Trickle(b"".join(parts), 7), 10**6)) == parts  # 7 bytes a read


def test_bmps_and_webps_back_to_back_are_cut_where_each_says_it_ends() -> None:
    bmps = [_img(1, "BMP"), _img(2, "BMP", size=(7, 5))]  # 7 px rows are padded
    webps = [_img(3, "WEBP"), _img(4, "WEBP", size=(9, 3))]
    assert _split(b"".join(bmps)) == bmps and _split(b"".join(webps)) == webps
    # a size field that is wrong, or a trailer, leaves one photo whole, as before
    wrong = bmps[0][:2] + (10).to_bytes(4, "little") + bmps[0][6:]
    assert _split(wrong + bmps[1]) == [wrong + bmps[1]]
    assert _split(bmps[0] + b"trailer") == [bmps[0] + b"trailer"]


def test_one_photo_is_read_whole_with_what_follows_it() -> None:
    jpeg = _img(1)
    assert _split(jpeg) == [jpeg]
    # a trailer after the end (Samsung's, a motion photo's video) belongs to the photo
    assert _split(jpeg + b"\0\0\0\x18ftypmp42" + b"x" * 100) == [jpeg]
    gif = _img(2, "GIF")
    assert _split(gif + _img(3)) == [gif + _img(3)]  # not a kind cut here: read whole, as before
    assert _split(b"") == [b""]


def test_a_jpeg_indexing_pictures_after_it_keeps_them() -> None:
    """MPO, Ultra HDR's gain map: the second JPEG is part of the first photo, not a frame."""
    primary, second = _img(1), _img(2)
    body = b"MPF\0" + b"MM\0\x2a" + b"\0" * 20
    mpo = primary[:2] + b"\xff\xe2" + (len(body) + 2).to_bytes(2, "big") + body + primary[2:]
    assert _split(mpo + second) == [mpo + second]
    xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><Container:Directory/></x:xmpmeta>"
    pixel = primary[:2] + b"\xff\xe1" + (len(xmp) + 2).to_bytes(2, "big") + xmp + primary[2:]
    assert _split(pixel + second) == [pixel + second]


def _names(data: bytes, live: bool = False) -> list[str]:
    from fingerspell.cli.inputs import StdinImages, read

    return [x.name if hasattr(x, "name") and not isinstance(x, str) else f"{x}: {x.reason}"
            for x in read([StdinImages(io.BytesIO(data))], live=live)]


def test_a_smaller_picture_last_is_part_of_the_photo_before_it() -> None:
    """A camera's preview after its photo (a Canon's 640 x 480 behind 3648 x 2736): the photo
    alone, named '-'; a stream's frames are read whatever their sizes."""
    from fingerspell.cli.inputs import StdinImages, read

    photo, preview = _img(1, size=(64, 48)), _img(2, size=(32, 24))
    (got,) = read([StdinImages(io.BytesIO(photo + preview))])
    assert got.name == "-" and got == photo
    assert _names(photo + _img(3, size=(64, 48))) == ["-[1]", "-[2]"]
    # sizes that differ in a stream: every image read (the second, smaller, was taken for a
    # preview, and the rest dropped in silence)
    assert _names(photo + preview + photo + _img(4, size=(80, 60))) == [f"-[{i}]" for i in range(1, 5)]
    assert _names(_img(5, size=(32, 24)) + photo) == ["-[1]", "-[2]"]  # larger: not a preview


def test_stray_bytes_between_images_are_skipped_unsaid() -> None:
    photo = _img(1, size=(64, 48))
    # a stray byte after a camera's EOI (an Olympus D-320L's), before the next photo and at the end
    assert _names((photo + b"\x14") * 2) == ["-[1]", "-[2]"]
    ppm = _img(2, "PPM", size=(64, 48))
    assert _names(ppm + b"\n" + ppm + b"\n" + ppm) == ["-[1]", "-[2]", "-[3]"]  # echo between
    # a JPEG with fill bytes before its frame header still has a size
    filled = photo.replace(b"\xff\xc0", b"\xff\xff\xc0", 1)
    assert Image.open(io.BytesIO(filled)).size == (64, 48)
    assert _names(filled * 3) == ["-[1]", "-[2]", "-[3]"]


def test_a_ppm_header_may_hold_long_comments() -> None:
    ppm = _img(1, "PPM", size=(8, 6))
    commented = ppm[:3] + b"# " + b"c" * 300 + b"\n" + ppm[3:]
    assert Image.open(io.BytesIO(commented)).size == (8, 6)
    assert _split(commented * 3) == [commented] * 3
    # arriving a few bytes at a time, its header is read on until whole
    assert list(images(Trickle(commented * 3, 7), 10**6)) == [commented] * 3


def test_what_is_not_an_image_between_frames_is_skipped_and_said_once() -> None:
    a, b, c = _img(1), _img(2), _img(3)
    got = _split(a + b + b"garbage" * 10 + c)
    assert got[:2] == [a, b] and got[3:] == [c]
    assert isinstance(got[2], Problem) and not got[2].frame and got[2] == (
        "70 bytes after image 2 are not an image, skipped")
    flood = b"\xff\xd8" * 50_000  # SOIs with no image after them: one error, not 50,000
    got = _split(a + b + flood + c)
    assert got[:2] == [a, b] and got[3:] == [c] and "100,000 bytes" in got[2]
    # a frame with an end marker in its scan data: the rest of it is skipped, the next read
    broken = b[:len(b) // 2] + b"\xff\xd9" + b[len(b) // 2:]
    got = _split(a + b + broken + c + a)
    assert got[:2] == [a, b] and got[-2:] == [c, a] and isinstance(got[3], Problem)
    # after one photo, a trailer: ignored, as a decoder ignores it in a file
    assert _split(a + b"garbage" * 10 + c) == [a]


def test_what_goes_wrong_mid_image_is_handed_on() -> None:
    a, b = _img(1), _img(2)
    # the stream ends inside an image: handed on for the decoder to call it truncated
    assert _split(a + b[:-50]) == [a, b[:-50]]
    # an image cut short before the next began (a dropped chunk): the stream reads on
    assert _split(a[:-50] + b + a) == [a[:-50], b, a]


def test_no_image_may_outgrow_the_limit() -> None:
    a = _img(1)
    big = _img(2, size=(400, 400))
    got = _split(a + big + a, limit=len(big) - 1)
    assert got[0] == a and isinstance(got[1], Problem) and got[1].frame and got[2:] == [a]
    assert "more than" in got[1]  # refused in its place, and the stream read on
    for endless in (b"\xff\xd8\xff\xe0\0\x10" + b"\0" * 5000, b"\0" * 5000,
                    b"P6 100000 100000 255\n" + b"\0" * 10):
        (said,) = _split(endless, limit=1000)
        assert isinstance(said, Problem) and "more than 1,000 bytes" in said


def test_a_flood_of_empty_segments_is_refused_at_once() -> None:
    from fingerspell.stream import MAX_SEGMENTS

    flood = b"\xff\xd8" + b"\xff\xfe\0\x02" * (MAX_SEGMENTS + 1)  # 96 MB of these took 15 s
    (said,) = _split(flood)
    assert isinstance(said, Problem) and f"more than {MAX_SEGMENTS:,} segments" in said
    scan = b"\xff\xd8\xff\xda\0\x02" + b"\xff\0" * 50_000 + b"\xff\xd9"  # stuffing: no segments
    assert _split(scan) == [scan]


def test_an_image_is_handed_out_as_soon_as_it_has_arrived() -> None:
    """A camera's next frame is not there yet: the one before must not wait for it."""
    r, w = os.pipe()
    first = _img(1)
    os.write(w, first)
    got: list[bytes | Problem] = []
    reader = open(r, "rb")  # noqa: SIM115 - closed below
    t = threading.Thread(target=lambda: got.append(next(images(reader, 10**6))), daemon=True)
    t.start()
    t.join(60)  # a guard against a hang, not a timing: it waited for the writer to close
    os.close(w)
    t.join(60)
    reader.close()
    assert got == [first]


def _cli(exported: Path, verb: str, data: bytes, *args: str):
    from fingerspell.cli import app

    return CliRunner().invoke(app, [verb, *args, "--model", str(exported / "tiny-int8.onnx"),
                                    "--pose", "none"], input=data)


def test_predict_answers_each_image_on_stdin(exported: Path, tiny_dataset: Path) -> None:
    files = sorted(tiny_dataset.glob("*/*.jpg"))[:3]
    res = _cli(exported, "predict", b"".join(f.read_bytes() for f in files), "-")
    assert res.exit_code == 0, res.output
    rows = [line.split("\t") for line in res.stdout.splitlines()]
    assert [r[0] for r in rows] == ["-[1]", "-[2]", "-[3]"]
    alone = _cli(exported, "predict", b"", *map(str, files))
    assert [r[1:] for r in rows] == [line.split("\t")[1:] for line in alone.stdout.splitlines()]
    one = _cli(exported, "predict", files[0].read_bytes(), "-")
    assert one.stdout.split("\t")[0] == "-"  # a single photo keeps its name


def test_spell_reads_the_stream_as_it_reads_the_frames_as_files(exported: Path,
                                                                 tiny_dataset: Path) -> None:
    files = [f for d in sorted(tiny_dataset.iterdir()) for f in sorted(d.glob("*.jpg"))[:2]]
    streamed = _cli(exported, "spell", b"".join(f.read_bytes() for f in files), "-")
    named = _cli(exported, "spell", b"", *map(str, files))
    assert streamed.exit_code == named.exit_code == 0, streamed.output
    assert streamed.stdout == named.stdout and len(named.stdout.strip()) > 1


def test_a_bad_tail_is_one_error_and_the_images_before_it_answered(exported: Path,
                                                                     tiny_dataset: Path) -> None:
    good = sorted(tiny_dataset.glob("*/*.jpg"))[0].read_bytes()
    res = _cli(exported, "predict", good + good + b"not an image " * 10 + good, "-")
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert [line.split("\t")[0] for line in res.stdout.splitlines()] == ["-[1]", "-[2]", "-[3]"]
    assert "error: -: 130 bytes after image 2 are not an image, skipped" in res.stderr


def test_an_empty_live_feed_is_named_dash() -> None:
    assert _names(b"", live=True) == ["-"]
    assert _names(_img(1), live=True) == ["-[1]"]


def test_the_single_read_limit_is_per_image_now(exported: Path, tiny_dataset: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    good = sorted(tiny_dataset.glob("*/*.jpg"))[0].read_bytes()
    monkeypatch.setattr("fingerspell.cli.inputs.MAX_STREAM_BYTES", len(good) + 10)
    res = _cli(exported, "predict", good * 4, "-")  # four times the limit, each image under it
    assert res.exit_code == 0, res.output
    assert len(res.stdout.splitlines()) == 4


def test_newest_skips_what_came_while_the_reader_was_busy() -> None:
    from fingerspell.live import Feed

    gate = threading.Event()

    def feed():
        yield 1
        gate.wait(60)  # the reader has taken 1 before 2..5 come, all at once
        yield from (2, 3, 4, 5)

    got = []
    newest = Feed(feed(), newest=True)
    for item in newest:
        got.append(item)
        gate.set()
        if item == 1:
            for _ in range(600):  # until the feed has ended (a hang guard, not a timing)
                if newest._done:
                    break
                threading.Event().wait(0.05)
    assert got == [1, 5] and newest.skipped == 3  # the last is always read


def test_newest_raises_the_feeds_error_after_its_items() -> None:
    from fingerspell.live import Feed

    def feed():
        yield "a"
        raise OSError("gone")

    it = iter(Feed(feed(), newest=True))
    assert next(it) == "a"
    with pytest.raises(OSError, match="gone"):
        next(it)


def test_a_live_feed_names_its_first_image_before_the_next_comes() -> None:
    from fingerspell.cli.inputs import StdinImages, read

    r, w = os.pipe()
    os.write(w, _img(1))
    reader = open(r, "rb")  # noqa: SIM115 - closed below
    got: list = []
    t = threading.Thread(target=lambda: got.append(next(read([StdinImages(reader)], live=True))),
                         daemon=True)
    t.start()
    t.join(60)  # a hang guard: without live it waits for a second image to name the first
    os.close(w)
    t.join(60)
    reader.close()
    assert [g.name for g in got] == ["-[1]"]


def test_live_answers_the_newest_and_counts_the_rest(exported: Path, tiny_dataset: Path) -> None:
    files = sorted(tiny_dataset.glob("*/*.jpg"))[:12]
    res = _cli(exported, "predict", b"".join(f.read_bytes() for f in files), "--live", "-")
    assert res.exit_code == 0, res.output
    names = [line.split("\t")[0] for line in res.stdout.splitlines()]
    numbers = [int(n[2:-1]) for n in names]
    assert numbers == sorted(set(numbers)) and numbers[-1] == 12  # in order, the last always read
    skipped = 12 - len(numbers)
    assert (f"note: -: {skipped:,} image" in res.stderr) == (skipped > 0)


@pytest.mark.parametrize("verb", ["predict", "spell"])
def test_live_takes_stdin_alone(exported: Path, tiny_dataset: Path, verb: str) -> None:
    good = str(sorted(tiny_dataset.glob("*/*.jpg"))[0])
    res = _cli(exported, verb, b"", "--live", good)
    assert res.exit_code == 2 and "give - as the only source" in res.output


def test_predict_many_answers_what_a_feed_has_given_before_its_next_comes(
        exported: Path, tiny_dataset: Path) -> None:
    """A stalled pipe or a slow camera: the images that came are answered meanwhile (they were
    held until the next image or the end, and lost on Ctrl-C)."""
    from fingerspell.live import Feed
    from fingerspell.recognizer import Recognizer

    good = sorted(tiny_dataset.glob("*/*.jpg"))[:3]
    more = threading.Event()

    def camera():
        yield from good[:2]
        more.wait(60)  # the next frame has not come
        yield good[2]

    answers = Recognizer(exported / "tiny-int8.onnx", crop="none", pose="none").predict_many(
        Feed(camera()))
    got: list = []
    t = threading.Thread(target=lambda: got.extend(next(answers) for _ in range(2)), daemon=True)
    t.start()
    t.join(60)  # a hang guard: without it both waited for the third
    answered_first = not t.is_alive()
    more.set()
    t.join(60)
    assert answered_first and [r.source for r in got] == [str(p) for p in good[:2]]
    assert [r.source for r in answers] == [str(good[2])]


def test_live_output_into_head_exits_141_without_a_fatal_error(exported: Path,
                                                                tiny_dataset: Path) -> None:
    import subprocess
    import sys

    good = sorted(tiny_dataset.glob("*/*.jpg"))[0].read_bytes()
    proc = subprocess.Popen([sys.executable, "-m", "fingerspell", "predict", "--live", "-",
                             "--model", str(exported / "tiny-int8.onnx"), "--pose", "none"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def camera() -> None:  # frames until the reader is gone, a few seconds at most
        try:
            for _ in range(3000):
                proc.stdin.write(good)
                proc.stdin.flush()
                threading.Event().wait(0.01)
        except OSError:
            pass

    threading.Thread(target=camera, daemon=True).start()
    assert proc.stdout.readline().startswith(b"-[")
    proc.stdout.close()  # `| head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(120) == 141 and "Fatal" not in err and "Traceback" not in err, err


def test_a_ppm_like_header_of_many_spaces_fails_at_once() -> None:
    """Nested repeats in the header's pattern backtracked for hours on 40 spaces (42 bytes)."""
    import subprocess
    import sys

    code = ("import io\nfrom fingerspell.stream import images\n"
            "print(len(list(images(io.BytesIO(b'P6' + b' ' * 40 + b'x'), 10**6))))\n")
    # in a process of its own: a regex that backtracks holds the GIL, so no thread could time it
    # out (a hang guard; 24 spaces took 0.4 s, and each more doubled it)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "1", proc.stderr  # not a header: one image, for the decoder


def test_an_abandoned_feed_lets_its_thread_go(exported: Path, tiny_dataset: Path) -> None:
    from fingerspell.live import Feed
    from fingerspell.recognizer import Recognizer

    good = sorted(tiny_dataset.glob("*/*.jpg"))[0]
    before = threading.active_count()
    answers = Recognizer(exported / "tiny-int8.onnx", crop="none", pose="none").predict_many(
        Feed(iter([good] * 50)))
    next(answers)
    answers.close()  # the caller stopped reading: the feed's thread waited for ever to hand on more
    for _ in range(600):
        if threading.active_count() <= before:
            break
        threading.Event().wait(0.05)
    assert threading.active_count() <= before, [t.name for t in threading.enumerate()]


def test_an_iterator_whose_ready_is_no_method_is_read_as_any_other(exported: Path,
                                                                   tiny_dataset: Path) -> None:
    from fingerspell.recognizer import Recognizer

    class Odd:
        ready = True  # not the feed protocol's method

        def __init__(self, items):
            self.items = iter(items)

        def __iter__(self):
            return self

        def __next__(self):
            return next(self.items)

    good = sorted(tiny_dataset.glob("*/*.jpg"))[:4]
    got = Recognizer(exported / "tiny-int8.onnx", crop="none", pose="none").predict_many(Odd(good))
    assert [r.source for r in got] == [str(p) for p in good]


def test_a_failing_stdout_with_stdin_still_open_exits_1_cleanly(exported: Path,
                                                                 tiny_dataset: Path) -> None:
    import subprocess
    import sys

    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    good = sorted(tiny_dataset.glob("*/*.jpg"))[0].read_bytes()
    with open("/dev/full", "wb") as full:
        proc = subprocess.Popen([sys.executable, "-m", "fingerspell", "predict", "-", "--model",
                                 str(exported / "tiny-int8.onnx"), "--pose", "none"],
                                stdin=subprocess.PIPE, stdout=full, stderr=subprocess.PIPE)
        proc.stdin.write(good * 3)  # and the pipe kept open, as a camera's is
        proc.stdin.flush()
        err = proc.stderr.read().decode()  # until the process has gone
        rc = proc.wait(120)
        proc.stdin.close()
    assert rc == 1 and "No space left" in err and "Fatal" not in err, (rc, err)


def test_a_png_cut_short_mid_stream_ends_where_the_next_begins() -> None:
    """Its chunk lengths ran into the next PNG: 'more than 100,000,000 bytes', and the six good
    frames after it lost."""
    b = _img(2, "PNG", size=(64, 48))
    got = _split(b + b + b[:len(b) // 2] + b * 3)
    assert got[:2] == [b, b] and got[2] == b[:len(b) // 2] and got[3:] == [b] * 3
    # a PPM claiming a giant size, mid-stream: handed on as it is (the decoder refuses its
    # size), the rest read
    claim = b"P6 100000 100000 255\n" + b"\0" * 10
    assert _split(b + b + claim + b, limit=10**6) == [b, b, claim, b]


def test_jpeg_starts_with_no_picture_are_junk_said_once() -> None:
    a, c = _img(1), _img(3)
    flood = b"\xff\xd8\xff\xe0\0\x02" * 20_000  # 20,000 'images' before, an error each
    got = _split(a + a + flood + c)
    assert got[:2] == [a, a] and got[3:] == [c]
    assert got[2] == "120,000 bytes after image 2 are not an image, skipped"
    assert _split(a + a + b"\xff\xd8\xff\xe0\0\x02\xff\xd9" * 3) == [a, a, Problem(
        "24 bytes after image 2 are not an image, skipped", False)]
    lone = b"\xff\xd8\xff\xe0\0\x02\xff\xd9"
    assert _split(lone) == [lone]  # alone: read whole, for the decoder to say what it is


@pytest.mark.parametrize("start", [b"\xff\x00", b"\xff\x01", b"\xff\xd0", b"\xff\xd7", b"\xff\xff"])
def test_scan_data_that_begins_with_0xff_is_no_segment(start: bytes) -> None:
    """Right after a scan's header, 0xFF before stuffing (00), TEM (01), a restart marker (D0-D7)
    or fill (FF) is scan data, not a segment whose length could be read: the image still ends at
    its EOI, and the next is read."""
    scan = b"\xff\xd8\xff\xda\0\x02" + start + b"\xff\xd9"
    nxt = _img(1)
    assert _split(scan + nxt) == [scan, nxt]


def test_stray_bytes_before_the_next_image_are_skipped_up_to_64() -> None:
    """Up to STRAY (64) bytes after a photo's end may stand before the next image, unsaid; more,
    after one photo, are its trailer, and the stream ends there as a file would."""
    a, b = _img(1), _img(2)
    assert _split(a + b"x" * 64 + b) == [a, b]
    assert _split(a + b"x" * 65 + b) == [a]


def test_an_image_of_exactly_the_limit_is_read() -> None:
    a = _img(1)
    assert _split(a + a, limit=len(a)) == [a, a]
    assert isinstance(_split(a + a, limit=len(a) - 1)[0], Problem)
    cut = a[:-50]  # the stream ends inside it: handed on whole at the limit too
    assert _split(cut, limit=len(cut)) == [cut]
    for fmt in ("PNG", "PPM"):
        img = _img(3, fmt)
        assert _split(img + img, limit=len(img)) == [img, img]
    gif = _img(2, "GIF")  # read whole: the same limit
    assert _split(gif, limit=len(gif)) == [gif]
    (said,) = _split(gif, limit=len(gif) - 1)
    assert isinstance(said, Problem) and said.frame  # it stands where a photo was


def test_a_bmp_whose_size_field_is_zero_is_read_whole() -> None:
    from itertools import islice

    bmp = _img(1, "BMP")
    zero = bmp[:2] + bytes(4) + bmp[6:]
    assert list(islice(images(io.BytesIO(zero + bmp), 10**6), 3)) == [zero + bmp]


def test_a_frame_that_is_no_photo_is_numbered_where_it_stood(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An image too large, or one of endless segments, after a first: named as the frame it
    stands for ('-[2]'); past one too large the stream reads on, past the segments it ends."""
    from fingerspell.stream import MAX_SEGMENTS

    a = _img(1)
    big = _img(2, size=(400, 400))
    monkeypatch.setattr("fingerspell.cli.inputs.MAX_STREAM_BYTES", len(big) - 1)
    got = _names(a + big + a)
    assert got[0] == "-[1]" and got[2:] == ["-[3]"]
    assert got[1].startswith("-[2]: an image that is, or says it is, more than")
    monkeypatch.undo()
    flood = b"\xff\xd8" + b"\xff\xfe\0\x02" * (MAX_SEGMENTS + 1)
    got = _names(a + flood + a)
    assert got == ["-[1]", f"-[2]: a JPEG of more than {MAX_SEGMENTS:,} segments on stdin, not a photo"]


def test_what_follows_the_last_of_several_frames_is_said_past_a_few_stray_bytes() -> None:
    a, b = _img(1), _img(2)
    assert _split(a + b + b"x" * 64) == [a, b]  # a camera's stray bytes at the end: unsaid
    got = _split(a + b + b"x" * 65)
    assert got[:2] == [a, b] and len(got) == 3 and not got[2].frame
    assert got[2] == "65 bytes after image 2 are not an image, skipped"


def test_noise_past_the_limit_after_frames_ends_the_stream_and_is_said(
        monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = _img(1), _img(2)
    limit = max(len(a), len(b))
    got = _split(a + b + b"\0" * (3 * limit), limit=limit)
    assert got[:2] == [a, b] and len(got) == 3 and isinstance(got[2], Problem)
    assert got[2] == f"more than {limit:,} bytes after image 2 are not an image; the rest was not read"
    assert not got[2].frame  # no image stood there: not numbered as one
    monkeypatch.setattr("fingerspell.cli.inputs.MAX_STREAM_BYTES", limit)
    assert _names(a + b + b"\0" * (3 * limit))[2].startswith("-: more than")


@pytest.mark.parametrize("fmt", ["PNG", "PPM"])
def test_a_smaller_png_or_ppm_last_is_part_of_the_photo(fmt: str) -> None:
    photo, preview = _img(1, fmt, size=(64, 48)), _img(2, fmt, size=(32, 24))
    assert _names(photo + preview) == ["-"]
    assert _names(preview + photo) == ["-[1]", "-[2]"]


def test_a_frame_cut_short_in_its_header_is_read_as_a_frame() -> None:
    """Its size cannot be read: not taken for a preview, and no error on reading past its end."""
    photo = _img(1, size=(64, 48))
    assert _names(photo + photo[:20]) == ["-[1]", "-[2]"]


def test_a_feed_reads_no_more_than_ahead_items_before_its_reader() -> None:
    from fingerspell.live import Feed

    taken: list[int] = []

    def feed():
        for i in range(50):
            taken.append(i)
            yield i

    f = Feed(feed(), ahead=3)
    for _ in range(1200):  # until its thread waits for room (a hang guard, not a timing)
        with f._cond:
            if f._cond._waiters:  # only the feed's thread waits: this reader does not
                break
        threading.Event().wait(0.05)
    assert len(f._items) == 3 and len(taken) == 4  # three held, the fourth in hand
    assert list(f) == list(range(50))


def test_a_feed_says_whether_its_next_item_is_in_hand() -> None:
    """What predict_many asks before it waits on a feed (fingerspell.live.Feed.ready)."""
    from fingerspell.live import Feed

    first, second = threading.Event(), threading.Event()

    def feed():
        first.wait(60)
        yield 1
        second.wait(60)
        yield 2

    f = Feed(feed())
    assert not f.ready()  # nothing has come yet
    first.set()
    for _ in range(1200):  # until the feed's thread has queued it (a hang guard, not a timing)
        if f._items:
            break
        threading.Event().wait(0.05)
    assert f.ready()  # one in hand, more to come
    assert next(f) == 1 and not f.ready()
    second.set()
    assert list(f) == [2] and f.ready()  # ended: the next ask does not wait


def test_a_jpeg_cut_inside_its_header_is_handed_on() -> None:
    a = _img(1)
    end = 4 + int.from_bytes(a[4:6], "big")  # the end of its first segment (APP0)
    assert _split(a[:end]) == [a[:end]]


def test_the_index_of_pictures_after_a_jpeg_is_looked_for_among_its_headers_only() -> None:
    """An MPF index after the frame header (SOF0) or a comment still counts; after 64 header
    segments, or at damage, the headers are taken for over, and the next image is a frame."""
    primary, second = _img(1), _img(2)
    body = b"MPF\0" + b"MM\0\x2a" + b"\0" * 20
    app2 = b"\xff\xe2" + (len(body) + 2).to_bytes(2, "big") + body
    dht = primary.index(b"\xff\xc4")  # after DQT and SOF0
    assert primary.index(b"\xff\xc0") < dht
    late = primary[:dht] + app2 + primary[dht:]
    assert _split(late + second) == [late + second]
    commented = primary[:2] + b"\xff\xfe\0\x05abc" + app2 + primary[2:]  # a COM before it
    assert _split(commented + second) == [commented + second]
    flood = primary[:2] + b"\xff\xfe\0\x02" * 64 + app2 + primary[2:]
    assert _split(flood + second) == [flood, second]
    # a segment whose length points off the next marker: the headers end there, not the frames
    damaged = primary[:2] + b"\xff\xfe\0\x08abcd" + primary[2:]
    assert _split(damaged + second) == [damaged, second]


def test_frames_with_xmp_of_their_own_are_frames() -> None:
    """Only an XMP that holds a container directory (Pixel, Ultra HDR) makes what follows part of
    the photo; an ordinary XMP packet (a camera's, an editor's) does not."""
    xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><rdf:Description xmp:Rating='3'/></x:xmpmeta>"
    frames = [j[:2] + b"\xff\xe1" + (len(xmp) + 2).to_bytes(2, "big") + xmp + j[2:]
              for j in (_img(1), _img(2), _img(3))]
    assert _split(b"".join(frames)) == frames


def test_a_frame_over_the_limit_arriving_a_byte_at_a_time_is_refused() -> None:
    """However the bytes arrive, an image with no end in `limit` bytes is refused: not handed on
    cut short, as if the stream had ended, with the rest dropped."""
    a = _img(1)
    big = _img(2, size=(200, 200))
    got = list(images(Trickle(a + big + a, 1), len(big) - 1))
    assert got[0] == a and len(got) == 2 and isinstance(got[1], Problem) and got[1].frame
