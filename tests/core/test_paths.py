"""User-given paths (survsig.core.paths) and atomic writes that name the output asked
for (survsig.core.io.atomic_path): a named pipe, a device, a folder or a missing folder is
one line naming the path, never a wait, a stream without end or a traceback."""

import errno
import json
import os
import tempfile

import pytest

from survsig.core import io
from survsig.core.errors import InputError
from survsig.core.jsonkeys import MAX_JSON_DEPTH, read_json
from survsig.core.logs import storage_error
from survsig.core.paths import (
    byte_text,
    checked_input_path,
    checked_output_path,
    open_checked,
    read_checked_bytes,
)


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "sheet.tsv"
    os.mkfifo(path)
    return path


# --------------------------------------------------------------------------- inputs
def test_a_regular_file_passes_and_comes_back_as_a_path(tmp_path):
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("patient_id\nP1\n")
    assert checked_input_path(str(sheet), what="the sheet") == sheet
    assert read_checked_bytes(sheet, what="the sheet", max_bytes=100) == b"patient_id\nP1\n"


def test_a_named_pipe_is_refused_without_waiting(fifo, deadline):
    expected = f"{fifo}: cannot read the sheet: it is a named pipe (FIFO), not a regular file; reading it would wait"
    for check in (checked_input_path, open_checked):
        with pytest.raises(InputError) as info:
            check(fifo, what="the sheet")
        assert str(info.value).startswith(expected)
        assert info.value.file == str(fifo)


def test_a_device_is_refused_unread(deadline):
    with pytest.raises(InputError) as info:
        read_checked_bytes("/dev/zero", what="the sheet", max_bytes=1 << 30)
    assert str(info.value) == (
        "/dev/zero: cannot read the sheet: it is a character device, not a regular file; "
        "reading it could go on without end"
    )


def test_a_folder_is_refused_unless_the_format_is_one(tmp_path):
    with pytest.raises(InputError, match=r"cannot read the sheet: it is a folder, not a regular file$"):
        checked_input_path(tmp_path, what="the sheet")
    assert checked_input_path(tmp_path, what="the image", kinds=("file", "dicom")) == tmp_path


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("absent.tsv", "No such file or directory"),
        ("no_folder/absent.tsv", "No such file or directory"),  # a missing parent
        ("file.txt/absent.tsv", "Not a directory"),  # a file where a folder should be
    ],
)
def test_missing_files_and_parents_are_named(tmp_path, name, reason):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InputError) as info:
        checked_input_path(tmp_path / name, what="the sheet")
    assert str(info.value) == f"{tmp_path / name}: cannot read the sheet ({reason})"


def test_an_empty_name_is_refused():
    with pytest.raises(InputError, match=r"^no path given for the sheet \(the name is empty\)$"):
        checked_input_path("", what="the sheet")


def test_a_file_over_its_formats_bound_is_refused_unread(tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2049)
    with pytest.raises(InputError) as info:
        read_checked_bytes(big, what="the nomogram file", max_bytes=2048)
    assert str(info.value) == f"{big}: cannot read the nomogram file: it holds 2 KiB, more than the 2 KiB accepted"
    assert read_checked_bytes(big, what="the nomogram file", max_bytes=2049) == b" " * 2049
    assert [byte_text(n) for n in (512, 1 << 20, 3 << 29)] == ["512 bytes", "1 MiB", "1.5 GiB"]


def test_json_nested_absurdly_deep_is_one_line(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    message = f"the nomogram file nests arrays and objects more than {MAX_JSON_DEPTH} deep"
    with pytest.raises(InputError, match=message):
        read_json(deep, what="the nomogram file")
    # below the parser's own limit, the bound still holds
    deep.write_text('{"a": ' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1))
    with pytest.raises(InputError, match=message):
        read_json(deep, what="the nomogram file")
    deep.write_text('{"a": ' * MAX_JSON_DEPTH + "1" + "}" * MAX_JSON_DEPTH)
    assert json.dumps(read_json(deep, what="the nomogram file")).count("{") == MAX_JSON_DEPTH


# --------------------------------------------------------------------------- outputs
def test_a_new_file_in_a_new_folder_may_be_written(tmp_path):
    assert checked_output_path(tmp_path / "new" / "deeper" / "out.tsv") == tmp_path / "new" / "deeper" / "out.tsv"
    (tmp_path / "old.tsv").write_text("replaced")
    assert checked_output_path(str(tmp_path / "old.tsv"), inputs=[tmp_path / "other.tsv"]) == tmp_path / "old.tsv"


def test_outputs_that_cannot_be_written_are_one_line(tmp_path, fifo):
    (tmp_path / "file.txt").write_text("x")
    cases = {
        "": "no path given for the output (the name is empty)",
        str(tmp_path): f"{tmp_path}: cannot write the output: it is a folder, not a regular file",
        f"{tmp_path}/new/": f"{tmp_path}/new/: cannot write the output: the path ends with a separator",
        str(fifo): f"{fifo}: cannot write the output: it is a named pipe (FIFO), not a regular file",
        "/dev/zero": "/dev/zero: cannot write the output: it is a character device, not a regular file",
        str(tmp_path / "file.txt" / "out.tsv"): f"{tmp_path / 'file.txt' / 'out.tsv'}: cannot write the output (",
    }
    for path, expected in cases.items():
        with pytest.raises(InputError) as info:
            checked_output_path(path)
        assert str(info.value).startswith(expected), (path, str(info.value))


def test_an_output_that_is_an_input_is_refused(tmp_path, monkeypatch):
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("patient_id\nP1\n")
    link = tmp_path / "link.tsv"
    link.symlink_to(sheet)
    hard = tmp_path / "hard.tsv"
    os.link(sheet, hard)
    monkeypatch.chdir(tmp_path)
    for output in (sheet, "sheet.tsv", "./sub/../sheet.tsv", link, hard):
        with pytest.raises(InputError) as info:
            checked_output_path(output, inputs=("model.json", sheet))
        assert (
            str(info.value)
            == f"{output}: cannot write the output: it is the input {sheet}, which writing would overwrite"
        )
    assert sheet.read_text() == "patient_id\nP1\n"


# --------------------------------------------------------------------------- atomic writes
@pytest.mark.parametrize(
    ("code", "where"),
    [(errno.ENOSPC, "write"), (errno.EROFS, "create"), (errno.EACCES, "create"), (errno.ENOSPC, "replace")],
)
def test_a_refused_write_names_the_output_not_the_temporary_file(tmp_path, monkeypatch, code, where):
    out = tmp_path / "scores.tsv"

    def refuse(*args, **kwargs):  # as the OS names it: the temporary file (os.replace's first argument)
        name = args[0] if where == "replace" else tmp_path / ".scores.tsv.abcd1234.tsv"
        raise OSError(code, os.strerror(code), str(name))

    if where == "create":
        monkeypatch.setattr(tempfile, "mkstemp", refuse)
    if where == "replace":
        monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError) as info:
        with io.atomic_path(out) as tmp:
            if where == "write":
                raise OSError(code, os.strerror(code), str(tmp))
            tmp.write_text("data")
    assert info.value.errno == code and info.value.filename == str(out)
    assert storage_error(info.value).startswith(f"cannot write {out}: ")
    assert sorted(tmp_path.iterdir()) == []  # neither the output nor the temporary file


def test_other_errors_of_a_writer_pass_unchanged(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        with io.atomic_path(tmp_path / "out.tsv"):
            open(tmp_path / "some_input.tsv")  # noqa: SIM115 - an input the writer reads, not the output
    assert info.value.filename == str(tmp_path / "some_input.tsv")
