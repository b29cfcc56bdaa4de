"""read_paths over mbox files, Maildir folders, .eml files and directories of them."""

from __future__ import annotations

import mailbox
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pytest

from triage.model import RawMail
from triage.sources.local import LocalSourceError, read_paths

NOV_3 = datetime(2025, 11, 3, 9, 0, tzinfo=UTC)


def message_bytes(number: int, body: str = "") -> bytes:
    return (
        f"From: customer{number}@example.com\nTo: support@example.com\nSubject: Order {number}\n"
        f"Message-ID: <m{number}@example.com>\n\n{body or f'Where is order {number}?'}\n"
    ).encode()


def write_mbox(path: Path, bodies: list[str]) -> None:
    box = mailbox.mbox(path)
    try:
        for number, body in enumerate(bodies):
            entry = mailbox.mboxMessage(message_bytes(number, body))
            entry.set_from(f"customer{number}@example.com", time.gmtime(NOV_3.timestamp() + 60 * number))
            box.add(entry)
        box.flush()
    finally:
        box.close()


def subjects(mails: list[RawMail]) -> list[str]:
    return [
        line.decode().removeprefix("Subject: ")
        for mail in mails
        for line in mail.raw.splitlines()
        if line.startswith(b"Subject: ")
    ]


def test_mbox_gives_each_message_in_order_with_its_envelope_date(tmp_path: Path) -> None:
    path = tmp_path / "archive.mbox"
    write_mbox(path, ["", "", ""])
    mails = list(read_paths([path]))
    assert subjects(mails) == ["Order 0", "Order 1", "Order 2"]
    assert [mail.internal_date for mail in mails] == [
        NOV_3,
        datetime(2025, 11, 3, 9, 1, tzinfo=UTC),
        datetime(2025, 11, 3, 9, 2, tzinfo=UTC),
    ]
    for number, mail in enumerate(mails):
        assert not mail.raw.startswith(b"From ")  # the envelope line is not part of the message
        assert mail.raw.startswith(f"From: customer{number}@example.com".encode())
        assert f"Where is order {number}?".encode() in mail.raw


def test_mbox_body_lines_starting_with_from_are_unescaped(tmp_path: Path) -> None:
    path = tmp_path / "archive.mbox"
    body = "From what I can see the parcel never left the warehouse."
    write_mbox(path, [body])
    (mail,) = read_paths([path])
    assert mail.raw == message_bytes(0, body)


def test_maildir_gives_new_and_cur_messages_with_delivery_dates(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    subdirs: list[Literal["new", "cur"]] = ["new", "cur"]
    for number, subdir in enumerate(subdirs):
        entry = mailbox.MaildirMessage(message_bytes(number))
        entry.set_subdir(subdir)
        entry.set_date(NOV_3.timestamp() + number)
        box.add(entry)
    mails = sorted(read_paths([tmp_path / "Maildir"]), key=lambda mail: mail.raw)
    assert [mail.raw for mail in mails] == [message_bytes(0), message_bytes(1)]
    assert [mail.internal_date for mail in mails] == [NOV_3, datetime(2025, 11, 3, 9, 0, 1, tzinfo=UTC)]


def test_empty_maildir_gives_nothing(tmp_path: Path) -> None:
    mailbox.Maildir(tmp_path / "Maildir", create=True)
    assert list(read_paths([tmp_path / "Maildir"])) == []


def test_single_eml_file_is_read_whole_with_its_mtime(tmp_path: Path) -> None:
    path = tmp_path / "complaint.eml"
    raw = message_bytes(7).replace(b"\n", b"\r\n")
    path.write_bytes(raw)
    os.utime(path, (NOV_3.timestamp(), NOV_3.timestamp()))
    assert list(read_paths([path])) == [RawMail(raw=raw, internal_date=NOV_3)]


def test_eml_file_with_an_mbox_envelope_line_is_read_as_mbox(tmp_path: Path) -> None:
    path = tmp_path / "exported.eml"
    path.write_bytes(b"From customer7@example.com Mon Nov  3 09:00:00 2025\n" + message_bytes(7))
    (mail,) = read_paths([path])
    assert mail.raw == message_bytes(7)
    assert mail.internal_date == NOV_3


def test_directory_of_eml_files_in_name_order(tmp_path: Path) -> None:
    for number in (2, 0, 1):
        (tmp_path / f"{number:02d}.eml").write_bytes(message_bytes(number))
    (tmp_path / "notes.txt").write_text("not mail")
    (tmp_path / "index.json").write_text("{}")
    mails = list(read_paths([tmp_path]))
    assert [mail.raw for mail in mails] == [message_bytes(0), message_bytes(1), message_bytes(2)]
    assert all(mail.internal_date is not None for mail in mails)


def test_directory_reaches_into_subfolders_and_maildirs(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.eml").write_bytes(message_bytes(1))
    write_mbox(tmp_path / "b.mbox", [""])
    box = mailbox.Maildir(tmp_path / "c", create=True)
    box.add(mailbox.MaildirMessage(message_bytes(2)))
    assert subjects(list(read_paths([tmp_path]))) == ["Order 1", "Order 0", "Order 2"]


def test_paths_are_read_in_the_order_given(tmp_path: Path) -> None:
    first, second = tmp_path / "z.eml", tmp_path / "a.eml"
    first.write_bytes(message_bytes(1))
    second.write_bytes(message_bytes(2))
    assert [mail.raw for mail in read_paths([first, second])] == [message_bytes(1), message_bytes(2)]


def test_missing_path_raises_local_source_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.mbox"
    with pytest.raises(LocalSourceError, match=r"nowhere\.mbox"):
        list(read_paths([missing]))


def test_missing_path_after_a_good_one_still_raises(tmp_path: Path) -> None:
    good = tmp_path / "good.eml"
    good.write_bytes(message_bytes(1))
    reader = read_paths([good, tmp_path / "missing.eml"])
    assert next(reader).raw == message_bytes(1)
    with pytest.raises(LocalSourceError):
        next(reader)
