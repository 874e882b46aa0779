"""The DICOM tags that shape an image, checked before any pixel is decoded.

:func:`pixel_settings` reads every such tag as a number (finite, whole, in range) and checks
them against each other (BitsStored <= BitsAllocated, SamplesPerPixel against the photometric
interpretation, one frame, a size under :data:`MAX_PIXELS`, a known transfer syntax, a usable
rescale). What makes the image unreadable raises :class:`~ra_lib.core.errors.ImageReadError`;
an unusable window or VOI LUT falls back to min-max scaling with a warning.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from ra_lib.core.errors import ImageReadError

#: Most pixels one image may have (radiographs have at most about 30 million).
MAX_PIXELS = 80_000_000
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
_PIXEL_TAGS = ["Rows", "Columns", "BitsAllocated", "BitsStored", "SamplesPerPixel", "NumberOfFrames",
               "PixelRepresentation", "PlanarConfiguration", "RescaleSlope", "RescaleIntercept", "ModalityLUTSequence",
               "WindowCenter", "WindowWidth", "VOILUTFunction", "VOILUTSequence",
               "RedPaletteColorLookupTableDescriptor", "RedPaletteColorLookupTableData"]
#: What the header read (without pixels) asks pydicom for.
HEADER_READ_TAGS = list(dict.fromkeys([*DICOM_HEADER_TAGS.values(), *_PIXEL_TAGS]))
_ONE_SAMPLE = ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR")
_THREE_SAMPLES = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420")
_WINDOW_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")


def set_transfer_syntax(ds: pydicom.Dataset) -> None:
    """Give a dataset without file meta (a file without preamble) the transfer syntax it was read with."""
    if getattr(ds, "file_meta", None) is None:
        ds.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" in ds.file_meta:
        return
    implicit, little = getattr(ds, "original_encoding", (True, True))
    if implicit is None:
        implicit, little = True, True
    ds.file_meta.TransferSyntaxUID = (ImplicitVRLittleEndian if implicit else
                                      ExplicitVRLittleEndian if little else ExplicitVRBigEndian)


def header_fields(ds: pydicom.Dataset) -> dict:
    """The image-table tags as stripped strings (a tag that cannot be read is blank), and the transfer syntax."""
    fields = {}
    for key, tag in DICOM_HEADER_TAGS.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fields[key] = str(ds.get(tag, "") or "").replace("\x00", "").strip()
        except Exception:  # a value pydicom cannot convert: treated as absent
            fields[key] = ""
    fields["transfer_syntax"] = str(ds.file_meta.get("TransferSyntaxUID", ""))
    return fields


def pixel_settings(path: Path, ds: pydicom.Dataset) -> dict:
    """The checked pixel tags: ``rows``, ``columns``, ``bits_allocated``, ``bits_stored``, ``samples``,
    ``photometric``, ``voi`` (``"lut"``, ``"window"`` or ``None`` for min-max) and ``warnings``."""
    syntax = UID(str(_value(path, ds.file_meta, "TransferSyntaxUID") or ""))
    if not syntax.is_transfer_syntax:
        raise ImageReadError(path, f"unknown transfer syntax {str(syntax)!r}")
    missing = [tag for tag in ("Rows", "Columns", "BitsAllocated") if tag not in ds]
    if missing:
        raise ImageReadError(path, f"truncated or not an image: DICOM tags {', '.join(missing)} missing")
    rows = _whole(path, ds, "Rows", None, 1, 65535)
    columns = _whole(path, ds, "Columns", None, 1, 65535)
    if rows * columns > MAX_PIXELS:
        raise ImageReadError(path, f"header claims {columns} x {rows} pixels, over the limit of {MAX_PIXELS:,} "
                                   "(a possible decompression bomb)")
    bits_allocated = _whole(path, ds, "BitsAllocated", None, 1, 32)
    if bits_allocated not in (1, 8, 16, 32):
        raise ImageReadError(path, f"BitsAllocated {bits_allocated} is not 1, 8, 16 or 32")
    bits_stored = _whole(path, ds, "BitsStored", bits_allocated, 1, bits_allocated)
    _whole(path, ds, "PixelRepresentation", 0, 0, 1)
    frames = _whole(path, ds, "NumberOfFrames", 1, 1, 2**31)
    if frames > 1:
        raise ImageReadError(path, f"holds {frames} frames; only single-frame radiographs are read "
                                   "(export one frame per file)")
    samples = _whole(path, ds, "SamplesPerPixel", 1, 1, 4)
    photometric = _text(path, ds, "PhotometricInterpretation")
    if photometric not in _ONE_SAMPLE + _THREE_SAMPLES:
        raise ImageReadError(path, f"unsupported PhotometricInterpretation {photometric!r}")
    if samples != (1 if photometric in _ONE_SAMPLE else 3):
        raise ImageReadError(path, f"SamplesPerPixel {samples} does not fit PhotometricInterpretation {photometric}")
    if samples == 3:
        _whole(path, ds, "PlanarConfiguration", 0, 0, 1)
    if photometric == "PALETTE COLOR":
        _lut_descriptor(path, ds, "RedPaletteColorLookupTableDescriptor", error=True, depths=(8, 16))
    notes: list[str] = []
    if samples == 1:
        _check_modality_lut(path, ds, notes)
    settings = {"rows": rows, "columns": columns, "bits_allocated": bits_allocated, "bits_stored": bits_stored,
                "samples": samples, "photometric": photometric, "warnings": notes,
                "voi": _voi(path, ds, notes) if photometric in ("MONOCHROME1", "MONOCHROME2") else None}
    return settings


def _value(path: Path, ds: pydicom.Dataset, keyword: str):
    try:
        with warnings.catch_warnings():  # pydicom warns, then fails or keeps the raw text: checked here
            warnings.simplefilter("ignore")
            return ds.get(keyword)
    except Exception as exc:  # pydicom converts IS / DS values lazily
        raise ImageReadError(path, f"tag {keyword} cannot be read ({type(exc).__name__}: {exc})") from None


def _text(path: Path, ds: pydicom.Dataset, keyword: str) -> str:
    value = _value(path, ds, keyword)
    if value is None or str(value).strip() == "":
        raise ImageReadError(path, f"DICOM tag {keyword} missing")
    return str(value).strip().upper()


def _number(value) -> float:
    """A tag value as a float (first of several); NaN when it is not a number."""
    if isinstance(value, (MultiValue, list, tuple)):
        value = value[0] if len(value) else None
    try:
        return float(str(value).strip())
    except (TypeError, ValueError, OverflowError):
        return math.nan


def _whole(path: Path, ds: pydicom.Dataset, keyword: str, default: int | None, low: int, high: int) -> int:
    value = _value(path, ds, keyword)
    if value is None or str(value).strip() == "":
        if default is None:
            raise ImageReadError(path, f"DICOM tag {keyword} missing")
        return default
    number = _number(value)
    if not (math.isfinite(number) and number == int(number) and low <= number <= high):
        raise ImageReadError(path, f"tag {keyword} {str(value)[:40]!r} is not a whole number from {low} to {high}")
    return int(number)


def _check_modality_lut(path: Path, ds: pydicom.Dataset, notes: list[str]) -> None:
    sequence = _value(path, ds, "ModalityLUTSequence")
    if sequence is not None:
        if len(sequence) == 0 or not _lut_descriptor(path, sequence[0], "LUTDescriptor", depths=(8, 16)):
            raise ImageReadError(path, "ModalityLUTSequence is empty or malformed")
        return
    slope, intercept = _value(path, ds, "RescaleSlope"), _value(path, ds, "RescaleIntercept")
    if (slope is None) != (intercept is None):  # pydicom, as the standard, applies the pair or nothing
        notes.append(f"{'RescaleSlope' if intercept is None else 'RescaleIntercept'} without its partner: "
                     "ignored, the stored values are used")
        return
    if slope is not None and not (math.isfinite(_number(slope)) and _number(slope) != 0):
        raise ImageReadError(path, f"RescaleSlope {str(slope)[:40]!r} must be a finite number other than 0")
    if intercept is not None and not math.isfinite(_number(intercept)):
        raise ImageReadError(path, f"RescaleIntercept {str(intercept)[:40]!r} must be a finite number")


def _lut_descriptor(path: Path, item, keyword: str, error: bool = False, depths=range(8, 17)) -> bool:
    """Whether a LUT descriptor (entries, first value, bits in ``depths``) and its data fit; raise instead
    when ``error``."""
    try:
        descriptor = item.get(keyword)
        entries, _, bits = (int(v) for v in descriptor)
        data = item.get("LUTData") if keyword == "LUTDescriptor" else item.get("RedPaletteColorLookupTableData")
        entries = entries or 65536
        count = len(data) if isinstance(data, (list, MultiValue)) else len(data or b"") // (1 if bits <= 8 else 2)
        usable = 2 <= entries and bits in depths and count >= entries
    except Exception:
        usable = False
    if not usable and error:
        raise ImageReadError(path, f"{keyword} and its table do not fit together (or are missing)")
    return usable


def _voi(path: Path, ds: pydicom.Dataset, notes: list[str]) -> str | None:
    """Which VOI transform the tags allow: ``"lut"``, ``"window"`` or ``None`` (min-max), noting why not."""
    try:
        sequence = _value(path, ds, "VOILUTSequence")
        if sequence:
            if _lut_descriptor(path, sequence[0], "LUTDescriptor"):
                return "lut"
            notes.append("VOI LUT unusable (descriptor and table do not fit): window or min-max scaling used")
        center, width = _value(path, ds, "WindowCenter"), _value(path, ds, "WindowWidth")
        function = str(_value(path, ds, "VOILUTFunction") or "LINEAR").strip().upper()
    except ImageReadError as exc:
        notes.append(f"{exc.reason}: scaled to the image's min-max instead")
        return None
    if center is None or width is None:
        return None
    c, w = _number(center), _number(width)
    if function not in _WINDOW_FUNCTIONS:
        notes.append(f"VOILUTFunction {function[:40]!r} unknown: scaled to the image's min-max instead")
        return None
    if not math.isfinite(c) or not math.isfinite(w) or w < (1 if function == "LINEAR" else 0) or w == 0:
        notes.append(f"window (center {str(center)[:40]!r}, width {str(width)[:40]!r}) unusable: "
                     "scaled to the image's min-max instead")
        return None
    return "window"
