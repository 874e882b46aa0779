"""The CSV reader every layout shares: column contracts, true line numbers, encodings, malformed rows."""
from fixtures.builders import assert_one, edit_csv, problem_lines


def test_unknown_column(native):
    edit_csv(native.parent / "data" / "joint_scores.csv", lambda df: df.insert(5, "reader", "A"))
    assert_one(problem_lines(native), "joint_scores.csv:1: reader:", "unknown column in the joint_scores table")


def test_missing_required_column(native):
    edit_csv(native.parent / "data" / "joint_scores.csv", lambda df: df.drop(columns="grade", inplace=True))
    assert_one(problem_lines(native), "joint_scores.csv:1: grade:", "required column missing")


def test_blank_lines_and_quoted_newlines_keep_true_line_numbers(native):
    scores = native.parent / "data" / "joint_scores.csv"
    header, first, second, third, *rest = scores.read_text().splitlines()
    first = first.replace(",erosion,", ',"erosion\nsecond line",', 1)  # file lines 2-3
    fields = third.split(",")
    fields[4] = "9"
    text = "\n".join([header, first, second, "", ",".join(fields), *rest])  # blank line 5, third row on line 6
    scores.write_text(text + "\n")
    found = problem_lines(native)
    assert_one(found, "joint_scores.csv:2: kind:", "unknown kind")
    assert_one(found, "joint_scores.csv:6: grade:", "grade 9 out of range")


def test_table_that_is_not_utf8_names_its_line(native):
    images = native.parent / "data" / "images.csv"
    raw = images.read_bytes().replace(b"HAND", "HÄND".encode("latin-1"), 1)
    images.write_bytes(raw)
    assert_one(problem_lines(native), "images.csv:2:", "not UTF-8 text")


def test_rows_with_too_many_or_too_few_values_and_repeated_columns(native):
    images = native.parent / "data" / "images.csv"
    lines = images.read_text().splitlines()
    lines[2] += ",extra"
    lines[3] = ",".join(lines[3].split(",")[:3])
    images.write_text("\n".join(lines) + "\n")
    found = problem_lines(native)
    assert_one(found, "images.csv:3:", "row has 7 values; the header has 6")
    assert_one(found, "images.csv:4:", "row has 3 values; the header has 6")
    readers = native.parent / "data" / "readers.csv"
    readers.write_text(readers.read_text().replace("reader_id,", "grade,", 1))
    assert_one(problem_lines(native), "readers.csv:1: grade:", "appears twice in the header")


def test_header_only_images_table_is_an_error(native):
    images = native.parent / "data" / "images.csv"
    images.write_text(images.read_text().splitlines()[0] + "\n")
    found = problem_lines(native)
    assert_one(found, "manifest.yaml", "tables:", "the cohort has no images")
