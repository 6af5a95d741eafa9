"""Pixels: safe loading, crops, masks and compositing, renditions, PNG metadata, upscale."""

import io
import json
import random
import struct
import zlib

import pytest
from PIL import ExifTags, Image, ImageChops, ImageCms, ImageDraw, ImageFile, PngImagePlugin

from studio.imaging import (
    DEFAULT_MAX_BYTES,
    ImageRejected,
    MaskRejected,
    center_crop,
    encode_png,
    export,
    fit_within,
    image_size,
    load_painted_mask,
    open_image,
    png_with_metadata,
    read_png_metadata,
    restore_outside_mask,
    sanitize_upload,
    sha256_hex,
    to_openai_mask,
    upscale,
    webp_rendition,
)

MB = 1024 * 1024


# --- Helpers: every test image is made here, in memory ----------------------------------


def encode(img: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def noise(size: tuple[int, int], mode: str = "RGB", seed: int = 1) -> Image.Image:
    """Deterministic noise: compresses badly, so truncating the file cuts real pixel data."""
    bands = len(mode)
    data = random.Random(seed).randbytes(size[0] * size[1] * bands)
    return Image.frombytes(mode, size, data)


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of each chunk, read independently of the code under test."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def png_claiming_size(width: int, height: int) -> bytes:
    """A valid-looking 4×4 PNG whose IHDR (with a correct CRC) claims another size.

    Its pixel data is for 4×4 only: decoding it at the claimed size fails as "damaged",
    so a "too many pixels" error proves the refusal came before any decoding.
    """
    data = bytearray(encode(noise((4, 4)), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def mask_png(size, box, *, mode="RGBA", background=(0, 0, 0, 0), paint=(255, 255, 255, 255)):
    """A painted mask as the browser editor sends it: a filled rectangle on a canvas."""
    canvas = Image.new(mode, size, background)
    if box is not None:
        ImageDraw.Draw(canvas).rectangle(box, fill=paint)
    return encode(canvas, "PNG")


def rect_mask(size, box) -> Image.Image:
    """Mode "L" mask, 255 inside box = (left, top, right, bottom) exclusive."""
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    return mask


# --- Safe loading -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_open_image_decodes_allowed_formats_fully(fmt):
    img = open_image(encode(noise((64, 48)), fmt))
    assert img.size == (64, 48)
    assert img.format == fmt
    assert img.getpixel((0, 0)) is not None  # loaded: pixels are readable


def test_format_comes_from_content_not_name():
    # There is no file name to trust: PNG bytes (whatever the upload was called) are PNG.
    assert open_image(encode(noise((8, 8)), "PNG")).format == "PNG"
    assert open_image(encode(noise((8, 8)), "JPEG")).format == "JPEG"


@pytest.mark.parametrize(
    "data",
    [
        b"Hello, this is a text file pretending to be a picture.\n" * 10,
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n",
        encode(noise((16, 16)).convert("P"), "GIF"),
        encode(noise((16, 16)), "BMP"),
        b"",
    ],
    ids=["text", "pdf", "gif", "bmp", "empty"],
)
def test_other_formats_are_refused(data):
    with pytest.raises(ImageRejected) as caught:
        open_image(data)
    assert str(caught.value) == "This file is not a PNG, JPEG or WebP image."
    assert caught.value.code == "unsupported_format"


def test_allowed_formats_are_a_parameter():
    with pytest.raises(ImageRejected, match=r"^This file is not a PNG image\.$"):
        open_image(encode(noise((8, 8)), "JPEG"), formats=("PNG",))


def test_byte_limit_is_checked_first():
    with pytest.raises(ImageRejected) as caught:
        open_image(b"\0" * (30 * MB))
    assert str(caught.value) == "The file is 30 MB; the limit is 20 MB."
    assert caught.value.code == "too_large"
    assert DEFAULT_MAX_BYTES == 20 * MB


def test_byte_limit_never_shows_a_file_just_over_as_equal():
    with pytest.raises(ImageRejected, match=r"^The file is 1\.1 MB; the limit is 1 MB\.$"):
        open_image(b"\0" * (MB + 1), max_bytes=MB)


def test_pixel_limit_is_checked_from_the_header_before_decoding():
    with pytest.raises(ImageRejected) as caught:
        open_image(png_claiming_size(8000, 6000))
    assert str(caught.value) == "The image is 8000×6000 pixels; the limit is 40 megapixels."
    assert caught.value.code == "too_many_pixels"  # not "damaged": nothing was decoded


def test_decompression_bomb_is_refused_without_decoding():
    with pytest.raises(ImageRejected) as caught:
        open_image(png_claiming_size(50_000, 50_000))
    assert caught.value.code == "too_many_pixels"


def test_pillows_bomb_warning_counts_as_a_refusal():
    # 100 megapixels: above Pillow's warning threshold, below its error threshold, and
    # allowed by our own limit here, so only Pillow's guard can refuse it.
    assert Image.MAX_IMAGE_PIXELS < 100_000_000 < 2 * Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageRejected) as caught:
        open_image(png_claiming_size(10_000, 10_000), max_pixels=10**9)
    assert caught.value.code == "too_many_pixels"


def test_pixel_limit_is_a_parameter():
    with pytest.raises(ImageRejected, match=r"the limit is 0\.005 megapixels"):
        open_image(encode(noise((100, 100)), "PNG"), max_pixels=5_000)


@pytest.mark.parametrize("load_truncated", [False, True], ids=["strict", "lenient-global"])
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_files_are_refused(fmt, load_truncated, monkeypatch):
    # Another library may flip Pillow's global switch; truncation must still be caught.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", load_truncated)
    data = encode(noise((128, 96)), fmt)
    with pytest.raises(ImageRejected) as caught:
        open_image(data[: len(data) * 2 // 3])
    assert str(caught.value) == "The image file is damaged or incomplete."
    assert caught.value.code == "damaged"


def test_png_with_a_corrupt_checksum_is_refused():
    data = bytearray(encode(noise((32, 32)), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF  # flip pixel bytes; the chunk's CRC no longer matches
    with pytest.raises(ImageRejected, match="damaged or incomplete"):
        open_image(bytes(data))


def test_png_signature_with_garbage_is_damaged_not_foreign():
    with pytest.raises(ImageRejected) as caught:
        open_image(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    assert caught.value.code == "damaged"


@pytest.mark.parametrize(
    "options",
    [{}, {"progressive": True}, {"restart_marker_blocks": 1}, {"quality": 100}],
    ids=["baseline", "progressive", "restart-markers", "q100"],
)
def test_complete_jpegs_pass_the_completeness_check(options, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = encode(noise((120, 80)), "JPEG", **options)
    assert open_image(data).size == (120, 80)
    # Bytes after the end marker (phones append videos this way) are not truncation.
    assert open_image(data + b"\x00trailing data").size == (120, 80)


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # stored sideways, shown rotated 90°
    data = encode(noise((40, 20)), "JPEG", exif=exif)
    assert open_image(data).size == (20, 40)
    assert image_size(data) == (20, 40)


def test_image_size_reads_only_the_header():
    # The pixel data here is for 4×4; a decode at 8000×6000 would fail.
    assert image_size(png_claiming_size(8000, 6000)) == (8000, 6000)
    assert image_size(encode(noise((30, 10)), "WEBP")) == (30, 10)
    with pytest.raises(ImageRejected):
        image_size(b"not an image")


# --- sanitize_upload --------------------------------------------------------------------


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCo"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 22.0, 7.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (4.0, 53.0, 11.0)
    data = encode(noise((64, 48)), "JPEG", exif=exif, comment=b"shot at home")
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # precondition
    return data


def test_sanitize_upload_strips_exif_and_gps():
    clean = sanitize_upload(jpeg_with_gps())
    img = decode(clean)
    assert img.format == "PNG"
    assert img.mode == "RGB"
    assert not img.getexif()
    assert "exif" not in img.info and "comment" not in img.info
    assert [kind for kind, _ in png_chunks(clean)] == [b"IHDR", b"IDAT", b"IEND"]
    assert b"PhoneCo" not in clean


def test_sanitize_upload_strips_png_text_and_keeps_pixels():
    source = noise((40, 30), "RGBA")
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "someone")
    info.add_itxt("Comment", "private note")
    clean = sanitize_upload(encode(source, "PNG", pnginfo=info))
    assert read_png_metadata(clean) == {}
    assert decode(clean).tobytes() == source.tobytes()


@pytest.mark.parametrize(
    ("make", "fmt", "expected_mode"),
    [
        (lambda: noise((16, 16)).convert("P"), "PNG", "RGB"),
        (lambda: noise((16, 16), "L"), "PNG", "RGB"),
        (lambda: noise((16, 16), "LA"), "PNG", "RGBA"),
        (lambda: noise((16, 16), "CMYK"), "JPEG", "RGB"),
    ],
    ids=["palette", "grey", "grey-alpha", "cmyk"],
)
def test_sanitize_upload_converts_to_rgb_or_rgba(make, fmt, expected_mode):
    assert decode(sanitize_upload(encode(make(), fmt))).mode == expected_mode


def test_sanitize_upload_keeps_palette_transparency_as_alpha():
    img = Image.new("P", (8, 8), 0)
    img.putpalette([255, 0, 0, 0, 255, 0])
    img.paste(1, (0, 0, 4, 8))
    clean = decode(sanitize_upload(encode(img, "PNG", transparency=0)))
    assert clean.mode == "RGBA"
    assert clean.getpixel((6, 0))[3] == 0
    assert clean.getpixel((1, 0)) == (0, 255, 0, 255)


def test_sanitize_upload_scales_16_bit_grey_instead_of_clipping():
    img = Image.new("I;16", (3, 1))
    img.putdata([0, 32896, 65535])
    clean = decode(sanitize_upload(encode(img, "PNG")))
    assert [clean.getpixel((x, 0)) for x in range(3)] == [(0, 0, 0), (128,) * 3, (255,) * 3]


def test_sanitize_upload_applies_and_drops_the_colour_profile():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = Image.new("RGB", (8, 8), (200, 120, 40))
    clean = sanitize_upload(encode(source, "PNG", icc_profile=srgb))
    assert b"iCCP" not in [kind for kind, _ in png_chunks(clean)]
    red, green, blue = decode(clean).getpixel((0, 0))
    assert abs(red - 200) <= 2 and abs(green - 120) <= 2 and abs(blue - 40) <= 2


def test_sanitize_upload_applies_limits():
    with pytest.raises(ImageRejected):
        sanitize_upload(encode(noise((100, 100)), "PNG"), max_pixels=100)


# --- Ratios and crops -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ((1536, 1024), (1536, 864)),  # 3:2 native -> 16:9, crop only
        ((1024, 1536), (864, 1536)),  # 2:3 native -> 9:16, crop only
        ((1024, 1024), (1920, 1080)),  # crop then enlarge
        ((4000, 3000), (800, 800)),  # crop then shrink
        ((7, 5), (3, 3)),
    ],
)
def test_center_crop_gives_exact_size(source, target):
    assert center_crop(noise(source), *target).size == target


def test_center_crop_takes_the_centre():
    img = noise((1536, 1024))
    assert center_crop(img, 1536, 864).tobytes() == img.crop((0, 80, 1536, 944)).tobytes()
    wide = noise((300, 100))
    assert center_crop(wide, 100, 100).tobytes() == wide.crop((100, 0, 200, 100)).tobytes()


def test_center_crop_returns_an_exact_image_as_is():
    img = noise((64, 64))
    assert center_crop(img, 64, 64) is img


def test_fit_within():
    assert fit_within(2000, 1000, 512) == (512, 256)
    assert fit_within(1000, 2000, 512) == (256, 512)
    assert fit_within(300, 200, 512) == (300, 200)  # never enlarged
    assert fit_within(10_000, 3, 100) == (100, 1)  # never zero
    with pytest.raises(ValueError):
        fit_within(0, 10, 10)


# --- Masks ------------------------------------------------------------------------------


def test_painted_mask_from_strokes_on_transparent_canvas():
    mask = load_painted_mask(mask_png((64, 48), (10, 10, 29, 19)), (64, 48))
    assert mask.mode == "L" and mask.size == (64, 48)
    assert mask.getpixel((15, 15)) == 255
    assert mask.getpixel((5, 5)) == 0
    assert mask.histogram()[255] == 20 * 10
    assert mask.histogram()[0] + mask.histogram()[255] == 64 * 48  # binary


def test_painted_mask_white_on_opaque_black():
    data = mask_png((64, 48), (0, 0, 9, 9), background=(0, 0, 0, 255))
    assert load_painted_mask(data, (64, 48)).histogram()[255] == 100


def test_painted_mask_without_alpha_uses_lightness():
    data = mask_png((64, 48), (0, 0, 9, 9), mode="L", background=0, paint=255)
    assert load_painted_mask(data, (64, 48)).histogram()[255] == 100


def test_painted_mask_soft_brush_edge_counts_as_painted():
    data = mask_png((64, 48), (0, 0, 9, 9), paint=(255, 255, 255, 20))
    assert load_painted_mask(data, (64, 48)).histogram()[255] == 100


def test_mask_must_match_the_image_size():
    with pytest.raises(MaskRejected) as caught:
        load_painted_mask(mask_png((512, 512), (0, 0, 9, 9)), (1024, 1024))
    assert str(caught.value) == (
        "The mask is 512×512 but the image is 1024×1024; paint the mask on this image again."
    )


@pytest.mark.parametrize(
    "data",
    [
        mask_png((32, 32), None),  # transparent
        mask_png((32, 32), None, background=(0, 0, 0, 255)),  # black
        mask_png((32, 32), (0, 0, 31, 31), paint=(255, 255, 255, 0)),  # white but invisible
    ],
    ids=["transparent", "black", "invisible-white"],
)
def test_empty_mask_is_refused(data):
    with pytest.raises(MaskRejected, match=r"^Paint the area you want to change first\.$"):
        load_painted_mask(data, (32, 32))


def test_mask_covering_everything_is_refused():
    # 200×200 with a 1-pixel unpainted corner: 99.9975% painted.
    data = mask_png((200, 200), (0, 0, 199, 199), background=(0, 0, 0, 0))
    canvas = decode(data)
    canvas.putpixel((0, 0), (0, 0, 0, 0))
    with pytest.raises(MaskRejected, match=r"^The mask covers the whole image; use a new"):
        load_painted_mask(encode(canvas, "PNG"), (200, 200))


@pytest.mark.parametrize(
    "data",
    [encode(Image.new("RGB", (32, 32), "white"), "JPEG"), b"just text", b""],
    ids=["jpeg", "text", "empty"],
)
def test_mask_must_be_a_png(data):
    with pytest.raises(MaskRejected, match=r"^The mask must be a PNG image\.$"):
        load_painted_mask(data, (32, 32))


def test_corrupt_mask_is_refused_clearly():
    data = mask_png((128, 128), (0, 0, 60, 60))
    with pytest.raises(MaskRejected) as caught:
        load_painted_mask(data[: len(data) - 20], (128, 128))
    assert caught.value.code == "damaged"
    assert "damaged or incomplete" in str(caught.value)
    assert isinstance(caught.value, ImageRejected)  # views can catch one type


def test_to_openai_mask_marks_the_edit_area_transparent():
    mask = rect_mask((40, 30), (10, 5, 20, 15))
    data = to_openai_mask(mask)
    assert data.startswith(b"\x89PNG")
    img = decode(data)
    assert img.mode == "RGBA" and img.size == (40, 30)
    alpha = img.getchannel("A")
    assert alpha.getpixel((12, 8)) == 0  # edit here
    assert alpha.getpixel((0, 0)) == 255  # keep
    assert alpha.histogram()[0] == 10 * 10
    assert alpha.histogram()[255] == 40 * 30 - 100


# --- restore_outside_mask ---------------------------------------------------------------

BOX = (40, 30, 140, 110)  # left, top, right (exclusive), bottom (exclusive)


def outside_equals_source(result: Image.Image, source: Image.Image, box) -> bool:
    """Put the source back inside the box: if the rest matched, the images are identical."""
    patched = result.copy()
    patched.paste(source.crop(box), box[:2])
    return patched.tobytes() == source.tobytes()


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
@pytest.mark.parametrize("feather", [0, 1, 8, 15])
def test_restore_keeps_every_pixel_outside_the_mask(mode, feather):
    source, edited = noise((180, 140), mode, seed=1), noise((180, 140), mode, seed=2)
    result = restore_outside_mask(source, edited, rect_mask(source.size, BOX), feather)
    assert result.mode == mode and result.size == source.size
    assert outside_equals_source(result, source, BOX)
    assert ImageChops.difference(result, source).getbbox() is not None  # the edit is there


@pytest.mark.parametrize("feather", [0, 8])
def test_restore_keeps_the_edit_deep_inside(feather):
    source, edited = noise((180, 140), seed=1), noise((180, 140), seed=2)
    result = restore_outside_mask(source, edited, rect_mask(source.size, BOX), feather)
    left, top, right, bottom = BOX
    inner = (left + feather, top + feather, right - feather, bottom - feather)
    assert result.crop(inner).tobytes() == edited.crop(inner).tobytes()


def test_restore_feathers_inside_the_mask_edge():
    source = Image.new("RGB", (180, 140), (0, 0, 0))
    edited = Image.new("RGB", (180, 140), (255, 255, 255))
    result = restore_outside_mask(source, edited, rect_mask(source.size, BOX), feather=8)
    left, top, _, bottom = BOX
    row = [result.getpixel((x, (top + bottom) // 2))[0] for x in range(left - 2, left + 12)]
    assert row[:2] == [0, 0]  # outside: the source
    ramp = row[2:10]  # first 8 pixels inside the mask
    assert all(0 < value < 255 for value in ramp[1:])
    assert ramp == sorted(ramp)  # rising towards the inside
    assert row[-1] == 255  # past the feather: the edit


def test_restore_feather_zero_is_a_hard_edge():
    source = Image.new("RGB", (180, 140), (0, 0, 0))
    edited = Image.new("RGB", (180, 140), (255, 255, 255))
    result = restore_outside_mask(source, edited, rect_mask(source.size, BOX), feather=0)
    assert result.crop(BOX).tobytes() == edited.crop(BOX).tobytes()
    assert outside_equals_source(result, source, BOX)


def test_restore_resizes_an_edit_returned_at_another_size():
    source = noise((180, 140), seed=1)
    edited = Image.new("RGB", (360, 280), (255, 0, 0))
    result = restore_outside_mask(source, edited, rect_mask(source.size, BOX))
    assert result.size == source.size
    assert outside_equals_source(result, source, BOX)
    assert result.getpixel((90, 70)) == (255, 0, 0)


def test_restore_reaches_the_frame_edge_when_the_mask_does():
    source, edited = noise((100, 80), seed=1), noise((100, 80), seed=2)
    box = (0, 0, 50, 80)  # the whole left half, touching three edges
    result = restore_outside_mask(source, edited, rect_mask(source.size, box), feather=8)
    assert result.getpixel((0, 40)) == edited.getpixel((0, 40))
    assert result.getpixel((0, 0)) == edited.getpixel((0, 0))
    assert outside_equals_source(result, source, box)


def test_restore_edit_in_rgb_onto_rgba_source_keeps_rgba():
    source = noise((60, 60), "RGBA")
    edited = Image.new("RGB", (60, 60), (9, 9, 9))
    result = restore_outside_mask(source, edited, rect_mask(source.size, (10, 10, 50, 50)))
    assert result.mode == "RGBA"
    assert outside_equals_source(result, source, (10, 10, 50, 50))


def test_painted_mask_round_trip_into_restore():
    source, edited = noise((96, 64), seed=1), noise((96, 64), seed=2)
    mask = load_painted_mask(mask_png(source.size, (20, 10, 59, 49)), source.size)
    result = restore_outside_mask(source, edited, mask, feather=4)
    assert outside_equals_source(result, source, (20, 10, 60, 50))


# --- Renditions and files ---------------------------------------------------------------


def test_webp_rendition_is_small_and_keeps_aspect():
    data = webp_rendition(noise((2000, 1000)), 256)
    img = decode(data)
    assert img.format == "WEBP"
    assert img.size == (256, 128)


def test_webp_rendition_never_enlarges_and_keeps_alpha():
    img = decode(webp_rendition(noise((100, 60), "RGBA"), 256))
    assert img.size == (100, 60)
    assert img.mode == "RGBA"


def test_encode_png_round_trips_pixels_without_metadata():
    source = noise((30, 20), "RGBA")
    source.info["exif"] = b"Exif\x00\x00junk"
    source.info["icc_profile"] = b"fake"
    data = encode_png(source)
    assert decode(data).tobytes() == source.tobytes()
    assert [kind for kind, _ in png_chunks(data)] == [b"IHDR", b"IDAT", b"IEND"]


def test_export_jpeg_flattens_alpha_onto_white():
    img = Image.new("RGBA", (16, 16), (255, 0, 0, 0))
    img.paste((0, 0, 255, 255), (0, 0, 8, 16))
    out = decode(export(img, "jpeg", 95))
    assert out.format == "JPEG" and out.mode == "RGB"
    assert all(channel > 240 for channel in out.getpixel((14, 8)))  # transparent -> white
    assert out.getpixel((2, 8))[2] > 200  # opaque blue stays blue


def test_export_webp_keeps_alpha():
    out = decode(export(noise((16, 16), "RGBA"), "webp", 90))
    assert out.format == "WEBP" and out.mode == "RGBA"


def test_export_refuses_unknown_formats_and_qualities():
    with pytest.raises(ValueError):
        export(noise((4, 4)), "gif", 80)
    with pytest.raises(ValueError):
        export(noise((4, 4)), "jpeg", 0)


def test_sha256_hex():
    assert sha256_hex(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


# --- The brief in the file's metadata ---------------------------------------------------


def test_png_metadata_round_trip_keeps_pixel_data_byte_for_byte():
    png = encode(noise((40, 30)), "PNG")
    brief = {"subject": "Un café au soleil ☀", "lighting": "low sun"}
    metadata = {
        "studio:brief": json.dumps(brief, ensure_ascii=False),
        "studio:prompt": "A café in low sun — 35 mm",
        "Description": "A café in low sun",
        "Software": "Studio",
    }
    tagged = png_with_metadata(png, metadata)
    assert read_png_metadata(tagged) == metadata
    assert json.loads(read_png_metadata(tagged)["studio:brief"]) == brief

    def idat(data):
        return [body for kind, body in png_chunks(data) if kind == b"IDAT"]

    assert idat(tagged) == idat(png)
    assert decode(tagged).tobytes() == decode(png).tobytes()
    # An independent reader (Pillow) sees the same text.
    assert decode(tagged).text == metadata


def test_png_metadata_replaces_existing_keys_and_keeps_others():
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "Old tool")
    info.add_text("Author", "Ada", zip=True)
    png = encode(noise((8, 8)), "PNG", pnginfo=info)
    tagged = png_with_metadata(png, {"Software": "Studio"})
    assert read_png_metadata(tagged) == {"Software": "Studio", "Author": "Ada"}


def test_png_metadata_long_values_are_compressed_and_read_back():
    long_prompt = "a quiet harbour at dawn, " * 400
    tagged = png_with_metadata(encode(noise((8, 8)), "PNG"), {"studio:prompt": long_prompt})
    assert len(tagged) < len(long_prompt)
    assert read_png_metadata(tagged) == {"studio:prompt": long_prompt}
    assert decode(tagged).text["studio:prompt"] == long_prompt


def test_png_metadata_refuses_bad_input():
    png = encode(noise((8, 8)), "PNG")
    with pytest.raises(ValueError):
        png_with_metadata(png, {"": "empty keyword"})
    with pytest.raises(ValueError):
        png_with_metadata(png, {"x" * 80: "too long"})
    with pytest.raises(ValueError):
        png_with_metadata(encode(noise((8, 8)), "JPEG"), {"Software": "Studio"})
    with pytest.raises(ValueError):
        read_png_metadata(b"not a png")


# --- Upscale ----------------------------------------------------------------------------


@pytest.mark.parametrize("factor", [2, 4])
def test_upscale_sizes(factor):
    assert upscale(noise((50, 30)), factor).size == (50 * factor, 30 * factor)


def test_upscale_keeps_alpha():
    result = upscale(noise((20, 10), "RGBA"), 2)
    assert result.mode == "RGBA" and result.size == (40, 20)


@pytest.mark.parametrize("factor", [1, 3, 8])
def test_upscale_factor_must_be_2_or_4(factor):
    with pytest.raises(ValueError):
        upscale(noise((10, 10)), factor)


def test_upscale_refuses_results_beyond_max_side():
    with pytest.raises(ImageRejected) as caught:
        upscale(noise((3000, 1000)), 4, max_side=8192)
    assert "8192" in str(caught.value)
    assert "12000×4000" in str(caught.value)


def test_upscale_uses_a_pluggable_upscaler():
    calls = []

    def fake_upscaler(img: Image.Image, factor: int) -> Image.Image:
        calls.append((img.size, factor))
        return Image.new("RGB", (img.width * factor, img.height * factor), "purple")

    result = upscale(noise((30, 20)), 4, upscaler=fake_upscaler)
    assert calls == [((30, 20), 4)]
    assert result.getpixel((0, 0)) == (128, 0, 128)


def test_upscale_refuses_an_upscaler_that_returns_the_wrong_size():
    with pytest.raises(ValueError):
        upscale(noise((30, 20)), 2, upscaler=lambda img, factor: img)
