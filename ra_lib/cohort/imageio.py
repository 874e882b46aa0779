"""Reading radiograph pixels: DICOM, PNG and JPEG to one float32 grey image in [0, 1], bone bright.

DICOM pixels go through the modality LUT (rescale), then the first VOI LUT or window (scaled
by that window's output range), then MONOCHROME1 is inverted so that bone is bright. Without a
VOI LUT or window the image is min-max scaled. Compressed transfer syntaxes (JPEG baseline,
lossless, JPEG-LS, JPEG 2000, RLE) decode through pydicom's plugins (pylibjpeg, Pillow).
PNG and JPEG files are assumed to be stored bone bright (as exported radiographs are): 8-bit
is divided by 255, 16-bit by 65535, colour converted to grey (ITU-R 601 luma).

Every failure raises :class:`~ra_lib.core.errors.ImageReadError` naming the file.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, UnidentifiedImageError
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from ra_lib.core.errors import ImageReadError

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8"
#: Tags that make up the tag-based image table. Names and birth dates are deliberately absent.
DICOM_HEADER_TAGS = {
    "patient_id": "PatientID",
    "study_date": "StudyDate",
    "body_part": "BodyPartExamined",
    "image_laterality": "ImageLaterality",
    "laterality": "Laterality",
    "view_position": "ViewPosition",
    "sop_instance_uid": "SOPInstanceUID",
    "photometric": "PhotometricInterpretation",
}

_HEADER_READ_TAGS = [*DICOM_HEADER_TAGS.values(), "Rows", "Columns", "BitsAllocated", "SamplesPerPixel",
                     "NumberOfFrames"]


def file_format(path: str | Path) -> str:
    """``"dicom"``, ``"png"``, ``"jpeg"`` or ``"other"``, from the file's first bytes (not its name)."""
    with open(path, "rb") as handle:
        head = handle.read(132)
    if head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(_PNG_MAGIC):
        return "png"
    if head.startswith(_JPEG_MAGIC):
        return "jpeg"
    return "other"


def read_image(path: str | Path) -> tuple[np.ndarray, dict]:
    """Pixels of one radiograph as a 2-D float32 array in [0, 1] with bone bright, and metadata.

    Metadata holds ``format``, ``width``, ``height`` and how the values were scaled
    (``normalisation``); DICOM adds ``transfer_syntax``, ``photometric``, ``bits_stored``, ``frames``.
    """
    path = Path(path)
    kind = _existing_format(path)
    if kind == "dicom":
        return _read_dicom_pixels(path)
    return _read_pil_pixels(path, kind)


def read_dicom_header(path: str | Path) -> dict:
    """The tag-based image-table fields of one DICOM file, read without its pixel data.

    Keys are those of :data:`DICOM_HEADER_TAGS` plus ``rows``, ``columns`` and
    ``transfer_syntax``; absent tags are empty strings. Patient names and birth dates are never read out.
    """
    ds, _, _ = _dicom_header(Path(path))
    return _header_fields(ds)


def image_header(path: str | Path) -> dict:
    """Open one image's header only and check that its pixel data is all there.

    Returns ``format``, ``width`` and ``height`` (DICOM adds the :func:`read_dicom_header` fields).
    Detects missing, unreadable and truncated files without decoding pixels: an uncompressed
    DICOM shorter than its pixel data, a JPEG without its end marker or a PNG without its end
    chunk (these two are then fully decoded to be sure).
    """
    path = Path(path)
    kind = _existing_format(path)
    if kind == "dicom":
        ds, pixel_offset, size = _dicom_header(path)
        _check_dicom_length(path, ds, pixel_offset, size)
        fields = _header_fields(ds)
        return {"format": "dicom", "width": fields["columns"], "height": fields["rows"], **fields}
    try:
        with Image.open(path) as img:
            width, height = img.size
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise ImageReadError(path, f"not a readable image ({exc})") from None
    if kind in ("png", "jpeg") and not _has_end_marker(path, kind):
        _read_pil_pixels(path, kind)  # raises ImageReadError when it really is truncated
    return {"format": kind, "width": int(width), "height": int(height)}


# --- DICOM -------------------------------------------------------------------------------------

def _existing_format(path: Path) -> str:
    if not path.is_file():
        raise ImageReadError(path, "file not found")
    try:
        return file_format(path)
    except OSError as exc:
        raise ImageReadError(path, f"cannot open ({exc.strerror or exc})") from None


def _dicom_header(path: Path) -> tuple[pydicom.Dataset, int, int]:
    """The dataset without pixels, the file offset where the pixel data starts, and the file size."""
    try:
        with open(path, "rb") as handle:
            ds = pydicom.dcmread(handle, stop_before_pixels=True, specific_tags=_HEADER_READ_TAGS)
            pixel_offset = handle.tell()
    except Exception as exc:  # pydicom raises many types for corrupt files
        raise ImageReadError(path, f"unreadable DICOM header ({type(exc).__name__}: {exc})") from None
    missing = [tag for tag in ("Rows", "Columns", "BitsAllocated") if tag not in ds]
    if missing:
        raise ImageReadError(path, f"truncated or not an image: DICOM tags {', '.join(missing)} missing")
    return ds, pixel_offset, os.path.getsize(path)


def _header_fields(ds: pydicom.Dataset) -> dict:
    fields = {key: str(ds.get(tag, "") or "").strip() for key, tag in DICOM_HEADER_TAGS.items()}
    fields["rows"] = int(ds.Rows)
    fields["columns"] = int(ds.Columns)
    fields["transfer_syntax"] = str(ds.file_meta.get("TransferSyntaxUID", ""))
    return fields


def _check_dicom_length(path: Path, ds: pydicom.Dataset, pixel_offset: int, size: int) -> None:
    if size <= pixel_offset:
        raise ImageReadError(path, "truncated: no pixel data")
    syntax = ds.file_meta.get("TransferSyntaxUID")
    if syntax is None or syntax.is_compressed:
        return  # the compressed length is only known by decoding (check --deep)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    expected = (int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1)) * frames
                * int(ds.BitsAllocated) + 7) // 8
    element_header = 8  # tag + length (implicit VR); explicit VR adds 4 more
    if size < pixel_offset + element_header + expected:
        raise ImageReadError(path, f"truncated: {size - pixel_offset} bytes left for "
                                   f"{expected} bytes of pixel data")


def _read_dicom_pixels(path: Path) -> tuple[np.ndarray, dict]:
    try:
        ds = pydicom.dcmread(path)
    except Exception as exc:
        raise ImageReadError(path, f"unreadable DICOM ({type(exc).__name__}: {exc})") from None
    syntax = ds.file_meta.get("TransferSyntaxUID")
    syntax_name = f"{syntax.name} ({syntax})" if syntax is not None else "unknown transfer syntax"
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

    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1))
    if frames > 1:
        arr = arr[0]
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if samples > 1:
        values = _luma(arr.astype(np.float64))
        low, high, normalisation = 0.0, float(2 ** int(ds.BitsStored) - 1), "colour to grey"
    else:
        values = apply_modality_lut(arr, ds)
        values, low, high, normalisation = _apply_voi(values, ds)
    out = _scale(values, low, high)
    if photometric == "MONOCHROME1":
        out = 1.0 - out
    meta = {"format": "dicom", "width": int(ds.Columns), "height": int(ds.Rows),
            "transfer_syntax": str(syntax), "photometric": photometric,
            "bits_stored": int(ds.BitsStored), "frames": frames, "normalisation": normalisation}
    return out, meta


def _apply_voi(values: np.ndarray, ds: pydicom.Dataset):
    """Apply the VOI LUT / window; return values and the (low, high) range to scale to [0, 1]."""
    lut = ds.get("VOILUTSequence")
    if lut and "LUTDescriptor" in lut[0] and "LUTData" in lut[0]:
        depth = int(lut[0].LUTDescriptor[2])
        out = apply_voi_lut(np.rint(values).astype(np.int64), ds)
        return out, 0.0, float(2 ** depth - 1), "voi lut"
    if "WindowCenter" in ds and "WindowWidth" in ds:
        with np.errstate(over="ignore"):
            out = apply_voi_lut(values.astype(np.float64), ds)
            low, high = apply_voi_lut(np.array([-1e300, 1e300]), ds)  # the window's output range
        return out, float(low), float(high), "window"
    values = values.astype(np.float64)
    return values, float(values.min()), float(values.max()), "min-max"


# --- PNG / JPEG --------------------------------------------------------------------------------

def _read_pil_pixels(path: Path, kind: str) -> tuple[np.ndarray, dict]:
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
                values, low, high = np.asarray(img).astype(np.float64), 0.0, 65535.0
            elif mode == "I":
                values = np.asarray(img).astype(np.float64)
                in_16 = values.min() >= 0 and values.max() <= 65535
                low, high = (0.0, 65535.0) if in_16 else (values.min(), values.max())
            elif mode == "F":
                values = np.asarray(img).astype(np.float64)
                low, high = values.min(), values.max()
            else:
                grey = img.convert("L")
                values, low, high = np.asarray(grey).astype(np.float64), 0.0, 255.0
            width, height = img.size
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        reason = "truncated" if "truncated" in str(exc) else "unreadable"
        raise ImageReadError(path, f"{reason} image ({exc})") from None
    meta = {"format": kind, "width": int(width), "height": int(height), "mode": mode,
            "normalisation": f"{low:g}-{high:g}"}
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
    if high <= low:
        return np.zeros(values.shape, dtype=np.float32)
    return np.clip((values - low) / (high - low), 0.0, 1.0).astype(np.float32)
