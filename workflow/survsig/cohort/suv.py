"""PET DICOM as a hospital exports it, in Bq/mL or counts, converted to SUV from its header.

The conversion follows the QIBA vendor-neutral SUV pseudo-code:

* ``Units`` (0054,1001) ``BQML`` with ``DecayCorrection`` (0054,1102) ``START``: the voxels
  are activity concentrations decay corrected to the scan start, so the injected dose is
  decayed to that time::

      decay  = exp(-ln 2 * (scan time - injection time) / RadionuclideHalfLife)
      SUVbw  = Bq/mL * PatientWeight [kg] * 1000 / (RadionuclideTotalDose [Bq] * decay)

  The scan time is ``SeriesDate``/``SeriesTime`` (0008,0021)/(0008,0031) unless that lies
  after the ``AcquisitionDate``/``AcquisitionTime`` (0008,0022)/(0008,0032) of some slice
  (a post-processed series stamped when it was made); then the earliest acquisition of
  the series is the scan time. GE's private scan date-time is not read. The injection
  time is ``RadiopharmaceuticalStartDateTime`` (0018,1078), else the scan date with
  ``RadiopharmaceuticalStartTime`` (0018,1072); dates take part, so a scan past midnight
  is decayed over the right interval.
* ``BQML`` with ``DecayCorrection`` ``ADMIN``: the voxels are already decay corrected to
  the administration time, so ``decay`` is 1.
* ``CNTS`` (Philips): SUVbw = counts x Philips' SUV scale factor (7053,1000) of the
  private group "Philips PET Private Group"; without it, the activity concentration scale
  factor (7053,1009) turns counts into Bq/mL and the series goes on as ``BQML``.
* ``GML``: already SUV (body weight assumed, as QIBA does); the factor is 1.

SUV by lean body mass (``kind="lbm"``) replaces the weight by the James lean body mass
from ``PatientWeight``, ``PatientSize`` (0010,1020) and ``PatientSex`` (0010,0040), as
QIBA does. Missing or contradictory fields raise one :class:`InputError` line
``<file>: <keyword> (gggg,eeee) <problem>``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pydicom
import SimpleITK as sitk
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.tag import Tag

from survsig.core.errors import InputError
from survsig.core.images import dicom_series_files

#: SUV kinds: by body weight (the default) or by lean body mass (James).
SUV_KINDS = ("bw", "lbm")
#: Philips' private group with the SUV and activity concentration scale factors.
PHILIPS_CREATOR = "Philips PET Private Group"
#: Element offsets in that private block: (7053,1000) and (7053,1009).
PHILIPS_SUV_SCALE, PHILIPS_BQML_SCALE = 0x00, 0x09
#: James lean body mass (kg) from weight (kg) and height (cm): (a, b) in a*W - b*(W/H)^2.
JAMES = {"M": (1.10, 128.0), "F": (1.07, 148.0)}
#: The fields the factor uses, read per slice; every slice must agree on them.
RADIOPHARMACEUTICAL = ("RadionuclideTotalDose", "RadionuclideHalfLife")
RADIOPHARMACEUTICAL_TIMES = ("RadiopharmaceuticalStartDateTime", "RadiopharmaceuticalStartTime")
SERIES_FIELDS = (
    "Modality",
    "Units",
    "DecayCorrection",
    "CorrectedImage",
    "PatientWeight",
    "PatientSize",
    "PatientSex",
    "SeriesDate",
    "SeriesTime",
    "TimezoneOffsetFromUTC",
)

_DA = re.compile(r"^(\d{4})\.?(\d{2})\.?(\d{2})$")
# HHMM is the least a time needs here: an hour alone is too coarse to decay over
_TM = re.compile(r"^(\d{2}):?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?$")
_DT = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?([+-]\d{4})?$")
_OFFSET = re.compile(r"^([+-])(\d{2})(\d{2})$")


@dataclass(frozen=True)
class SuvFactor:
    """What multiplies a PET series' rescaled voxels into SUV, and how it was found.

    Attributes
    ----------
    factor : float
        SUV per rescaled voxel unit (g/mL per Bq/mL for BQML; 1 for GML).
    kind : str
        ``"bw"`` (body weight) or ``"lbm"`` (lean body mass).
    units : str
        ``Units`` (0054,1001) as in the header.
    decay_correction : str or None
        ``DecayCorrection`` (0054,1102); None where the factor does not use it.
    decay_factor : float
        Fraction of the injected dose left at the scan time (1 for ADMIN, CNTS, GML).
    scan_time : datetime or None
        The time the dose is decayed to; None where no decay is computed.
    injection_time : datetime or None
        Radiopharmaceutical start; None where no decay is computed.
    method : str
        One line saying which fields gave the factor.
    """

    factor: float
    kind: str
    units: str
    decay_correction: str | None
    decay_factor: float
    scan_time: datetime | None
    injection_time: datetime | None
    method: str


# ----------------------------------------------------------------------------- fields


def _tag_name(keyword: str) -> str:
    """``Units (0054,1001)``: a field as the messages name it."""
    tag = Tag(keyword)
    return f"{keyword} ({tag.group:04X},{tag.element:04X})"


def _refuse(file, keyword: str, problem: str) -> InputError:
    return InputError(f"{_tag_name(keyword)} {problem}", file=file)


def _text(dataset, keyword: str) -> str | None:
    """A field as stripped text, or None when absent or empty."""
    value = dataset.get(keyword)
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple, MultiValue)):
        return "\\".join(str(v).strip() for v in value)
    return str(value).strip() or None


def _number(dataset, keyword: str, *, file) -> float | None:
    """A numeric field as float, or None when absent or empty."""
    text = _text(dataset, keyword)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        raise _refuse(file, keyword, f"is not a number: {text!r}") from None
    if not math.isfinite(number):
        raise _refuse(file, keyword, f"is not a finite number: {text!r}")
    return number


def _positive(dataset, keyword: str, *, file, needed_for: str) -> float:
    number = _number(dataset, keyword, file=file)
    if number is None:
        raise _refuse(file, keyword, f"is missing; {needed_for}")
    if number <= 0:
        raise _refuse(file, keyword, f"is {number:g}; {needed_for} (a positive value)")
    return number


def _radiopharmaceutical(dataset, *, file):
    """The single item of ``RadiopharmaceuticalInformationSequence`` (0054,0016)."""
    items = dataset.get("RadiopharmaceuticalInformationSequence")
    keyword = "RadiopharmaceuticalInformationSequence"
    if not items:
        raise _refuse(file, keyword, "is missing or empty; SUV needs the injected dose and its time")
    if len(items) > 1:
        # two tracers in one series: which dose the voxels show is not in the header
        raise _refuse(file, keyword, f"holds {len(items)} radiopharmaceuticals; SUV needs exactly one")
    return items[0]


def _philips(dataset, offset: int, *, file) -> float | None:
    """A Philips private scale factor, (7053,10xx), or None when absent."""
    try:
        block = dataset.private_block(0x7053, PHILIPS_CREATOR)
    except KeyError:
        return None
    if offset not in block:
        return None
    element = block[offset]
    value = element.value
    if isinstance(value, bytes):  # implicit VR or an unknown private VR leaves the bytes
        value = value.decode("ascii", errors="replace").strip("\0 ")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(
            f"Philips scale factor ({element.tag.group:04X},{element.tag.element:04X}) is not a number: {value!r}",
            file=file,
        ) from None
    if not math.isfinite(number) or number <= 0:
        raise InputError(
            f"Philips scale factor ({element.tag.group:04X},{element.tag.element:04X}) is {number:g}; "
            "SUV needs a positive value",
            file=file,
        )
    return number


# ----------------------------------------------------------------------------- times


def _offset(text: str | None, *, file, keyword: str) -> timedelta | None:
    """A UTC offset ``+HHMM``/``-HHMM`` as a timedelta."""
    if text is None:
        return None
    match = _OFFSET.match(text)
    if not match:
        raise _refuse(file, keyword, f"is not a UTC offset (+HHMM or -HHMM): {text!r}")
    sign = -1 if match[1] == "-" else 1
    return sign * timedelta(hours=int(match[2]), minutes=int(match[3]))


def _time_of_day(text: str, *, file, keyword: str) -> time:
    match = _TM.match(text)
    try:
        if not match:
            raise ValueError
        fraction = int((match[4] or "0").ljust(6, "0"))
        return time(int(match[1]), int(match[2]), int(match[3] or 0), fraction)
    except ValueError:
        raise _refuse(file, keyword, f"is not a DICOM time (HHMM[SS[.FFFFFF]]): {text!r}") from None


def _day(text: str, *, file, keyword: str) -> date:
    match = _DA.match(text)
    try:
        if not match:
            raise ValueError
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise _refuse(file, keyword, f"is not a DICOM date (YYYYMMDD): {text!r}") from None


def _date_time(dataset, date_keyword: str, time_keyword: str, *, file) -> datetime:
    """A date field and a time field of ``dataset`` as one datetime; both are required."""
    for keyword in (date_keyword, time_keyword):
        if _text(dataset, keyword) is None:
            raise _refuse(file, keyword, "is missing; SUV needs the scan's date and time")
    day = _day(_text(dataset, date_keyword), file=file, keyword=date_keyword)
    return datetime.combine(day, _time_of_day(_text(dataset, time_keyword), file=file, keyword=time_keyword))


def _dt(text: str, *, file, keyword: str, local: timedelta | None) -> datetime:
    """A DT value as local time; an explicit UTC offset is moved into ``local`` when known."""
    match = _DT.match(text)
    try:
        if not match:
            raise ValueError
        fraction = int((match[7] or "0").ljust(6, "0"))
        value = datetime(*(int(match[i]) for i in range(1, 6)), int(match[6] or 0), fraction)
    except ValueError:
        raise _refuse(file, keyword, f"is not a DICOM date-time (YYYYMMDDHHMM[SS[.FFFFFF]][&ZZXX]): {text!r}") from None
    own = _offset(match[8], file=file, keyword=keyword)
    # without TimezoneOffsetFromUTC the series times are local of an unknown zone: the
    # injection is taken as written in that same zone
    if own is not None and local is not None:
        value += local - own
    return value


def _injection_time(item, scan_day: date, *, file, local: timedelta | None) -> tuple[datetime, str]:
    """Radiopharmaceutical start as a datetime, and which field gave its date."""
    start_dt = _text(item, "RadiopharmaceuticalStartDateTime")
    start_tm = _text(item, "RadiopharmaceuticalStartTime")
    if start_dt is None and start_tm is None:
        raise _refuse(
            file,
            "RadiopharmaceuticalStartDateTime",
            f"and {_tag_name('RadiopharmaceuticalStartTime')} are missing; SUV needs the injection time",
        )
    if start_dt is not None:
        injected = _dt(start_dt, file=file, keyword="RadiopharmaceuticalStartDateTime", local=local)
        if start_tm is not None:
            written = _time_of_day(start_tm, file=file, keyword="RadiopharmaceuticalStartTime")
            # compared as written: both fields are in the injection's own zone
            as_written = _dt(start_dt, file=file, keyword="RadiopharmaceuticalStartDateTime", local=None)
            if abs(datetime.combine(as_written.date(), written) - as_written) > timedelta(seconds=1):
                raise _refuse(
                    file,
                    "RadiopharmaceuticalStartTime",
                    f"{start_tm!r} contradicts {_tag_name('RadiopharmaceuticalStartDateTime')} {start_dt!r}",
                )
        return injected, "RadiopharmaceuticalStartDateTime"
    written = _time_of_day(start_tm, file=file, keyword="RadiopharmaceuticalStartTime")
    return datetime.combine(scan_day, written), "RadiopharmaceuticalStartTime on the scan date"


def _acquisition_time(dataset, *, file) -> datetime:
    return _date_time(dataset, "AcquisitionDate", "AcquisitionTime", file=file)


def _scan_time(dataset, earliest_acquisition: datetime, *, file) -> tuple[datetime, str]:
    """The time the dose is decayed to (QIBA): series time, unless a slice was acquired before it."""
    series = _date_time(dataset, "SeriesDate", "SeriesTime", file=file)
    if series <= earliest_acquisition:
        return series, "SeriesDate/SeriesTime"
    # a series time after acquisition is when a post-processed series was made
    return earliest_acquisition, "earliest AcquisitionDate/AcquisitionTime (SeriesTime is later)"


def _decay(dataset, item, earliest_acquisition: datetime, *, file, decay_correction: str):
    """Decay factor of the injected dose from injection to the scan time, with both times."""
    local = _offset(_text(dataset, "TimezoneOffsetFromUTC"), file=file, keyword="TimezoneOffsetFromUTC")
    scan, scan_source = _scan_time(dataset, earliest_acquisition, file=file)
    injected, injection_source = _injection_time(item, scan.date(), file=file, local=local)
    if injected > scan:
        keyword = injection_source.split()[0]
        # a start time alone borrows the scan's date: an injection before midnight needs its DT
        dated = "" if keyword == "RadiopharmaceuticalStartDateTime" else " (dated by the scan: no StartDateTime)"
        raise _refuse(
            file,
            keyword,
            f"gives injection at {injected:%Y-%m-%d %H:%M:%S}{dated}, after the scan at "
            f"{scan:%Y-%m-%d %H:%M:%S} ({scan_source})",
        )
    half_life = _positive(item, "RadionuclideHalfLife", file=file, needed_for="SUV needs the half-life in s")
    elapsed = (scan - injected).total_seconds()
    # ADMIN: the scanner already decay corrected the voxels to the injection time
    decay = 1.0 if decay_correction == "ADMIN" else math.exp(-math.log(2) * elapsed / half_life)
    how = (
        f"decay from injection ({injection_source}) to scan ({scan_source}) over {elapsed:.0f} s, "
        f"half-life {half_life:g} s"
    )
    return decay, scan, injected, how


# ----------------------------------------------------------------------------- body mass


def _body_mass(dataset, kind: str, *, file) -> tuple[float, str]:
    """Body weight or James lean body mass, in kg, and how it was found."""
    weight = _positive(dataset, "PatientWeight", file=file, needed_for="SUV needs the patient's weight in kg")
    if kind == "bw":
        return weight, f"body weight {weight:g} kg"
    sex = _text(dataset, "PatientSex")
    if sex not in JAMES:
        raise _refuse(file, "PatientSex", f"is {sex!r}; SUV by lean body mass needs M or F")
    height_cm = 100.0 * _positive(
        dataset, "PatientSize", file=file, needed_for="SUV by lean body mass needs the height in m"
    )
    a, b = JAMES[sex]
    lean = a * weight - b * (weight / height_cm) ** 2
    if lean <= 0:
        # James' formula turns over at high BMI; no lean mass can be stated there
        raise _refuse(
            file,
            "PatientWeight",
            f"{weight:g} kg with {_tag_name('PatientSize')} {height_cm / 100:g} m gives no positive lean "
            "body mass by James' formula; use SUV by body weight",
        )
    return lean, f"James lean body mass {lean:.6g} kg ({sex}, {weight:g} kg, {height_cm:g} cm)"


# ----------------------------------------------------------------------------- factor


def _check_corrections(dataset, decay_correction: str, *, file):
    """``CorrectedImage`` (0028,0051), when filled in, must list attenuation and decay correction."""
    listed = _text(dataset, "CorrectedImage")
    if listed is None:
        return
    corrections = set(listed.upper().split("\\"))
    if "ATTN" not in corrections:
        raise _refuse(file, "CorrectedImage", f"'{listed}' lacks ATTN; SUV needs attenuation-corrected images")
    if "DECY" not in corrections:
        raise _refuse(
            file,
            "CorrectedImage",
            f"'{listed}' lacks DECY, contradicting {_tag_name('DecayCorrection')} {decay_correction}",
        )


def _bqml_factor(dataset, kind, earliest_acquisition, *, file, units, per_unit=1.0, unit_note=""):
    decay_correction = _text(dataset, "DecayCorrection")
    if decay_correction is None:
        raise _refuse(file, "DecayCorrection", f"is missing; SUV from {units} needs START or ADMIN")
    decay_correction = decay_correction.upper()
    if decay_correction not in ("START", "ADMIN"):
        raise _refuse(file, "DecayCorrection", f"is {decay_correction!r}; SUV from {units} needs START or ADMIN")
    _check_corrections(dataset, decay_correction, file=file)
    item = _radiopharmaceutical(dataset, file=file)
    dose = _positive(item, "RadionuclideTotalDose", file=file, needed_for="SUV needs the injected dose in Bq")
    mass, mass_how = _body_mass(dataset, kind, file=file)
    decay, scan, injected, decay_how = _decay(
        dataset, item, earliest_acquisition, file=file, decay_correction=decay_correction
    )
    factor = per_unit * mass * 1000.0 / (dose * decay)
    method = (
        f"SUV{kind} from {units}{unit_note}, DecayCorrection {decay_correction}: {mass_how}, "
        f"dose {dose:g} Bq, {decay_how}, decay factor {decay:.6g}"
    )
    return SuvFactor(factor, kind, units, decay_correction, decay, scan, injected, method)


def suv_factor(dataset, *, file, kind: str = "bw", earliest_acquisition: datetime | None = None) -> SuvFactor:
    """The factor that turns a PET slice's rescaled voxels into SUV.

    Parameters
    ----------
    dataset : pydicom.Dataset
        Header of one slice of a PET series (pixel data not needed).
    file : str or path
        The file it came from, named in messages.
    kind : {"bw", "lbm"}
        SUV by body weight (default) or by James lean body mass.
    earliest_acquisition : datetime, optional
        Earliest ``AcquisitionDate``/``AcquisitionTime`` over the whole series; by default
        this slice's own. The series time is used as scan time only if not after it.

    Returns
    -------
    SuvFactor

    Raises
    ------
    InputError
        One line naming the file and the DICOM field (keyword and tag) that is missing,
        unusable or contradicts another.
    """
    if kind not in SUV_KINDS:
        raise ValueError(f"kind must be one of {SUV_KINDS}, got {kind!r}")
    modality = _text(dataset, "Modality")
    if modality != "PT":
        raise _refuse(file, "Modality", f"is {modality!r}; SUV needs a PET (PT) series")
    units = (_text(dataset, "Units") or "").upper()
    if not units:
        raise _refuse(file, "Units", "is missing; SUV needs BQML, CNTS (Philips) or GML")
    if earliest_acquisition is None and units in ("BQML", "CNTS"):
        earliest_acquisition = _acquisition_time(dataset, file=file)
    if units == "BQML":
        return _bqml_factor(dataset, kind, earliest_acquisition, file=file, units=units)
    if units == "CNTS":
        return _philips_factor(dataset, kind, earliest_acquisition, file=file)
    if units == "GML":
        if kind != "bw":
            raise _refuse(file, "Units", "is GML, SUV of an unstated kind; SUV by lean body mass needs BQML or CNTS")
        return SuvFactor(1.0, kind, units, None, 1.0, None, None, "Units GML: already SUV, left as it is")
    raise _refuse(file, "Units", f"is {units!r}; SUV needs BQML, CNTS (Philips) or GML")


def _philips_factor(dataset, kind, earliest_acquisition, *, file) -> SuvFactor:
    """CNTS: Philips' SUV scale factor (7053,1000), else counts to Bq/mL by (7053,1009)."""
    suv_scale = _philips(dataset, PHILIPS_SUV_SCALE, file=file)
    if suv_scale is not None:
        if kind == "bw":
            return SuvFactor(suv_scale, kind, "CNTS", None, 1.0, None, None, "Units CNTS: Philips SUV scale factor")
        # Philips' factor is SUVbw; the same dose and decay give SUVlbm by the mass ratio
        weight, _ = _body_mass(dataset, "bw", file=file)
        lean, how = _body_mass(dataset, "lbm", file=file)
        method = f"Units CNTS: Philips SUV scale factor x lean/body weight, {how}"
        return SuvFactor(suv_scale * lean / weight, kind, "CNTS", None, 1.0, None, None, method)
    to_bqml = _philips(dataset, PHILIPS_BQML_SCALE, file=file)
    if to_bqml is None:
        raise _refuse(
            file,
            "Units",
            f"is CNTS without Philips' SUV scale factor (7053,1000) or activity concentration scale factor "
            f"(7053,1009) of {PHILIPS_CREATOR!r}; counts cannot be converted to SUV",
        )
    note = f" (counts x Philips activity concentration scale factor {to_bqml:g})"
    return _bqml_factor(dataset, kind, earliest_acquisition, file=file, units="CNTS", per_unit=to_bqml, unit_note=note)


# ----------------------------------------------------------------------------- series


def _read_header(file: str):
    try:
        return pydicom.dcmread(file, stop_before_pixels=True)
    except (InvalidDicomError, OSError) as err:
        raise InputError(f"cannot read DICOM header: {err}", file=file) from None


def _fields(dataset) -> dict:
    """The values the factor uses, as text, for comparing slices (None when absent)."""
    values = {keyword: _text(dataset, keyword) for keyword in SERIES_FIELDS}
    items = dataset.get("RadiopharmaceuticalInformationSequence") or []
    for keyword in RADIOPHARMACEUTICAL + RADIOPHARMACEUTICAL_TIMES:
        values[keyword] = "|".join(str(_text(item, keyword)) for item in items) or None
    for label, offset in (("(7053,1000)", PHILIPS_SUV_SCALE), ("(7053,1009)", PHILIPS_BQML_SCALE)):
        try:
            block = dataset.private_block(0x7053, PHILIPS_CREATOR)
            values[label] = str(block[offset].value) if offset in block else None
        except KeyError:
            values[label] = None
    return values


def _check_agreement(headers: list, files: list[str]):
    """Every slice must carry the first slice's SUV fields, so one factor fits all."""
    first = _fields(headers[0])
    for dataset, file in zip(headers[1:], files[1:]):
        for field, value in _fields(dataset).items():
            if value != first[field]:
                name = _tag_name(field) if not field.startswith("(") else f"Philips scale factor {field}"
                raise InputError(
                    f"{name} is {value!r} here but {first[field]!r} in {Path(files[0]).name}; "
                    "the slices of a series must agree",
                    file=file,
                )


def series_suv_factor(series_dir, *, kind: str = "bw") -> SuvFactor:
    """The SUV factor of a PET DICOM series folder, from its headers only.

    Every slice's header is read (no pixel data); the slices must agree on the fields
    the factor uses, and the earliest acquisition over them decides the scan time.

    Parameters
    ----------
    series_dir : str or path
        A folder holding one PET DICOM series.
    kind : {"bw", "lbm"}
        SUV by body weight (default) or by James lean body mass.

    Returns
    -------
    SuvFactor

    Raises
    ------
    InputError
        As for :func:`suv_factor`, or when the folder holds no single series or its
        slices disagree; the message names the file.
    """
    files, headers = _series_headers(series_dir)
    return _factor_of(files, headers, kind)


def _series_headers(series_dir) -> tuple[list[str], list]:
    folder = Path(series_dir)
    if not folder.is_dir():
        raise InputError("not a DICOM series folder", file=folder)
    files = dicom_series_files(folder)
    headers = [_read_header(file) for file in files]
    _check_agreement(headers, files)
    return files, headers


def _factor_of(files: list[str], headers: list, kind: str) -> SuvFactor:
    units = (_text(headers[0], "Units") or "").upper()
    earliest = None
    if units in ("BQML", "CNTS"):
        earliest = min(_acquisition_time(dataset, file=file) for dataset, file in zip(headers, files))
    return suv_factor(headers[0], file=files[0], kind=kind, earliest_acquisition=earliest)


def read_pet_suv(series_dir, *, kind: str = "bw") -> sitk.Image:
    """Read a PET DICOM series folder as SUV.

    SimpleITK's series reader applies each slice's Rescale Slope and Intercept (as
    32-bit float, since slopes differ between slices); the result is multiplied by
    :func:`series_suv_factor`. The factor and its method are stored in the image's
    metadata keys ``suv_factor`` and ``suv_method``.

    Parameters
    ----------
    series_dir : str or path
        A folder holding one PET DICOM series (Units BQML, CNTS with Philips' factors,
        or GML).
    kind : {"bw", "lbm"}
        SUV by body weight (default) or by James lean body mass.

    Returns
    -------
    SimpleITK.Image
        SUV, 32-bit float, with the series' geometry.

    Raises
    ------
    InputError
        As for :func:`series_suv_factor`, or when the pixel data cannot be read.
    """
    files, headers = _series_headers(series_dir)
    suv = _factor_of(files, headers, kind)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    # float output: with an integer first slope, the reader would truncate the others
    reader.SetOutputPixelType(sitk.sitkFloat32)
    try:
        image = reader.Execute()
    except RuntimeError as err:
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise InputError(f"cannot read PET pixel data: {reason}", file=series_dir) from None
    if suv.factor != 1.0:
        image = image * suv.factor
    image.SetMetaData("suv_factor", repr(suv.factor))
    image.SetMetaData("suv_method", suv.method)
    return image
