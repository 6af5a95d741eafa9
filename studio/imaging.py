"""Everything the studio does to pixels: safe loading, crops, masks, renditions, metadata.

Plain functions over bytes and PIL images. Nothing here reads settings or touches the
database: limits are parameters with module-level defaults, so callers pass what
their settings say and tests pass what they need.
"""

import hashlib
import io
import math
import struct
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping

from PIL import Image, ImageChops, ImageCms, ImageFilter, ImageOps, UnidentifiedImageError

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_FORMATS = ("PNG", "JPEG", "WEBP")

# A mask painted over (almost) everything is a new picture, not an edit.
MASK_FULL_COVERAGE = 0.995

_MB = 1024 * 1024
_FORMAT_NAMES = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# What Pillow raises on malformed input. Anything decoding untrusted bytes may fail in
# these ways; all of them mean "damaged file" to the person who uploaded it.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error)


class ImageRejected(ValueError):
    """An uploaded file we will not use; str(error) is a sentence to show the user."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class MaskRejected(ImageRejected):
    """A painted mask we cannot use for an edit."""


# --- Safe loading -----------------------------------------------------------------------


def open_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    formats: Iterable[str] = DEFAULT_FORMATS,
) -> Image.Image:
    """Decode untrusted bytes into a fully loaded, upright image, or raise ImageRejected.

    The format is taken from the content, never from a file name. Size limits are
    checked on the header, before any pixel is decoded.
    """
    formats = tuple(f.upper() for f in formats)
    if len(data) > max_bytes:
        raise ImageRejected(
            f"The file is {megabytes(len(data))} MB; the limit is {megabytes(max_bytes)} MB.",
            code="too_large",
        )
    img = _open_header(data, formats)
    width, height = img.size
    if width * height > max_pixels:
        raise ImageRejected(
            f"The image is {width}×{height} pixels; "
            f"the limit is {max_pixels / 1_000_000:g} megapixels.",
            code="too_many_pixels",
        )
    _load_completely(img, data)
    try:
        # Phones store photos sideways plus an orientation tag; make the pixels upright
        # so crops, masks and the browser all agree on what "top" is.
        ImageOps.exif_transpose(img, in_place=True)
    except (*_DECODE_ERRORS, KeyError) as exc:
        raise _damaged() from exc
    return img


def sanitize_upload(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    formats: Iterable[str] = DEFAULT_FORMATS,
) -> bytes:
    """Re-encode an upload as a PNG in sRGB, RGB or RGBA, carrying no metadata at all.

    EXIF (with GPS), XMP, comments and text chunks are dropped; a colour profile is
    applied to the pixels first so that dropping it does not change the colours.
    """
    img = open_image(data, max_bytes=max_bytes, max_pixels=max_pixels, formats=formats)
    return encode_png(_normalize_mode(_to_srgb(img)))


def image_size(data: bytes, *, formats: Iterable[str] = DEFAULT_FORMATS) -> tuple[int, int]:
    """(width, height) as displayed, read from the header without decoding pixels."""
    img = _open_header(data, tuple(f.upper() for f in formats))
    width, height = img.size
    exif = img.info.get("exif")
    if exif:
        try:
            orientation = Image.Exif()
            orientation.load(exif)
            # Orientations 5-8 rotate by a quarter turn, so width and height swap.
            if orientation.get(0x0112) in (5, 6, 7, 8):
                return height, width
        except _DECODE_ERRORS:
            pass  # a broken EXIF block is ignored here, as exif_transpose would
    return width, height


def _open_header(data: bytes, formats: tuple[str, ...]) -> Image.Image:
    """Identify the format by content and parse the header; pixels stay undecoded."""
    try:
        # Pillow's own bomb guard warns above Image.MAX_IMAGE_PIXELS; a warning would let
        # the file through, so it is an error here like its bigger sibling.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=formats)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(
            "The image has far too many pixels to process.", code="too_many_pixels"
        ) from exc
    except UnidentifiedImageError as exc:
        # Pillow says "unidentified" both for a foreign format and for a broken header;
        # the signature tells which message helps the user.
        if _sniff_format(data) in formats:
            raise _damaged() from exc
        raise ImageRejected(
            f"This file is not a {_describe(formats)} image.", code="unsupported_format"
        ) from exc
    except _DECODE_ERRORS as exc:
        raise _damaged() from exc


def _load_completely(img: Image.Image, data: bytes) -> None:
    """Decode all pixels; refuse truncated or corrupt files.

    Pillow refuses truncated files only while ImageFile.LOAD_TRUNCATED_IMAGES is
    False, a process-wide switch any library may flip. So completeness is checked
    here as well, from the bytes, whatever that switch says.
    """
    try:
        img.load()
    except (*_DECODE_ERRORS, Image.DecompressionBombError) as exc:
        raise _damaged() from exc
    if not _is_complete(data, img.format or ""):
        raise _damaged()


def _is_complete(data: bytes, fmt: str) -> bool:
    if fmt == "PNG":
        try:
            # verify() walks every chunk to IEND and checks each CRC.
            with Image.open(io.BytesIO(data), formats=("PNG",)) as again:
                again.verify()
        except (*_DECODE_ERRORS, RuntimeError):
            return False
        return True
    if fmt in ("JPEG", "MPO"):
        return _jpeg_reaches_end(data)
    # libwebp refuses to create a decoder for incomplete data, so a loaded WebP is whole.
    return True


def _jpeg_reaches_end(data: bytes) -> bool:
    """True if the JPEG marker stream runs from SOI to an EOI marker.

    Segments are skipped by their length (so an EXIF thumbnail's own EOI is not
    mistaken for ours); entropy-coded data after SOS is scanned for the next marker.
    """
    end = len(data)
    pos = 2  # after SOI
    while pos + 1 < end:
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:  # EOI
            return True
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            pos += 2
            continue
        if pos + 4 > end:
            return False
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker != 0xDA:  # not SOS: the next marker follows the segment
            continue
        while True:  # entropy-coded data: FF00 is a stuffed byte, FFD0-FFD7 a restart
            pos = data.find(b"\xff", pos)
            if pos < 0 or pos + 1 >= end:
                return False
            following = data[pos + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7:
                pos += 2
            elif following == 0xFF:
                pos += 1
            else:
                break
    return False


def _sniff_format(data: bytes) -> str | None:
    if data.startswith(_PNG_SIGNATURE):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _damaged() -> ImageRejected:
    return ImageRejected("The image file is damaged or incomplete.", code="damaged")


def _describe(formats: tuple[str, ...]) -> str:
    names = [_FORMAT_NAMES.get(f, f) for f in formats]
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} or {names[-1]}"


def megabytes(size: int) -> str:
    # Round up to a tenth so a file just over the limit never reads as equal to it.
    return f"{math.ceil(size * 10 / _MB) / 10:g}"


def _normalize_mode(img: Image.Image) -> Image.Image:
    """The image as RGB, or RGBA when it carries any transparency."""
    if img.mode == "RGBA" or (img.mode == "RGB" and not img.has_transparency_data):
        return img
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        # 16-bit greyscale: a plain convert() clips everything above 255 to white.
        img = img.convert("I").point(lambda value: value / 257).convert("L")
    return img.convert("RGBA" if img.has_transparency_data else "RGB")


_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _to_srgb(img: Image.Image) -> Image.Image:
    """Apply an embedded colour profile (Display P3 photos, CMYK print files) to the pixels.

    Stored images carry no profile, and browsers show untagged images as sRGB.
    """
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK"):
        return img
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(img, source, _SRGB, outputMode=out_mode)
    except (ImageCms.PyCMSError, *_DECODE_ERRORS):
        return img  # an unreadable profile: keep the pixels as they are
    assert converted is not None
    return converted


def _bare(img: Image.Image) -> Image.Image:
    """The same pixels with no metadata attached, so an encoder has nothing to copy."""
    keep = {k: v for k, v in img.info.items() if k == "transparency"}
    if img.info == keep:
        return img
    bare = img.copy()
    bare.info = keep
    return bare


# --- Ratios and crops -------------------------------------------------------------------


def center_crop(img: Image.Image, width: int, height: int) -> Image.Image:
    """Crop the centre to the ratio width:height, then resize to exactly width×height."""
    if width <= 0 or height <= 0:
        raise ValueError("width and height must be positive")
    if img.size == (width, height):
        return img
    src_w, src_h = img.size
    # Integer arithmetic: a float ratio can be off by one pixel on large images.
    if src_w * height > src_h * width:  # too wide: trim the sides
        crop_w = max(1, min(src_w, (src_h * width + height // 2) // height))
        left = (src_w - crop_w) // 2
        box = (left, 0, left + crop_w, src_h)
    else:  # too tall (or exact): trim top and bottom
        crop_h = max(1, min(src_h, (src_w * height + width // 2) // width))
        top = (src_h - crop_h) // 2
        box = (0, top, src_w, top + crop_h)
    cropped = img.crop(box)
    if cropped.size != (width, height):
        cropped = cropped.resize((width, height), Image.Resampling.LANCZOS)
    return cropped


def fit_within(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The size keeping width:height whose longer side is at most max_side (never larger)."""
    if width <= 0 or height <= 0 or max_side <= 0:
        raise ValueError("sizes must be positive")
    longest = max(width, height)
    if longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


# --- Masks ------------------------------------------------------------------------------


def load_painted_mask(
    data: bytes, size: tuple[int, int], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Image.Image:
    """Read the mask painted in the editor as mode "L": 255 = change, 0 = keep.

    Painted means opaque and light; transparent or dark pixels are kept. The mask must
    be a PNG of exactly the image's size, neither empty nor covering everything.
    """
    if len(data) > max_bytes:
        raise MaskRejected(
            f"The mask file is {megabytes(len(data))} MB; the limit is {megabytes(max_bytes)} MB.",
            code="too_large",
        )
    if _sniff_format(data) != "PNG":
        raise MaskRejected("The mask must be a PNG image.", code="unsupported_format")
    damaged = MaskRejected("The mask file is damaged or incomplete.", code="damaged")
    try:
        img = _open_header(data, ("PNG",))
    except ImageRejected as exc:
        raise damaged from exc
    if img.size != tuple(size):
        raise MaskRejected(
            f"The mask is {img.width}×{img.height} but the image is {size[0]}×{size[1]}; "
            "paint the mask on this image again.",
            code="size_mismatch",
        )
    try:
        _load_completely(img, data)
    except ImageRejected as exc:
        raise damaged from exc

    has_alpha = img.has_transparency_data
    rgba = _normalize_mode(img).convert("RGBA")
    painted = rgba.convert("L").point(_threshold(128))
    if has_alpha:
        # A stroke on a transparent canvas: any alpha counts, so soft brush edges are
        # painted. Combined with lightness, so an opaque black background stays "keep".
        painted = ImageChops.darker(painted, rgba.getchannel("A").point(_threshold(1)))

    covered = painted.histogram()[255]
    if covered == 0:
        raise MaskRejected("Paint the area you want to change first.", code="empty")
    if covered >= MASK_FULL_COVERAGE * painted.width * painted.height:
        raise MaskRejected(
            "The mask covers the whole image; use a new generation or variations instead.",
            code="full",
        )
    return painted


def to_openai_mask(mask_l: Image.Image) -> bytes:
    """The mask as OpenAI wants it: an RGBA PNG, transparent (alpha 0) where to edit."""
    alpha = ImageOps.invert(mask_l.convert("L"))
    mask = Image.new("RGBA", mask_l.size, (0, 0, 0, 255))
    mask.putalpha(alpha)
    return encode_png(mask)


def restore_outside_mask(
    source: Image.Image, edited: Image.Image, mask_l: Image.Image, feather: int = 8
) -> Image.Image:
    """Keep the edit only inside the mask; everywhere else put back the source's pixels.

    Engines redraw the whole frame even when given a mask, so what must stay is pasted
    back. The soft edge (feather pixels wide) lies wholly inside the painted area:
    every pixel outside it equals the source exactly.
    """
    if feather < 0:
        raise ValueError("feather must be zero or positive")
    if mask_l.size != source.size:
        raise ValueError(f"mask is {mask_l.size}, source is {source.size}")
    base = source if source.mode in ("RGB", "RGBA", "L", "LA") else _normalize_mode(source)
    mode = base.mode
    if edited.size != source.size:
        edited = edited.resize(source.size, Image.Resampling.LANCZOS)
    if edited.mode != mode:
        edited = edited.convert(mode)

    weight = mask_l.convert("L").point(_threshold(128))
    if feather:
        # Shrink first, then blur by no more than the shrink: the blur's reach ends
        # exactly at the painted boundary, so the ramp never leaks outside.
        shrink, blur = (feather + 1) // 2, feather // 2
        weight = _erode(weight, shrink)
        if blur:
            weight = weight.filter(ImageFilter.BoxBlur(blur))
    return Image.composite(edited, base, weight)


def _threshold(level: int) -> list[int]:
    """A lookup table for Image.point: 255 from level upward, 0 below."""
    return [255 if value >= level else 0 for value in range(256)]


def _erode(mask: Image.Image, radius: int) -> Image.Image:
    """Shrink the white area of a binary "L" mask by radius pixels (square neighbourhood).

    A minimum over shifted copies, rows then columns: far faster than MinFilter on
    large masks. Beyond the frame counts as white, so a mask touching the edge is
    not shrunk away from it.
    """
    for axis in ((1, 0), (0, 1)):
        result = mask
        for step in range(1, radius + 1):
            for sign in (1, -1):
                shifted = Image.new("L", mask.size, 255)
                shifted.paste(mask, (sign * step * axis[0], sign * step * axis[1]))
                result = ImageChops.darker(result, shifted)
        mask = result
    return mask


# --- Renditions and files ---------------------------------------------------------------


def encode_png(img: Image.Image) -> bytes:
    """A PNG of the pixels (and transparency), with no other metadata."""
    buffer = io.BytesIO()
    _bare(img).save(buffer, "PNG", icc_profile=None)
    return buffer.getvalue()


def bare_png(data: bytes) -> bytes | None:
    """An 8-bit RGB or RGBA PNG with every chunk but its pixels (and transparency) dropped:
    what encode_png() writes for the same pixels, without compressing them again (which
    takes a quarter of a second for a 1024×1024 photo). None for any other file, and for
    one with an orientation tag (open_image turned its pixels upright): re-encode those."""
    try:
        chunks = list(_png_chunks(data))
    except ValueError:
        return None
    kinds = {kind for kind, _ in chunks}
    header = chunks[0][1] if chunks[0][0] == b"IHDR" else b""
    # IHDR: width, height, bit depth, colour type (2 RGB, 6 RGBA), compression, filter, interlace
    if len(header) != 13 or header[8] != 8 or header[9] not in (2, 6) or b"eXIf" in kinds:
        return None
    keep = (b"IHDR", b"tRNS", b"IDAT", b"IEND")
    return _PNG_SIGNATURE + b"".join(_chunk(kind, body) for kind, body in chunks if kind in keep)


def webp_rendition(img: Image.Image, max_side: int, quality: int = 80) -> bytes:
    """A small WebP for grids and previews: same aspect, longer side ≤ max_side."""
    size = fit_within(img.width, img.height, max_side)
    small = _normalize_mode(img)
    if size != small.size:
        # reducing_gap=1: shrink by whole factors with a box filter (pixel averages, no
        # aliasing) and resample only the fraction left: 15 times faster than Lanczos over
        # the whole way for a 1024 px image, and at thumbnail size no sharper to the eye.
        small = small.resize(size, Image.Resampling.LANCZOS, reducing_gap=1.0)
    buffer = io.BytesIO()
    # method=0: the least encoder search; at this size the file stays within a few percent
    # of the default's while encoding takes a quarter of the time (docs/benchmarks.md).
    _bare(small).save(buffer, "WEBP", quality=quality, method=0)
    return buffer.getvalue()


def export(img: Image.Image, fmt: str, quality: int = 90) -> bytes:
    """A download in "webp" or "jpeg"; JPEG has no transparency, so alpha goes onto white."""
    if not 1 <= quality <= 100:
        raise ValueError("quality must be between 1 and 100")
    out = _normalize_mode(img)
    buffer = io.BytesIO()
    if fmt == "jpeg":
        if out.mode == "RGBA":
            flat = Image.new("RGB", out.size, (255, 255, 255))
            flat.paste(out, mask=out.getchannel("A"))
            out = flat
        _bare(out).save(buffer, "JPEG", quality=quality, optimize=True)
    elif fmt == "webp":
        _bare(out).save(buffer, "WEBP", quality=quality)
    else:
        raise ValueError(f"unknown export format {fmt!r}; use 'webp' or 'jpeg'")
    return buffer.getvalue()


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of the bytes, for content addressing and deduplication."""
    return hashlib.sha256(data).hexdigest()


# --- The brief in the file's metadata ---------------------------------------------------

# Text values above this are compressed; a brief is usually well below it.
_COMPRESS_TEXT_OVER = 1024
# Bound on a decompressed text value, so a crafted zTXt cannot balloon in memory.
_MAX_TEXT_VALUE = 1024 * 1024
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")


def png_with_metadata(png_bytes: bytes, metadata: Mapping[str, str]) -> bytes:
    """The same PNG with an iTXt chunk per entry; the pixel data is copied untouched.

    Entries replace any text chunk already using the same keyword. The chunks go
    before the image data, where readers that stop at the pixels still find them.
    """
    for key in metadata:
        _check_keyword(key)
    chunks = []
    inserted = False
    for chunk_type, body in _png_chunks(png_bytes):
        if chunk_type in _TEXT_CHUNKS and _text_keyword(body) in metadata:
            continue
        if chunk_type in (b"IDAT", b"IEND") and not inserted:
            chunks.extend(_chunk(b"iTXt", _itxt(k, v)) for k, v in metadata.items())
            inserted = True
        chunks.append(_chunk(chunk_type, body))
    return _PNG_SIGNATURE + b"".join(chunks)


def read_png_metadata(png_bytes: bytes) -> dict[str, str]:
    """Every text entry (tEXt, zTXt, iTXt) of a PNG, keyword -> value."""
    found: dict[str, str] = {}
    for chunk_type, body in _png_chunks(png_bytes):
        if chunk_type not in _TEXT_CHUNKS:
            continue
        try:
            key, value = _read_text_chunk(chunk_type, body)
        except (ValueError, zlib.error):
            continue  # one unreadable entry should not hide the others
        found[key] = value
    return found


def _png_chunks(png_bytes: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, body) of each chunk up to and including IEND."""
    if not png_bytes.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    pos = len(_PNG_SIGNATURE)
    while pos + 8 <= len(png_bytes):
        length, chunk_type = struct.unpack(">I4s", png_bytes[pos : pos + 8])
        body = png_bytes[pos + 8 : pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(png_bytes):
            raise ValueError("truncated PNG file")
        yield chunk_type, body
        if chunk_type == b"IEND":
            return
        pos += 12 + length
    raise ValueError("truncated PNG file")


def _chunk(chunk_type: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(chunk_type + body)
    return struct.pack(">I", len(body)) + chunk_type + body + struct.pack(">I", crc)


def _check_keyword(key: str) -> None:
    # PNG keywords: 1-79 Latin-1 printable characters, no leading/trailing/double spaces.
    try:
        encoded = key.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"PNG keyword must be Latin-1: {key!r}") from None
    if not 1 <= len(encoded) <= 79 or key != key.strip() or "  " in key or "\x00" in key:
        raise ValueError(f"invalid PNG keyword: {key!r}")


def _itxt(key: str, value: str) -> bytes:
    text = value.encode("utf-8")
    compressed = len(text) > _COMPRESS_TEXT_OVER
    if compressed:
        text = zlib.compress(text)
    # keyword, NUL, compression flag and method, empty language tag and translated keyword.
    return key.encode("latin-1") + b"\x00" + bytes([compressed, 0]) + b"\x00\x00" + text


def _text_keyword(body: bytes) -> str:
    return body.split(b"\x00", 1)[0].decode("latin-1")


def _read_text_chunk(chunk_type: bytes, body: bytes) -> tuple[str, str]:
    key_bytes, sep, rest = body.partition(b"\x00")
    if not sep:
        raise ValueError("text chunk without keyword separator")
    key = key_bytes.decode("latin-1")
    if chunk_type == b"tEXt":
        return key, rest.decode("latin-1")
    if chunk_type == b"zTXt":
        return key, _inflate(rest[1:]).decode("latin-1")
    compressed = rest[:1] == b"\x01"
    _language, _translated, text = rest[2:].split(b"\x00", 2)
    return key, (_inflate(text) if compressed else text).decode("utf-8")


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, _MAX_TEXT_VALUE)
    if inflater.unconsumed_tail:
        raise ValueError("text value too large")
    return out


# --- Upscale ----------------------------------------------------------------------------

# Enlarges an image by an integer factor and must return exactly factor × its size.
# Swap in a model-based one (Real-ESRGAN, an API) without touching upscale().
Upscaler = Callable[[Image.Image, int], Image.Image]


def resample_upscaler(img: Image.Image, factor: int) -> Image.Image:
    """Lanczos enlargement with a mild unsharp mask: no model, same frame, more pixels."""
    img = _normalize_mode(img)
    large = img.resize((img.width * factor, img.height * factor), Image.Resampling.LANCZOS)
    # Sharpen colour only: sharpening alpha would ring around transparent edges.
    sharpen = ImageFilter.UnsharpMask(radius=factor / 2, percent=60, threshold=2)
    if large.mode == "RGBA":
        sharpened = large.convert("RGB").filter(sharpen)
        sharpened.putalpha(large.getchannel("A"))
        return sharpened
    return large.filter(sharpen)


UPSCALE_FACTORS = (2, 4)


def upscale(
    img: Image.Image,
    factor: int,
    *,
    max_side: int = 8192,
    upscaler: Upscaler = resample_upscaler,
) -> Image.Image:
    """Enlarge by 2 or 4 with the given upscaler, refusing results above max_side."""
    if factor not in UPSCALE_FACTORS:
        raise ValueError(f"upscale factor must be 2 or 4, not {factor!r}")
    width, height = img.width * factor, img.height * factor
    if max(width, height) > max_side:
        raise ImageRejected(
            f"Upscaling {img.width}×{img.height} by {factor}× would give {width}×{height} "
            f"pixels; the largest side allowed is {max_side} pixels.",
            code="too_many_pixels",
        )
    result = upscaler(img, factor)
    if result.size != (width, height):
        raise ValueError(f"upscaler returned {result.size}, expected {(width, height)}")
    return result
