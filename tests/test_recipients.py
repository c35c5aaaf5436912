"""Recipient lists as clerks have them: a 分发登记表 exported with Chinese column names."""

from __future__ import annotations

import pytest

from leakmark.errors import InputFileError
from leakmark.recipients import read_csv


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_chinese_column_names(tmp_path, encoding):
    path = tmp_path / "分发.csv"
    path.write_bytes("姓名,单位,份号,备注\n王强,技术处,7,首批\n李娜,财务处,,\n".encode(encoding))
    people = read_csv(path)
    assert [(p.name, p.unit, p.copy_no, p.note) for p in people] == [("王强", "技术处", 7, "首批"),
                                                                      ("李娜", "财务处", None, "")]


def test_a_header_without_a_name_column_says_which_names_it_takes(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("who,where\nA,B\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="`name` or `姓名`"):
        read_csv(path)
