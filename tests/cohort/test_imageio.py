"""Reading pixels: every DICOM / PNG / JPEG path, and a clear error for every unreadable file."""
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
import pytest
from PIL import Image
from pydicom.pixels import get_decoder
from pydicom.uid import (JPEG2000, DeflatedExplicitVRLittleEndian, JPEG2000Lossless, JPEGBaseline8Bit,
                         JPEGLosslessSV1, JPEGLSLossless, JPEGLSNearLossless, MPEG2MPML, RLELossless)

from fixtures.builders import (BIRTH_DATE, PATIENT_NAME, hand_array, lossless_jpeg, raw_tags, write_dicom,
                               write_jpeg, write_png)
from ra_lib.core.errors import ImageReadError
from ra_lib.cohort.imageio import file_format, image_header, read_image


@pytest.fixture
def pixels():
    return np.random.default_rng(0).integers(0, 4096, (64, 64)).astype(np.uint16)


def _minmax(values):
    values = values.astype(np.float64)
    return (values - values.min()) / (values.max() - values.min())


def test_monochrome2_without_window_is_min_max_scaled(tmp_path, pixels):
    image, meta = read_image(_dicom(tmp_path, pixels))
    assert image.dtype == np.float32 and image.shape == (64, 64)
    np.testing.assert_allclose(image, _minmax(pixels), atol=1e-6)
    assert meta["format"] == "dicom" and meta["normalisation"] == "min-max" and meta["bits_stored"] == 12


def test_monochrome1_is_inverted_so_bone_is_bright(tmp_path):
    bone_dark = 4095 - hand_array()  # MONOCHROME1 stores bone as low values
    image, meta = read_image(_dicom(tmp_path, bone_dark, photometric="MONOCHROME1"))
    assert meta["photometric"] == "MONOCHROME1"
    assert image[32, 32] > 0.9 and image[0, 0] < 0.1  # the hand block is bright
    np.testing.assert_allclose(image, 1 - _minmax(bone_dark), atol=1e-6)


def test_window_maps_its_range_to_0_1(tmp_path, pixels):
    center, width = 2048.0, 1024.0
    image, meta = read_image(_dicom(tmp_path, pixels, window=(center, width)))
    expected = np.clip((pixels - (center - 0.5)) / (width - 1) + 0.5, 0, 1)  # DICOM LINEAR window
    np.testing.assert_allclose(image, expected, atol=1e-5)
    assert meta["normalisation"] == "window"


def test_modality_lut_is_applied_before_the_window(tmp_path, pixels):
    slope, intercept, center, width = 2.0, -1000.0, 3000.0, 4000.0
    image, _ = read_image(_dicom(tmp_path, pixels, rescale=(slope, intercept), window=(center, width)))
    rescaled = pixels * slope + intercept
    expected = np.clip((rescaled - (center - 0.5)) / (width - 1) + 0.5, 0, 1)
    np.testing.assert_allclose(image, expected, atol=1e-5)


@pytest.mark.parametrize("bits", [8, 10, 16])
def test_bit_depths_read_to_unit_range(tmp_path, bits):
    values = np.linspace(0, 2**bits - 1, 64 * 64).reshape(64, 64).astype(np.uint16)
    image, meta = read_image(_dicom(tmp_path, values, bits=bits))
    assert meta["bits_stored"] == bits
    np.testing.assert_allclose(image, _minmax(values), atol=1e-6)


@pytest.mark.parametrize("syntax", [JPEG2000Lossless, RLELossless, JPEGLSLossless])
def test_lossless_compressed_dicom_reads_like_uncompressed(tmp_path, pixels, syntax):
    plain, _ = read_image(_dicom(tmp_path, pixels))
    image, meta = read_image(_dicom(tmp_path, pixels, name="compressed.dcm", syntax=syntax))
    assert meta["transfer_syntax"] == str(syntax)
    np.testing.assert_array_equal(image, plain)


@pytest.mark.parametrize("syntax", [JPEG2000, JPEGLSNearLossless])
def test_lossy_compressed_dicom_round_trips_closely(tmp_path, syntax):
    values = hand_array().astype(np.uint16)
    plain, _ = read_image(_dicom(tmp_path, values))
    options = {"j2k_psnr": [60]} if syntax == JPEG2000 else {"jls_error": 2}
    ds = pydicom.dcmread(tmp_path / "image.dcm")
    ds.compress(syntax, **options)
    ds.save_as(tmp_path / "lossy.dcm", enforce_file_format=True)
    image, meta = read_image(tmp_path / "lossy.dcm")
    assert meta["transfer_syntax"] == str(syntax) and _valid(image)
    np.testing.assert_allclose(image, plain, atol=0.02)


def test_jpeg_lossless_dicom_decodes_exactly(tmp_path, pixels):
    plain, _ = read_image(_dicom(tmp_path, pixels))
    path = _dicom(tmp_path, pixels, name="lossless.dcm", syntax=JPEGLosslessSV1,
                  encapsulated=lossless_jpeg(pixels, 12))
    image, meta = read_image(path)
    assert meta["transfer_syntax"] == str(JPEGLosslessSV1)
    np.testing.assert_array_equal(image, plain)


def test_jpeg_baseline_dicom_decodes(tmp_path):
    values = (hand_array() // 16).astype(np.uint8)
    frame = tmp_path / "frame.jpg"
    Image.fromarray(values).save(frame, quality=95)
    path = _dicom(tmp_path, values, bits=8, name="baseline.dcm", syntax=JPEGBaseline8Bit,
                  encapsulated=frame.read_bytes())
    image, _ = read_image(path)
    np.testing.assert_allclose(image, _minmax(values), atol=0.05)


def test_jpeg_ls_and_jpeg_2000_decoders_are_installed():
    for syntax in (JPEGLSLossless, JPEG2000Lossless, JPEGLosslessSV1):
        assert get_decoder(syntax).is_available, f"no decoder plugin for {syntax.name}"


def test_syntax_without_decoder_names_file_and_syntax(tmp_path, pixels):
    path = _dicom(tmp_path, pixels, name="video.dcm", syntax=MPEG2MPML, encapsulated=b"\x00" * 64)
    with pytest.raises(ImageReadError) as error:
        read_image(path)
    assert "video.dcm" in str(error.value)
    assert "MPEG2" in str(error.value) and str(MPEG2MPML) in str(error.value)


def test_png_8_and_16_bit(tmp_path):
    eight = np.arange(256, dtype=np.uint8).reshape(16, 16)
    write_png(tmp_path / "a.png", eight)
    image, meta = read_image(tmp_path / "a.png")
    np.testing.assert_allclose(image, eight / 255.0, atol=1e-7)
    assert meta["format"] == "png"
    sixteen = (np.arange(256, dtype=np.uint16) * 257).reshape(16, 16)
    write_png(tmp_path / "b.png", sixteen)
    image, _ = read_image(tmp_path / "b.png")
    np.testing.assert_allclose(image, sixteen / 65535.0, atol=1e-7)


def test_rgb_jpeg_becomes_grey(tmp_path):
    Image.new("RGB", (32, 16), (200, 100, 50)).save(tmp_path / "c.jpg", quality=100)
    image, meta = read_image(tmp_path / "c.jpg")
    assert image.shape == (16, 32) and meta["format"] == "jpeg"
    luma = (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255
    assert abs(float(image.mean()) - luma) < 0.02


def test_format_is_sniffed_from_content_not_name(tmp_path):
    write_png(tmp_path / "scan.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "scan.png").rename(tmp_path / "scan.dcm")
    assert file_format(tmp_path / "scan.dcm") == "png"
    assert read_image(tmp_path / "scan.dcm")[1]["format"] == "png"


@pytest.mark.parametrize("kind", ["dicom", "png", "jpeg"])
def test_truncated_files_fail_at_header_check_naming_the_file(tmp_path, kind):
    path = tmp_path / f"cut.{kind}"
    if kind == "dicom":
        write_dicom(path, hand_array())
    elif kind == "png":
        write_png(path, np.random.default_rng(1).integers(0, 255, (64, 64)).astype(np.uint8))
    else:
        write_jpeg(path, np.random.default_rng(1).integers(0, 255, (64, 64)).astype(np.uint8))
    path.write_bytes(path.read_bytes()[:-300])
    for reader in (image_header, read_image):
        with pytest.raises(ImageReadError, match="truncated") as error:
            reader(path)
        assert str(path) in str(error.value)


def test_dicom_cut_inside_its_header(tmp_path):
    path = tmp_path / "stub.dcm"
    write_dicom(path, hand_array())
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ImageReadError, match="stub.dcm.*Rows"):
        image_header(path)


def test_missing_and_non_image_files(tmp_path):
    with pytest.raises(ImageReadError, match="nothing.png: file not found"):
        read_image(tmp_path / "nothing.png")
    (tmp_path / "notes.txt").write_text("not an image")
    for reader in (image_header, read_image):
        with pytest.raises(ImageReadError, match="notes.txt"):
            reader(tmp_path / "notes.txt")


def test_jpeg_with_bytes_after_its_end_marker_is_accepted(tmp_path):
    path = tmp_path / "padded.jpg"
    write_jpeg(path, (hand_array() // 16).astype(np.uint8))
    path.write_bytes(path.read_bytes() + b"trailing vendor data")
    assert image_header(path)["width"] == 64


def test_dicom_header_fields_without_names(tmp_path):
    path = tmp_path / "h.dcm"
    uid = write_dicom(path, hand_array(), patient_id="X42", laterality="R", body_part="HAND")
    header = image_header(path)
    assert header["patient_id"] == "X42" and header["image_laterality"] == "R"
    assert header["sop_instance_uid"] == uid and header["study_date"] == "20200102"
    assert (header["height"], header["width"]) == (64, 64) and header["view_position"] == "PA"
    assert PATIENT_NAME not in map(str, header.values()) and BIRTH_DATE not in map(str, header.values())
    assert image_header(path)["width"] == 64


def _dicom(tmp_path, pixels, name="image.dcm", **options):
    path = tmp_path / name
    write_dicom(path, pixels, **options)
    return path


# --- broken tags: checked before decoding, one clear error or a warning ----------------------------

def _broken(tmp_path, window=None, **tags):
    path = tmp_path / "broken.dcm"
    write_dicom(path, hand_array(), window=window)
    raw_tags(path, **tags)
    return path


def _valid(image):
    return image.ndim == 2 and image.dtype == np.float32 and np.isfinite(image).all() and 0 <= image.min() <= image.max() <= 1


@pytest.mark.parametrize("tags, reason", [
    ({"NumberOfFrames": "1A"}, "NumberOfFrames '1A' is not a whole number"),
    ({"NumberOfFrames": "2"}, "holds 2 frames"),
    ({"Rows": "32"}, "decoded pixels have shape"),
    ({"BitsStored": "17"}, "BitsStored '17' is not a whole number from 1 to 16"),
    ({"BitsAllocated": "12"}, "BitsAllocated 12 is not 1, 8, 16 or 32"),
    ({"PhotometricInterpretation": "RGB"}, "SamplesPerPixel 1 does not fit PhotometricInterpretation RGB"),
    ({"PhotometricInterpretation": "PALETTE COLOR"}, "RedPaletteColorLookupTableDescriptor"),
    ({"PhotometricInterpretation": "HSV"}, "unsupported PhotometricInterpretation 'HSV'"),
    ({"RescaleSlope": "0", "RescaleIntercept": "0"}, "RescaleSlope '0' must be a finite number other than 0"),
    ({"RescaleSlope": "NaN", "RescaleIntercept": "0"}, "RescaleSlope 'NaN'"),
    ({"RescaleSlope": "1", "RescaleIntercept": "abc"}, "RescaleIntercept 'abc' must be a finite number"),
    ({"RescaleSlope": "1e308", "RescaleIntercept": "0"}, "not finite"),
])
def test_unusable_pixel_tags_are_errors_naming_file_and_tag(tmp_path, tags, reason):
    path = _broken(tmp_path, **tags)
    for reader in (image_header, read_image):
        if reader is image_header and reason in ("decoded pixels have shape", "not finite"):
            continue  # found by decoding only
        with pytest.raises(ImageReadError) as error:
            reader(path)
        assert "broken.dcm" in str(error.value) and reason in str(error.value), str(error.value)


@pytest.mark.parametrize("window, tags", [
    ((2000.0, 0.0), {}),
    ((2000.0, -5.0), {}),
    ((2000.0, 1000.0), {"WindowWidth": "abc"}),
    ((2000.0, 1000.0), {"VOILUTFunction": "CUBIC"}),
])
def test_unusable_window_falls_back_to_min_max_with_a_warning(tmp_path, window, tags):
    path = _broken(tmp_path, window=window, **tags)
    header = image_header(path)
    assert len(header["warnings"]) == 1 and "min-max" in header["warnings"][0]
    image, meta = read_image(path)
    assert meta["normalisation"] == "min-max" and meta["warnings"] == header["warnings"] and _valid(image)
    np.testing.assert_allclose(image, _minmax(hand_array()), atol=1e-6)


def test_a_lone_rescale_slope_is_ignored_with_a_warning(tmp_path):
    image, meta = read_image(_broken(tmp_path, RescaleSlope="1e308"))
    assert meta["warnings"] == ["RescaleSlope without its partner: ignored, the stored values are used"]
    np.testing.assert_allclose(image, _minmax(hand_array()), atol=1e-6)


def test_window_far_outside_the_pixels_gives_a_blank_image_warning(tmp_path):
    image, meta = read_image(_broken(tmp_path, window=(1e12, 10.0)))
    assert _valid(image) and any("blank image" in w for w in meta["warnings"])


def test_dicom_without_preamble_and_deflated_dicom_read(tmp_path, pixels):
    plain, _ = read_image(_dicom(tmp_path, pixels))
    ds = pydicom.dcmread(tmp_path / "image.dcm")
    ds.preamble = None
    ds.save_as(tmp_path / "bare.dcm", enforce_file_format=False)
    assert (tmp_path / "bare.dcm").read_bytes()[128:132] != b"DICM"
    ds = pydicom.dcmread(tmp_path / "image.dcm")
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(tmp_path / "deflated.dcm", enforce_file_format=True)
    for name in ("bare.dcm", "deflated.dcm"):
        assert image_header(tmp_path / name)["width"] == 64
        np.testing.assert_array_equal(read_image(tmp_path / name)[0], plain)


def test_png_header_claiming_a_huge_image_is_a_bomb_error(tmp_path):
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
    header = (30000).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))
    for reader in (image_header, read_image):
        with pytest.raises(ImageReadError, match="bomb.png.*(decompression bomb|too large)"):
            reader(path)


# --- real files nobody here wrote: pydicom's bundled test files ---------------------------------

PYDICOM_FILES = Path(pydicom.data.__file__).parent / "test_files"
#: Bundled files that must decode to a grey image (palette, YBR 4:2:2, deflated, JPEG, JPEG-LS, JPEG 2000, RLE).
MUST_DECODE = ("examples_palette.dcm", "SC_ybr_full_422_uncompressed.dcm", "image_dfl.dcm", "JPGExtended.dcm",
               "SC_rgb_jpeg_dcmtk.dcm", "MR_small_jpeg_ls_lossless.dcm", "JPEG2000.dcm", "MR_small_RLE.dcm",
               "MR_small_bigendian.dcm", "examples_rgb_color.dcm", "CT_small.dcm")


def test_every_bundled_pydicom_file_reads_or_fails_with_a_clear_error():
    files = sorted(p for p in PYDICOM_FILES.rglob("*") if p.is_file() and "TINY_ALPHA" not in p.parts)
    assert len(files) > 50
    decoded = set()
    for path in files:
        try:
            image, meta = read_image(path)
        except ImageReadError as error:
            assert str(path) in str(error) and error.reason
            continue
        assert _valid(image), path
        decoded.add(path.name)
    assert set(MUST_DECODE) <= decoded, set(MUST_DECODE) - decoded
    with pytest.raises(ImageReadError, match="badVR.dcm: tag NumberOfFrames '1A'"):
        image_header(PYDICOM_FILES / "badVR.dcm")
    with pytest.raises(ImageReadError, match="holds 2 frames"):
        image_header(PYDICOM_FILES / "SC_rgb_rle_2frame.dcm")
    palette, _ = read_image(PYDICOM_FILES / "examples_palette.dcm")
    assert len(np.unique(palette)) > 2  # grey levels, not palette indices scaled
