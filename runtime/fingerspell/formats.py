"""Files Pillow alone may not read: iPhone HEIC photos, AVIF, and videos given as photos.

An ISO media file (HEIC, AVIF, MP4, MOV) opens with an `ftyp` box naming its brands, so a few
bytes say what it is. HEIC is read through pillow-heif where it is installed (the `heic` extra);
where it is not, and for a video, the user is told what to do instead of "not an image".
"""

from __future__ import annotations

import threading

HEAD_BYTES = 64  # the ftyp box: size, 'ftyp', major brand, version, compatible brands

# HEIF holding HEVC (the iPhone's photos since iOS 11, and many Android phones'); 'mif1' and
# 'msf1' are HEIF's generic brands, which AVIF files list too, so AVIF is looked for first.
HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs",
                         b"mif1", b"msf1"})
AVIF_BRANDS = frozenset({b"avif", b"avis"})
VIDEO_BRANDS = frozenset({b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
                          b"qt  ", b"M4V ", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"dash", b"MSNV"})


def frames_hint(what: str = "it") -> str:
    """How to read a video: as its frames, which `spell` reads in order."""
    return (f"take frames from {what} and pipe them in: ffmpeg -i CLIP -vf fps=5 -f image2pipe "
            "-c:v mjpeg -q:v 2 - | fingerspell spell -")


_heif_lock = threading.Lock()
_heif_registered = False


def kind(head: bytes) -> str | None:
    """'jpeg', 'heic', 'avif' or 'video' for a file starting with `head`, or None for anything
    else."""
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska and WebM
        return "video"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video"
    if head[4:8] != b"ftyp":
        return None
    size = int.from_bytes(head[:4], "big")
    end = min(size, len(head)) if size >= 16 else len(head)
    brands = {head[8:12]} | {head[i:i + 4] for i in range(16, end - 3, 4)}
    if brands & AVIF_BRANDS:
        return "avif"
    if brands & HEIC_BRANDS:
        return "heic"
    if brands & VIDEO_BRANDS:
        return "video"
    return None


def heif_opener() -> bool:
    """Register pillow-heif's opener with Pillow, once per process; False where it is not
    installed. The registration is Pillow's, so an application embedding the runtime reads HEIC
    too afterwards; it happens only when a HEIC file is met."""
    global _heif_registered
    with _heif_lock:
        if not _heif_registered:
            try:
                import pillow_heif
            except ImportError:
                return False
            pillow_heif.register_heif_opener()
            _heif_registered = True
    return True


def unreadable(kind_: str | None) -> str | None:
    """What to tell the user about a file of this kind that Pillow could not identify."""
    if kind_ == "heic" and _heif_registered:
        return "cannot decode image (a HEIC file pillow-heif cannot read: damaged or cut short?)"
    if kind_ == "heic":
        return ("a HEIC photo, which needs pillow-heif to read: pip install pillow-heif "
                "(or save it as JPEG)")
    if kind_ == "avif":
        from PIL import __version__

        return f"an AVIF image, which Pillow {__version__} cannot read: pip install -U pillow"
    if kind_ == "video":
        return f"a video, not a photo: {frames_hint()}"
    return None
