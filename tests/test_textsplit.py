"""split_text and html_to_text: what the sender wrote now, apart from quoted history and signature."""

from __future__ import annotations

import pytest

from triage.textsplit import html_to_text, split_text

QUESTION = "Has your parcel arrived yet?"
PERTANYAAN = "Apakah paket sudah sampai?"


def test_on_wrote_on_one_line() -> None:
    text = (
        "Yes, it arrived today, thanks.\n\n"
        "On Mon, 3 Nov 2025 at 10:00, Support Team <support@example.com> wrote:\n"
        f"> {QUESTION}\n> Regards, Support\n"
    )
    split = split_text(text)
    assert split.new == "Yes, it arrived today, thanks."
    assert split.quoted.startswith("On Mon, 3 Nov 2025")
    assert QUESTION in split.quoted
    assert split.signature == ""


def test_on_wrote_wrapped_over_two_lines() -> None:
    text = (
        "Yes, it arrived today.\n\n"
        "On Mon, 3 Nov 2025 at 10:00, Support Team\n"
        "<support@example.com> wrote:\n\n"
        f"{QUESTION}\n"  # some clients do not prefix the history with '>'
    )
    split = split_text(text)
    assert split.new == "Yes, it arrived today."
    assert QUESTION in split.quoted
    assert split.quoted.startswith("On Mon, 3 Nov 2025 at 10:00, Support Team\n<support@example.com> wrote:")


def test_pada_menulis() -> None:
    text = (
        "Sudah sampai kak, terima kasih.\n\n"
        "Pada Sen, 3 Nov 2025 pukul 10.00 Tim Dukungan <support@example.com> menulis:\n"
        f"> {PERTANYAAN}\n"
    )
    split = split_text(text)
    assert split.new == "Sudah sampai kak, terima kasih."
    assert PERTANYAAN in split.quoted


def test_pada_menulis_wrapped_over_two_lines() -> None:
    text = (
        f"Belum kak.\n\nPada Sen, 3 Nov 2025 pukul 10.00 Tim Dukungan\n<support@example.com> menulis:\n\n{PERTANYAAN}\n"
    )
    split = split_text(text)
    assert split.new == "Belum kak."
    assert PERTANYAAN in split.quoted


def test_outlook_original_message() -> None:
    text = (
        "Still waiting for the refund.\n\n"
        "-----Original Message-----\n"
        "From: Support <support@example.com>\n"
        "Sent: Monday, November 3, 2025 10:00 AM\n"
        "Subject: Refund\n\n"
        "When did you send the item back?\n"
    )
    split = split_text(text)
    assert split.new == "Still waiting for the refund."
    assert split.quoted.startswith("-----Original Message-----")
    assert "When did you send the item back?" in split.quoted


def test_outlook_from_sent_block() -> None:
    text = (
        "Still waiting for the refund.\n\n"
        "From: Support <support@example.com>\n"
        "Sent: Monday, November 3, 2025 10:00 AM\n"
        "To: Ann Customer\n"
        "Subject: Refund\n\n"
        "When did you send the item back?\n"
    )
    split = split_text(text)
    assert split.new == "Still waiting for the refund."
    assert split.quoted.startswith("From: Support")
    assert "When did you send the item back?" in split.quoted


def test_outlook_dari_terkirim_block() -> None:
    text = (
        "Masih menunggu refund.\n\n"
        "Dari: Dukungan <support@example.com>\n"
        "Terkirim: Senin, 3 November 2025 10.00\n"
        "Kepada: Ani\n"
        "Subjek: Refund\n\n"
        "Kapan barang dikirim kembali?\n"
    )
    split = split_text(text)
    assert split.new == "Masih menunggu refund."
    assert split.quoted.startswith("Dari: Dukungan")
    assert "Kapan barang dikirim kembali?" in split.quoted


def test_outlook_underscore_rule() -> None:
    text = (
        "See my answer below.\n\n"
        "________________________________\n"
        "From: Support <support@example.com>\n"
        "What is your order number?\n"
    )
    split = split_text(text)
    assert split.new == "See my answer below."
    assert split.quoted.startswith("_" * 32)
    assert "What is your order number?" in split.quoted


def test_from_line_without_sent_line_is_not_a_quote() -> None:
    text = "From: my experience the courier is slow.\nPlease send it with another one.\n"
    split = split_text(text)
    assert split.new == text.strip()
    assert split.quoted == ""


def test_inline_quotes_between_new_text() -> None:
    text = "> What is your order number?\nIt is 12345.\n> And the postcode?\nIt is 40111.\n"
    split = split_text(text)
    assert split.new == "It is 12345.\nIt is 40111."
    assert split.quoted == "> What is your order number?\n> And the postcode?"


def test_dash_dash_space_signature() -> None:
    split = split_text("My order 12345 never came.\n\n-- \nAnn Customer\n+62 812 0000 0000\n")
    assert split.new == "My order 12345 never came."
    assert split.signature == "Ann Customer\n+62 812 0000 0000"
    assert split.quoted == ""


def test_signature_before_quoted_history() -> None:
    text = (
        "Still nothing arrived.\n-- \nAnn\n\n"
        f"On Mon, 3 Nov 2025 at 10:00, Support <support@example.com> wrote:\n> {QUESTION}\n"
    )
    split = split_text(text)
    assert split.new == "Still nothing arrived."
    assert split.signature == "Ann"
    assert QUESTION in split.quoted


@pytest.mark.parametrize(
    ("text", "new", "footer"),
    [
        ("Where is my parcel?\n\nSent from my iPhone\n", "Where is my parcel?", "Sent from my iPhone"),
        (
            "Paket saya belum sampai.\n\nDikirim dari Yahoo Mail di Android\n",
            "Paket saya belum sampai.",
            "Dikirim dari Yahoo Mail di Android",
        ),
    ],
)
def test_mobile_footer_is_signature(text: str, new: str, footer: str) -> None:
    split = split_text(text)
    assert split.new == new
    assert split.signature == footer


def test_mobile_footer_followed_by_history() -> None:
    text = (
        "No, not yet.\n\nSent from my iPhone\n\n"
        f"On 3 Nov 2025, at 10:00, Support <support@example.com> wrote:\n\n> {QUESTION}\n"
    )
    split = split_text(text)
    assert split.new == "No, not yet."
    assert split.signature == "Sent from my iPhone"
    assert QUESTION in split.quoted


def test_mobile_footer_words_far_from_the_end_stay_in_the_text() -> None:
    text = "Sent from my iPhone is how I usually write.\nline two\nline three\nline four\nline five\n"
    split = split_text(text)
    assert split.new == text.strip()
    assert split.signature == ""


def test_text_without_any_quote() -> None:
    text = "Hello,\r\nmy order 12345 has not arrived.\r\n\r\n\r\n\r\nPlease check.   \r\n"
    split = split_text(text)
    assert split.new == "Hello,\nmy order 12345 has not arrived.\n\nPlease check."
    assert split.quoted == ""
    assert split.signature == ""


def test_words_like_on_and_wrote_inside_new_text_are_not_a_quote() -> None:
    text = "On Monday I ordered a phone.\nYou wrote to me that it was shipped, but nothing came.\n"
    split = split_text(text)
    assert split.new == text.strip()
    assert split.quoted == ""


def test_empty_text() -> None:
    split = split_text("")
    assert (split.new, split.quoted, split.signature) == ("", "", "")


@pytest.mark.parametrize(
    "header",
    [
        "On Mon, 3 Nov 2025 at 10:00, Support <support@example.com> wrote:",
        "Pada Sen, 3 Nov 2025 pukul 10.00 Support <support@example.com> menulis:",
        "-----Original Message-----",
        "From: Support <support@example.com>\nSent: Monday, 3 November 2025 10:00",
        "Dari: Support <support@example.com>\nTerkirim: Senin, 3 November 2025 10.00",
        "________________________________",
    ],
)
def test_quoted_question_never_ends_up_in_new(header: str) -> None:
    split = split_text(f"Thanks, I will wait.\n\n{header}\n\n{QUESTION}\nKind regards, Support\n")
    assert split.new == "Thanks, I will wait."
    assert QUESTION not in split.new
    assert QUESTION in split.quoted


# --- html_to_text ----------------------------------------------------------------------------


def test_html_blocks_become_lines_and_entities_are_decoded() -> None:
    html = (
        "<div>Hello&nbsp;team,</div><p>order   &lt;12345&gt;\n is late</p>first<br>second<ul><li>a</li><li>b</li></ul>"
    )
    assert html_to_text(html) == "Hello team,\norder <12345> is late\nfirst\nsecond\na\nb"


def test_html_scripts_styles_and_head_are_dropped() -> None:
    html = (
        "<html><head><title>Secret title</title><style>.x { color: red }</style></head>"
        "<body><script>var tracking = 1;</script><p>Visible text</p></body></html>"
    )
    assert html_to_text(html) == "Visible text"


def test_html_blockquote_becomes_quoted_lines() -> None:
    html = (
        "<p>Yes please.</p><blockquote><p>Shall we refund?</p><blockquote>Order 1</blockquote></blockquote><p>Ann</p>"
    )
    assert html_to_text(html) == "Yes please.\n> Shall we refund?\n> > Order 1\nAnn"


def test_html_gmail_reply_splits_into_new_and_quoted() -> None:
    html = (
        '<div dir="ltr">Got it, thanks!</div><br><div class="gmail_quote">'
        '<div class="gmail_attr">On Mon, 3 Nov 2025 at 10:00, Support &lt;support@example.com&gt; wrote:'
        "<br></div>"
        f'<blockquote class="gmail_quote">{QUESTION}</blockquote></div>'
    )
    split = split_text(html_to_text(html))
    assert split.new == "Got it, thanks!"
    assert QUESTION in split.quoted


def test_html_outlook_reply_splits_into_new_and_quoted() -> None:
    html = (
        '<div>Still nothing.</div><hr><div id="divRplyFwdMsg">'
        "<b>From:</b> Support &lt;support@example.com&gt;<br>"
        "<b>Sent:</b> Monday, 3 November 2025 10:00<br><b>Subject:</b> Order</div>"
        "<div>What is your order number?</div>"
    )
    split = split_text(html_to_text(html))
    assert split.new == "Still nothing."
    assert "What is your order number?" in split.quoted


def test_html_empty_and_unclosed_tags() -> None:
    assert html_to_text("") == ""
    assert html_to_text("<p>unclosed <b>bold <i>text") == "unclosed bold text"
