"""The shared floor: what things are called (names), and the plumbing every branch uses
(files, formats, figures, logs, image and table I/O)."""
