"""Images one after another on one stream, read one at a time as they arrive.

`ffmpeg -i clip.mp4 -vf fps=5 -f image2pipe -c:v mjpeg -q:v 2 -` and a camera's MJPEG output
(`rpicam-vid -t 0 --codec mjpeg -o -`) write JPEGs back to back; `-c:v png` and `-c:v ppm` write
PNGs and PPMs. Reading such a stream as one photo read its first picture and dropped the rest in
silence. Each image here is cut at its own end (a JPEG's segments and scans, a PNG's chunks, a
PPM's header), so an image is answered as soon as it has arrived and memory holds one at a time.

Anything else (a GIF, a TIFF, bytes that are no image) is read whole, as one photo, as before;
BMPs and WebPs, whose headers state their size, are then cut where each says it ends.
So is a JPEG whose header indexes pictures stored after it (MPO, Ultra HDR's gain map, a Pixel's
depth map): they belong to that photo, not to a stream.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

PNG = b"\x89PNG\r\n\x1a\n"
CHUNK = 1 << 16
STRAY = 64  # bytes after an image's end that may stand before the next image, unsaid
MAX_SEGMENTS = 10_000  # a progressive photo has a few dozen; 96 MB of empty ones took 15 s
HEADER = 4096  # the most a PPM header may take, comments included

# in scan data 0xFF comes only before 0x00 (stuffing), a restart marker, TEM or more 0xFF (fill)
_IN_SCAN = frozenset((0x00, 0x01, 0xFF, *range(0xD0, 0xD8)))
_MARKER = re.compile(rb"\xff[^\x00\x01\xd0-\xd7\xff]")
# where an image may begin: a JPEG's SOI and a segment's marker (FF D8 FF D8 … is no image), a
# PNG's signature, a PPM's or PGM's header without comments
_JPEG_START = re.compile(rb"\xff\xd8\xff[^\x00\x01\xd0-\xd9]")
_START = re.compile(_JPEG_START.pattern + rb"|\x89PNG\r\n\x1a\n|P[56]\s+\d+\s+\d+\s+\d+\s")
# `(?:\s|#…)+`, not `(?:\s+|#…)+`: nested repeats backtrack for hours on 40 spaces and no digit
_PPM_HEADER = re.compile(rb"P[56](?:\s|#[^\n]*\n)+(\d+)(?:\s|#[^\n]*\n)+(\d+)"
                         rb"(?:\s|#[^\n]*\n)+(\d+)\s")


class Problem(str):
    """Something on the stream that is not an image. `frame`: it stands where an image was
    (one too large or garbled to find its end), and the stream ends with it; else bytes between
    images were skipped, and reading goes on."""

    frame: bool

    def __new__(cls, text: str, frame: bool) -> Problem:
        obj = super().__new__(cls, text)
        obj.frame = frame
        return obj


class _Buffer:
    """The stream's bytes not yet handed out, read with read1 where the stream has it: a camera
    writes a frame at a time, and read(n) would wait for n bytes, a frame or more behind."""

    def __init__(self, fp: BinaryIO) -> None:
        self.read = getattr(fp, "read1", None) or fp.read
        self.data = bytearray()
        self.ended = False

    def fill(self, n: int) -> bool:
        """At least n bytes in hand, or False where the stream ended before."""
        while len(self.data) < n and not self.ended:
            got = self.read(CHUNK)
            if got:
                self.data += got
            else:
                self.ended = True
        return len(self.data) >= n

    def find_marker(self, pos: int, limit: int) -> int:
        """Where the next marker at or after pos begins (0xFF and a byte that is not stuffing,
        a restart or fill), reading on as needed; -1 at the stream's end or past the limit."""
        while True:
            found = _MARKER.search(self.data, pos)
            if found:
                return found.start()
            pos = max(pos, len(self.data) - 1)  # a last 0xFF may begin a marker not yet read
            if len(self.data) > limit or not self.fill(len(self.data) + 1):
                return -1

    def find_start(self, pos: int, limit: int) -> int:
        """Where the next image begins at or after pos, reading on as needed; -1 at the
        stream's end or past the limit."""
        while True:
            found = _START.search(self.data, pos)
            if found:
                return found.start()
            pos = max(pos, len(self.data) - 24)  # a start may straddle the next read
            if len(self.data) > limit or not self.fill(len(self.data) + 1):
                return -1

    def take(self, n: int) -> bytes:
        out = bytes(self.data[:n])
        del self.data[:n]
        return out

    def skip_to_image(self, limit: int) -> int | None:
        """Drops bytes up to where the next image begins, or all of them at the stream's end;
        how many, or None past the limit (a stream of noise is not read for ever)."""
        at = self.find_start(0, limit)
        if at < 0 and len(self.data) > limit:
            return None
        skipped = at if at >= 0 else len(self.data)
        del self.data[:skipped]
        return skipped


class _TooBig(Exception):
    pass


class _Garbled(Exception):
    pass


class _NoScan(Exception):
    """A JPEG start that ends, or meets the next start, before any picture data: junk (a flood
    of `FF D8 FF E0 00 02` was 20,000 'images', an error each)."""

    def __init__(self, at: int) -> None:
        self.at = at


def images(fp: BinaryIO, limit: int, name: str = "the stream") -> Iterator[bytes | Problem]:
    """The images on fp in order, each as its bytes, and a Problem for what is not one.

    An image cut short by the stream's end is handed out as it is, for the decoder to say so;
    one cut short by the next image (a PNG's chunks running into it) ends where that begins.
    No image may be over `limit` bytes: with no end to find (`/dev/zero`) memory stays bounded.
    After one photo, what is not an image is its trailer (Samsung's, a motion photo's video),
    ignored as a decoder ignores it; after several, it is skipped to the next image and said
    once.
    """
    buf = _Buffer(fp)
    kind = _head(buf)
    if kind is None or (kind == "jpeg" and _indexes_more(buf, limit)):
        yield from _whole(buf, limit, name)
        return
    count = junk = 0  # images handed out; bytes skipped since the last, said before the next

    def said() -> Iterator[Problem]:
        nonlocal junk
        if junk and count:
            yield Problem(f"{junk:,} bytes after image {count} are not an image, skipped", False)
        junk = 0

    while kind is not None:
        try:
            end = _END[kind](buf, limit)
            if (len(buf.data) if end is None else end) > limit:
                raise _TooBig
        except _NoScan as cut:
            if count == 0 and not junk:  # no image first: read whole, for the decoder to say
                yield from _whole(buf, limit, name)
                return
            junk += cut.at
            del buf.data[:cut.at]
            end = -1
        except _TooBig:  # or says it is (a PNG chunk's length, a PPM's size): cut short?
            end = buf.find_start(1, limit)  # where the next image begins, this one ends
            if end < 0 or end > limit:
                yield from said()
                count += 1
                yield Problem(f"an image that is, or says it is, more than {limit:,} bytes on "
                              f"{name}, not a photo", True)
                if end < 0:
                    return
                del buf.data[:end]  # and on to the next
                end = -1
        except _Garbled:
            yield from said()
            yield Problem(f"a JPEG of more than {MAX_SEGMENTS:,} segments on {name}, not a photo",
                          True)
            return
        if end != -1:
            yield from said()
            count += 1
            yield buf.take(end if end is not None else len(buf.data))
            if end is None:  # the stream ended inside it
                return
        kind = _head(buf) or _skip_stray(buf)
        while kind is None and buf.data:
            if count <= 1 or (buf.ended and len(buf.data) <= STRAY):
                return  # a photo's trailer, or a camera's stray bytes at the end
            skipped = buf.skip_to_image(limit)
            if skipped is None:
                junk += limit
                yield Problem(f"more than {junk:,} bytes after image {count} are not an image; "
                              "the rest was not read", False)
                return
            junk += skipped
            kind = _head(buf)
            if kind is None and buf.data:  # a start that is no image after all
                del buf.data[:1]
                junk += 1
    yield from said()


def stored_after(photo: bytes, other: bytes) -> bool:
    """Whether `other` looks like a picture a camera stored after `photo` (a preview, a gain
    map), not the next frame of a stream: smaller, where a stream's frames share one size."""
    a, b = _size(photo), _size(other)
    return a is not None and b is not None and b[0] * b[1] < a[0] * a[1]


_SOF = frozenset((0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF))


def _size(data: bytes) -> tuple[int, int] | None:
    """Width and height from an image's header, or None."""
    if data.startswith(PNG) and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    head = _PPM_HEADER.match(data[:HEADER])
    if head:
        return int(head.group(1)), int(head.group(2))
    if _kind(data) != "jpeg":
        return None
    pos = 2
    for _ in range(MAX_SEGMENTS):
        while data[pos + 1:pos + 2] == b"\xff":  # fill bytes before a marker
            pos += 1
        if pos + 9 > len(data) or data[pos] != 0xFF or data[pos + 1] == 0xDA:
            return None
        if data[pos + 1] in _SOF:
            return (int.from_bytes(data[pos + 7:pos + 9], "big"),
                    int.from_bytes(data[pos + 5:pos + 7], "big"))
        pos += 2 + max(int.from_bytes(data[pos + 2:pos + 4], "big"), 2)
    return None


def _skip_stray(buf: _Buffer) -> str | None:
    """Drops the few bytes some cameras leave after a JPEG's end (an Olympus wrote one, `echo`
    a newline) where the next image begins right after them, and says what begins there; a
    longer trailer stays."""
    buf.fill(STRAY + 24)
    found = _START.search(buf.data, 0, STRAY + 24)
    if found is None or found.start() > STRAY:
        return None
    del buf.data[:found.start()]
    return _head(buf)


def _head(buf: _Buffer) -> str | None:
    """What kind of image begins the buffer, reading as much of it as that takes (a PPM's header
    may hold comments), and no more: a small image must not wait for the next."""
    buf.fill(len(PNG))
    if buf.data[:2] in (b"P5", b"P6"):
        while (_PPM_HEADER.match(buf.data[:HEADER]) is None and len(buf.data) < HEADER
               and buf.fill(len(buf.data) + 1)):
            pass
    return _kind(buf.data)


def _whole(buf: _Buffer, limit: int, name: str) -> Iterator[bytes | Problem]:
    buf.fill(limit + 1)
    if len(buf.data) > limit:
        yield Problem(f"more than {limit:,} bytes on {name}, not a photo", True)
    else:
        yield from _by_stated_size(buf.take(len(buf.data)))


def _by_stated_size(data: bytes) -> Iterator[bytes]:
    """BMPs and WebPs back to back (`-c:v bmp`, `-c:v libwebp`), cut where each says it ends,
    once all is read: only where the next one's signature follows, so that a photo whose size
    field is wrong, or that has a trailer, stays whole."""
    pos = 0
    while True:
        size = _stated_size(data, pos)
        if size is None or size <= 0 or _stated_size(data, pos + size) is None:
            yield data[pos:]
            return
        yield data[pos:pos + size]
        pos += size


def _stated_size(data: bytes, pos: int) -> int | None:
    if data.startswith(b"BM", pos) and len(data) >= pos + 14:
        return int.from_bytes(data[pos + 2:pos + 6], "little")
    if data.startswith(b"RIFF", pos) and data.startswith(b"WEBP", pos + 8):
        size = 8 + int.from_bytes(data[pos + 4:pos + 8], "little")
        return size + size % 2  # RIFF pads a chunk to an even length
    return None


def _kind(head: bytes | bytearray) -> str | None:
    if _JPEG_START.match(head):
        return "jpeg"
    if head.startswith(PNG):
        return "png"
    if _PPM_HEADER.match(head[:HEADER]):
        return "ppm"
    return None


def _jpeg_end(buf: _Buffer, limit: int) -> int | None:
    """Where the JPEG at the buffer's start ends: past its EOI, or where a new image's SOI shows
    it was cut short. Segments are skipped by their length (an EXIF thumbnail's own SOI and EOI
    sit inside one); scan data holds 0xFF only as FF00, a restart marker or fill."""
    pos = 2
    scanned = False  # picture data met: without it, an end is junk's end (_NoScan)
    for _ in range(MAX_SEGMENTS):
        if pos > limit:
            raise _TooBig
        if not buf.fill(pos + 2):
            return None
        marker = buf.data[pos + 1]
        if buf.data[pos] != 0xFF or marker in _IN_SCAN:  # scan data, or damage
            pos = buf.find_marker(pos, limit)
            if pos < 0:
                if len(buf.data) > limit:
                    raise _TooBig
                return None
        elif marker == 0xD9:
            if not scanned:
                raise _NoScan(pos + 2)
            return pos + 2
        elif marker == 0xD8:
            if not scanned:
                raise _NoScan(pos)
            return pos  # the next image began before this one's EOI
        else:
            if not buf.fill(pos + 4):
                return None
            length = int.from_bytes(buf.data[pos + 2:pos + 4], "big")
            pos += 2 + max(length, 2)
            scanned = scanned or marker == 0xDA
    raise _Garbled


def _indexes_more(buf: _Buffer, limit: int) -> bool:
    """Whether the JPEG's header says pictures stored after its EOI are part of it: an MPF index
    (APP2) or an XMP container directory (APP1), as Ultra HDR and Pixel photos carry."""
    pos = 2
    for _ in range(64):  # MPF and XMP sit among the first segments; a flood of tiny ones ends here
        if not buf.fill(pos + 4) or buf.data[pos] != 0xFF or pos > limit:
            return False
        marker = buf.data[pos + 1]
        if marker == 0xDA or not 0xC0 <= marker <= 0xFE or 0xD0 <= marker <= 0xD9:
            return False  # the scan starts, or no header segment: headers are over
        length = int.from_bytes(buf.data[pos + 2:pos + 4], "big")
        if marker in (0xE1, 0xE2):
            buf.fill(pos + 2 + length)
            body = bytes(buf.data[pos + 4:pos + 2 + length])
            if body.startswith(b"MPF\0") or (body.startswith(b"http://ns.adobe.com/xap/")
                                              and _CONTAINER.search(body)):
                return True
        pos += 2 + max(length, 2)
    return False


_CONTAINER = re.compile(rb"Container:Directory|GContainer")


def _png_end(buf: _Buffer, limit: int) -> int | None:
    pos = len(PNG)
    while True:
        if not buf.fill(pos + 8):
            return None
        length = int.from_bytes(buf.data[pos:pos + 4], "big")
        ctype = bytes(buf.data[pos + 4:pos + 8])
        pos += 12 + length  # length, type, data, CRC
        if pos > limit or not ctype.isalpha():  # no chunk there: this PNG was cut short
            raise _TooBig
        if ctype == b"IEND":
            return pos if buf.fill(pos) else None


def _ppm_end(buf: _Buffer, limit: int) -> int | None:
    head = _PPM_HEADER.match(buf.data[:HEADER])
    if head is None:  # _head saw one; gone only where the stream ended inside it
        return None
    width, height, maxval = (int(g) for g in head.groups())
    depth = (3 if buf.data[1:2] == b"6" else 1) * (2 if maxval > 255 else 1)
    end = head.end() + width * height * depth
    if end > limit:
        raise _TooBig
    return end if buf.fill(end) else None


_END = {"jpeg": _jpeg_end, "png": _png_end, "ppm": _ppm_end}
