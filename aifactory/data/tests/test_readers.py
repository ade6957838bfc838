"""Readers: encodings, delimiters, ragged rows, quoted newlines, mixed types, empty and header-only
files, Excel, JSON, JSON Lines and Parquet become Parquet files that read back as written."""

import codecs
import json

import duckdb
import openpyxl
import pytest

from aifactory.data import readers


def rows_of(converted):
    return duckdb.sql(f"SELECT * FROM read_parquet('{converted.path}')").fetchall()


def read(tmp_path, name, body: bytes, fmt="csv"):
    source = tmp_path / name
    source.write_bytes(body)
    return readers.to_parquet(source, fmt, tmp_path / "out.parquet")


def codes(converted):
    return [w["code"] for w in converted.warnings]


TEXT = "id;name;city\n1;Müller;Köln\n2;Zoë;Liège – “centre”\n"


def test_cp1252_is_detected_and_transcoded(tmp_path):
    c = read(tmp_path, "a.csv", TEXT.encode("cp1252"))
    assert c.dialect["encoding"] == "cp1252"
    assert c.dialect["delimiter"] == ";"
    assert rows_of(c) == [(1, "Müller", "Köln"), (2, "Zoë", "Liège – “centre”")]
    assert c.warnings == []


def test_utf16_with_bom(tmp_path):
    c = read(tmp_path, "a.csv", TEXT.replace(";", "\t").encode("utf-16"))
    assert c.dialect["encoding"] == "utf-16"
    assert c.dialect["delimiter"] == "\t"
    assert rows_of(c)[1] == (2, "Zoë", "Liège – “centre”")


def test_utf8_bom_is_not_part_of_the_first_column_name(tmp_path):
    c = read(tmp_path, "a.csv", codecs.BOM_UTF8 + TEXT.replace(";", "|").encode("utf-8"))
    assert c.dialect["encoding"] == "utf-8-sig"
    assert c.dialect["delimiter"] == "|"
    assert [col["name"] for col in c.schema] == ["id", "name", "city"]


def test_mixed_encodings_best_effort_with_a_warning(tmp_path):
    body = ("id,name\n" + "".join(f"{i},Zoë\n" for i in range(3000))).encode("utf-8")
    body += "3000,Müller\n".encode("cp1252")
    c = read(tmp_path, "a.csv", body)
    assert "mixed_encoding" in codes(c)
    assert "1 bytes" in c.warnings[codes(c).index("mixed_encoding")]["message"]
    assert rows_of(c)[-1] == (3000, "Müller") or (3000, "Müller") in rows_of(c)
    assert c.row_count == 3001


def test_undecodable_bytes_are_replaced_and_counted(tmp_path):
    # 0x81 is undefined in cp1252: replaced, and said.
    c = read(tmp_path, "a.csv", "a;b\n1;é\n2;è\n".encode("cp1252") + b"3;\x81\n")
    assert "encoding_replaced" in codes(c)
    assert sorted(rows_of(c))[-1] == (3, "\ufffd")


@pytest.mark.parametrize("delimiter", [";", "|", "\t", ","])
def test_delimiters(tmp_path, delimiter):
    body = delimiter.join(["a", "b", "c"]) + "\n" + delimiter.join(["1", "x y", "2.5"]) + "\n"
    c = read(tmp_path, "a.csv", body.encode())
    assert c.dialect["delimiter"] == delimiter
    assert rows_of(c) == [(1, "x y", 2.5)]


def test_tsv_format(tmp_path):
    c = read(tmp_path, "a.tsv", b"a\tb\nx\t1\n", fmt="tsv")
    assert rows_of(c) == [("x", 1)]


def test_ragged_rows_are_padded_and_named(tmp_path):
    c = read(tmp_path, "a.csv", b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n")
    assert "ragged_rows" in codes(c)
    assert "lines 3, 4" in c.warnings[0]["message"]
    assert rows_of(c) == [(1, 2, 3, None), (4, 5, None, None), (6, 7, 8, 9), (10, 11, 12, None)]


def test_quoted_newlines_and_ragged_rows_together(tmp_path):
    c = read(tmp_path, "a.csv", b'a,b,c\n1,2,3\n"x\ny",5\n6,7,8\n')
    assert rows_of(c) == [("1", 2, 3), ("x\ny", 5, None), ("6", 7, 8)]


def test_mixed_types_become_text_with_a_warning(tmp_path):
    body = "id,v\n" + "".join(f"{i},{i}\n" for i in range(25000)) + "25000,abc\n"
    c = read(tmp_path, "a.csv", body.encode())
    assert codes(c) == ["mixed_types"]
    assert "'v'" in c.warnings[0]["message"] and "line 25002" in c.warnings[0]["message"]
    assert {col["name"]: col["type"] for col in c.schema} == {"id": "BIGINT", "v": "VARCHAR"}
    assert c.row_count == 25001


@pytest.mark.parametrize("body", [b"", b"\n\n  \n", codecs.BOM_UTF8])
def test_empty_file_is_a_clear_error(tmp_path, body):
    with pytest.raises(readers.ReaderError, match="empty"):
        read(tmp_path, "a.csv", body)


def test_header_only_gives_no_rows_and_the_header_as_schema(tmp_path):
    c = read(tmp_path, "a.csv", b"first,second\n")
    assert c.row_count == 0
    assert c.schema == [
        {"name": "first", "type": "VARCHAR"},
        {"name": "second", "type": "VARCHAR"},
    ]


def test_leading_zeros_are_kept(tmp_path):
    c = read(tmp_path, "a.csv", b"zip,n\n08123,1\n12345,2\n")
    assert rows_of(c) == [("08123", 1), ("12345", 2)]


def test_excel_first_sheet_and_a_warning_for_more(tmp_path):
    import datetime

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Data"
    sheet.append(["id", "name", "day", "kwh"])
    sheet.append([1, "Esch", datetime.date(2024, 1, 2), 1.5])
    sheet.append([2, "Vianden", datetime.date(2024, 1, 3), None])
    book.create_sheet("Notes").append(["ignored"])
    path = tmp_path / "a.xlsx"
    book.save(path)
    c = readers.to_parquet(path, "xlsx", tmp_path / "out.parquet")
    assert codes(c) == ["more_sheets"]
    assert c.dialect["sheet"] == "Data"
    rows = rows_of(c)
    assert [r[:2] for r in rows] == [(1, "Esch"), (2, "Vianden")]
    assert str(rows[0][2]).startswith("2024-01-02")
    assert rows[0][3] == 1.5 and rows[1][3] is None


def test_not_an_excel_file(tmp_path):
    with pytest.raises(readers.ReaderError, match="Excel"):
        read(tmp_path, "a.xlsx", b"PK\x03\x04 not really", fmt="xlsx")


def test_json_array_and_json_lines(tmp_path):
    records = [{"id": 1, "name": "a", "x": 0.5}, {"id": 2, "name": "b", "x": None}]
    c = read(tmp_path, "a.json", json.dumps(records).encode(), fmt="json")
    assert rows_of(c) == [(1, "a", 0.5), (2, "b", None)]
    lines = "\n".join(json.dumps(r) for r in records).encode()
    c = read(tmp_path, "a.jsonl", lines, fmt="jsonl")
    assert rows_of(c) == [(1, "a", 0.5), (2, "b", None)]
    assert c.dialect == {"format": "jsonl"}


def test_broken_json_is_a_reader_error(tmp_path):
    with pytest.raises(readers.ReaderError):
        read(tmp_path, "a.jsonl", b'{"a": 1}\n{"a": \n', fmt="jsonl")


def test_parquet_is_copied(tmp_path):
    source = tmp_path / "in.parquet"
    duckdb.sql(
        f"COPY (SELECT range AS id, 'n' || range AS name FROM range(10)) TO '{source}' (FORMAT parquet)"
    )
    c = readers.to_parquet(source, "parquet", tmp_path / "out.parquet")
    assert c.row_count == 10
    assert c.schema == [{"name": "id", "type": "BIGINT"}, {"name": "name", "type": "VARCHAR"}]


def test_detect_encoding():
    assert readers.detect_encoding(b"a,b\n1,2\n") == "utf-8"
    assert readers.detect_encoding(codecs.BOM_UTF8 + b"a") == "utf-8-sig"
    assert readers.detect_encoding("a,é".encode("utf-16")) == "utf-16"
    assert readers.detect_encoding("Müller,Köln,Liège\n".encode("cp1252")) == "cp1252"


def test_duckdb_limits_come_from_the_settings(settings, tmp_path):
    settings.DATA_DUCKDB_MEMORY = "300MB"
    settings.DATA_DUCKDB_THREADS = 1
    con = readers.connect(tmp_path)
    assert con.execute("SELECT current_setting('threads')").fetchone()[0] == 1
    assert "286" in con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0] is False


def test_not_a_parquet_file(tmp_path):
    with pytest.raises(readers.ReaderError):
        read(tmp_path, "a.parquet", b"PAR1 this is not parquet", fmt="parquet")


def test_rows_that_cannot_be_parsed_are_skipped_and_named(tmp_path):
    c = read(tmp_path, "a.csv", b'a;b\n1;2\n"x"y;3\n4;5\n')
    assert codes(c) == ["rows_skipped"]
    assert "lines 3" in c.warnings[0]["message"]
    assert rows_of(c) == [("1", "2"), ("4", "5")]
