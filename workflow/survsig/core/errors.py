"""One exception type for bad input, with a message that says where the problem is."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: names the file, the patient or row, and the column.

    Parameters
    ----------
    message : str
        What is wrong, in the user's words (``"not a number: 'abc'"``).
    file : str or path, optional
        The file holding the bad value.
    patient : str, optional
        Patient id of the bad row, when known.
    row : int, optional
        1-based data row in the file (the header is row 0), when known.
    column : str, optional
        Column name as it stands in the user's file.
    """

    def __init__(self, message, *, file=None, patient=None, row=None, column=None):
        self.file = None if file is None else str(file)
        self.patient = patient
        self.row = row
        self.column = column
        self.reason = message
        where = []
        if self.file is not None:
            where.append(self.file)
        if patient is not None:
            where.append(f"patient {patient!s}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
