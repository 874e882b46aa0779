"""Reading radiograph pixels: DICOM, PNG and JPEG to one finite 2-D float32 grey image in [0, 1], bone bright.

DICOM pixels go through the modality LUT (rescale), then the first VOI LUT or window (scaled
by that window's output range), then MONOCHROME1 is inverted so that bone is bright. Without a
usable VOI LUT or window the image is min-max scaled (an unusable one is a warning). Colour
(RGB, YBR, palette) becomes grey (ITU-R 601 luma). Compressed transfer syntaxes decode through
pydicom's plugins (pylibjpeg, Pillow). PNG and JPEG files are assumed to be stored bone bright:
8-bit is divided by 255, 16-bit by 65535.

Every tag that shapes the pixels is checked before decoding (:mod:`ra_lib.cohort.dicom_tags`),
and every failure, whatever raised it, becomes an :class:`~ra_lib.core.errors.ImageReadError`
naming the file: one bad file never stops a cohort check.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, UnidentifiedImageError
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi, apply_windowing

from ra_lib.cohort.dicom_tags import HEADER_READ_TAGS, MAX_PIXELS, header_fields, pixel_settings, set_transfer_syntax
from ra_lib.cohort.paths import is_file
from ra_lib.core.errors import ImageReadError

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8"
_DICOM_GROUPS = (b"\x02\x00", b"\x08\x00", b"\x00\x08")  # file meta / identifying group (little, big endian)


def file_format(path: str | Path) -> str:
    """``"dicom"``, ``"png"``, ``"jpeg"`` or ``"other"``, from the file's first bytes (not its name).

    DICOM files without the 128-byte preamble are recognised by their first tag.
    """
    with open(path, "rb") as handle:
        head = handle.read(132)
    if head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(_PNG_MAGIC):
        return "png"
    if head.startswith(_JPEG_MAGIC):
        return "jpeg"
    if len(head) >= 8 and head[:2] in _DICOM_GROUPS and (head[4:6].isalpha() and head[4:6].isupper()
                                                         or head[:2] == b"\x08\x00" and head[6:8] == b"\x00\x00"):
        return "dicom"
    return "other"


def read_image(path: str | Path) -> tuple[np.ndarray, dict]:
    """Pixels of one radiograph as a finite 2-D float32 array in [0, 1] with bone bright, and metadata.

    Metadata holds ``format``, ``width``, ``height``, how the values were scaled
    (``normalisation``) and ``warnings`` (a list of sentences); DICOM adds ``transfer_syntax``,
    ``photometric``, ``bits_stored``. Raises :class:`ImageReadError` for anything else.
    """
    path = Path(path)
    kind = _existing_format(path)
    with _one_file(path):
        image, meta = _read_dicom_pixels(path) if kind == "dicom" else _read_pil_pixels(path, kind)
    return _checked(path, image, meta)


def image_header(path: str | Path) -> dict:
    """Open one image's header only, check its tags and that its pixel data is all there.

    Returns ``format``, ``width``, ``height`` and ``warnings``; DICOM adds patient, study and
    view tags (see :data:`ra_lib.cohort.dicom_tags.DICOM_HEADER_TAGS`), ``rows``, ``columns`` and
    ``transfer_syntax``. Detects missing, unreadable and truncated files without decoding pixels:
    an uncompressed DICOM shorter than its pixel data, a JPEG without its end marker or a PNG
    without its end chunk (these two are then fully decoded to be sure).
    """
    path = Path(path)
    kind = _existing_format(path)
    with _one_file(path):
        if kind == "dicom":
            return _dicom_header(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = _pil_size(path, img)
        if kind in ("png", "jpeg") and not _has_end_marker(path, kind):
            _read_pil_pixels(path, kind)  # raises ImageReadError when it really is truncated
        return {"format": kind, "width": width, "height": height, "warnings": []}


class _one_file:
    """Context turning any exception raised while reading one file into an :class:`ImageReadError` naming it."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback) -> bool:
        if exc is None or isinstance(exc, ImageReadError) or not isinstance(exc, Exception):
            return False
        if isinstance(exc, MemoryError):
            raise ImageReadError(self.path, "not enough memory to decode") from None
        if isinstance(exc, UnidentifiedImageError):
            raise ImageReadError(self.path, "not an image file (neither DICOM, PNG, JPEG nor another format "
                                            "Pillow reads)") from None
        if isinstance(exc, Image.DecompressionBombError):
            raise ImageReadError(self.path, f"image too large, a possible decompression bomb ({exc})") from None
        reason = "truncated" if "truncated" in str(exc).lower() else "unreadable"
        raise ImageReadError(self.path, f"{reason} image ({type(exc).__name__}: {exc})") from None


def _existing_format(path: Path) -> str:
    if not is_file(path):
        raise ImageReadError(path, "file not found")
    try:
        return file_format(path)
    except OSError as exc:
        raise ImageReadError(path, f"cannot open ({exc.strerror or exc})") from None


def _checked(path: Path, image: np.ndarray, meta: dict) -> tuple[np.ndarray, dict]:
    """Enforce the promise of :func:`read_image`; a blank image is a warning."""
    if image.ndim != 2 or 0 in image.shape:
        raise ImageReadError(path, f"decoded to shape {image.shape}, not one 2-D image")
    if not np.isfinite(image).all():
        raise ImageReadError(path, "decoded to values that are not finite (check RescaleSlope / Intercept)")
    image = np.clip(image, 0.0, 1.0).astype(np.float32, copy=False)
    if image.min() == image.max():
        meta["warnings"].append("blank image: every pixel has the same value after rescale and window")
    return image, meta


# --- DICOM -------------------------------------------------------------------------------------

def _read_dataset(path: Path) -> pydicom.Dataset:
    try:
        with warnings.catch_warnings():  # pydicom's warnings about odd values: what matters is checked here
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, force=True)
    except Exception as exc:  # pydicom raises many types for corrupt files
        raise ImageReadError(path, f"unreadable DICOM ({type(exc).__name__}: {exc})") from None
    set_transfer_syntax(ds)
    return ds


def _dicom_header(path: Path) -> dict:
    with open(path, "rb") as handle:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(handle, force=True, stop_before_pixels=True, specific_tags=HEADER_READ_TAGS)
        except Exception as exc:
            raise ImageReadError(path, f"unreadable DICOM header ({type(exc).__name__}: {exc})") from None
        pixel_offset = handle.tell()
    set_transfer_syntax(ds)
    settings = pixel_settings(path, ds)
    _check_dicom_length(path, ds, settings, pixel_offset, os.path.getsize(path))
    fields = header_fields(ds)
    return {"format": "dicom", "width": settings["columns"], "height": settings["rows"],
            "warnings": settings["warnings"], **fields}


def _check_dicom_length(path: Path, ds: pydicom.Dataset, settings: dict, pixel_offset: int, size: int) -> None:
    syntax = ds.file_meta.get("TransferSyntaxUID")
    if syntax.is_deflated:
        return  # the offset is one into the inflated stream: only decoding tells (check --deep)
    if size <= pixel_offset:
        raise ImageReadError(path, "truncated: no pixel data")
    if syntax.is_compressed:
        return  # the pixel data's length is only known by decoding (check --deep)
    samples = 2 if settings["photometric"] == "YBR_FULL_422" else settings["samples"]  # 4:2:2 stores 2 per pixel
    expected = (settings["rows"] * settings["columns"] * samples * settings["bits_allocated"] + 7) // 8
    element_header = 8  # tag + length (implicit VR); explicit VR adds 4 more
    if size < pixel_offset + element_header + expected:
        raise ImageReadError(path, f"truncated: {size - pixel_offset} bytes left for "
                                   f"{expected} bytes of pixel data")


def _read_dicom_pixels(path: Path) -> tuple[np.ndarray, dict]:
    ds = _read_dataset(path)
    settings = pixel_settings(path, ds)
    syntax = ds.file_meta.TransferSyntaxUID
    syntax_name = f"{syntax.name} ({syntax})"
    if "PixelData" not in ds:
        raise ImageReadError(path, "no pixel data")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = ds.pixel_array
    except (NotImplementedError, RuntimeError) as exc:
        raise ImageReadError(path, f"no decoder for transfer syntax {syntax_name}: {exc}") from None
    except Exception as exc:
        raise ImageReadError(path, f"pixel data cannot be decoded ({syntax_name}): {exc}") from None
    rows, columns, samples = settings["rows"], settings["columns"], settings["samples"]
    expected = (rows, columns) if samples == 1 else (rows, columns, samples)
    if arr.shape != expected:
        raise ImageReadError(path, f"decoded pixels have shape {arr.shape}, the header says {expected} "
                                   "(Rows, Columns, SamplesPerPixel or BitsAllocated wrong)")
    photometric, notes = settings["photometric"], settings["warnings"]
    if photometric == "PALETTE COLOR":
        depth = int(ds.RedPaletteColorLookupTableDescriptor[2])
        values, low, high = _luma(apply_color_lut(arr, ds).astype(np.float64)), 0.0, float(2 ** depth - 1)
        normalisation = "palette to grey"
    elif samples > 1:
        values, low, high = _luma(arr.astype(np.float64)), 0.0, float(2 ** settings["bits_stored"] - 1)
        normalisation = "colour to grey"
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            values = apply_modality_lut(arr, ds)
        if not np.isfinite(values).all():
            raise ImageReadError(path, "the modality LUT (RescaleSlope / Intercept) gives values that are not "
                                       "finite")
        values, low, high, normalisation = _apply_voi(values, ds, settings)
    out = _scale(values, low, high)
    if photometric == "MONOCHROME1":
        out = 1.0 - out
    meta = {"format": "dicom", "width": columns, "height": rows, "transfer_syntax": str(syntax),
            "photometric": photometric, "bits_stored": settings["bits_stored"], "frames": 1,
            "normalisation": normalisation, "warnings": list(notes)}
    return out, meta


def _apply_voi(values: np.ndarray, ds: pydicom.Dataset, settings: dict):
    """Apply the VOI LUT / window the tags allow; return values and the (low, high) range to scale to [0, 1]."""
    if settings["voi"] == "lut":
        depth = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        out = apply_voi(np.rint(values).astype(np.int64), ds)
        return out, 0.0, float(2 ** depth - 1), "voi lut"
    if settings["voi"] == "window":
        with np.errstate(over="ignore", invalid="ignore"):
            out = apply_windowing(values.astype(np.float64), ds)
            low, high = apply_windowing(np.array([-1e300, 1e300]), ds)  # the window's output range
        return out, float(low), float(high), "window"
    values = values.astype(np.float64)
    return values, float(values.min()), float(values.max()), "min-max"


# --- PNG / JPEG --------------------------------------------------------------------------------

def _pil_size(path: Path, img: Image.Image) -> tuple[int, int]:
    width, height = img.size
    if width < 1 or height < 1:
        raise ImageReadError(path, f"image has no pixels ({width} x {height})")
    if width * height > MAX_PIXELS:
        raise ImageReadError(path, f"image claims {width} x {height} pixels, over the limit of {MAX_PIXELS:,} "
                                   "(a possible decompression bomb)")
    frames = getattr(img, "n_frames", 1)
    if frames > 1:
        raise ImageReadError(path, f"holds {frames} frames; only single-frame images are read")
    return int(width), int(height)


def _read_pil_pixels(path: Path, kind: str) -> tuple[np.ndarray, dict]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as img:
            width, height = _pil_size(path, img)
            img.load()
            mode = img.mode
            if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
                values, low, high = np.asarray(img).astype(np.float64), 0.0, 65535.0
            elif mode in ("I", "F"):
                values = np.asarray(img).astype(np.float64)
                if not np.isfinite(values).all():
                    raise ImageReadError(path, f"{mode}-mode image holds values that are not finite")
                in_16 = mode == "I" and values.min() >= 0 and values.max() <= 65535
                low, high = (0.0, 65535.0) if in_16 else (values.min(), values.max())
            else:
                grey = img.convert("L")
                values, low, high = np.asarray(grey).astype(np.float64), 0.0, 255.0
    meta = {"format": kind, "width": width, "height": height, "mode": mode,
            "normalisation": f"{low:g}-{high:g}", "warnings": []}
    return _scale(values, float(low), float(high)), meta


def _has_end_marker(path: Path, kind: str) -> bool:
    with open(path, "rb") as handle:
        handle.seek(max(0, os.path.getsize(path) - 64))
        tail = handle.read().rstrip(b"\x00")
    if kind == "jpeg":
        return tail.endswith(b"\xff\xd9")
    return b"IEND" in tail[-12:]


# --- shared ------------------------------------------------------------------------------------

def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _scale(values: np.ndarray, low: float, high: float) -> np.ndarray:
    if not high > low:  # also False for NaN
        return np.zeros(values.shape, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.clip((values - low) / (high - low), 0.0, 1.0).astype(np.float32)
