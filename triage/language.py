"""Language of a text: a cheap guess between English, Indonesian and other."""

from __future__ import annotations

import re

ENGLISH_WORDS = frozenset(
    """the a an and or but is are was were be been am i you he she we they it my your our
    their this that these those to of in on for with at by from not no have has had do does
    did can could would should will please thank thanks hello hi dear when why how what which
    who there here if so as me us them any some all just still again yet been already""".split()
)
INDONESIAN_WORDS = frozenset(
    """yang dan di ke dari untuk ini itu saya aku kami kita anda kamu dia mereka tidak tak
    bukan sudah belum akan bisa dapat mohon tolong dengan pada apa apakah kapan berapa kenapa
    mengapa bagaimana gimana ada karena jadi juga lagi masih sampai sekarang terima kasih
    selamat pagi siang sore malam bapak ibu kak min sy tdk gak nggak ga udah sdh blm yg utk
    dgn krn mhn gmn knp jg lg bgt aja saja hari nya dong ya kah pak bu telah agar supaya""".split()
)
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def guess_language(text: str) -> str:
    """Return "en", "id" or "other" by counting common function words of each language."""
    words = [w.lower() for w in WORD.findall(text[:20000])]
    if not words:
        return "other"
    english = sum(w in ENGLISH_WORDS for w in words)
    indonesian = sum(w in INDONESIAN_WORDS for w in words)
    if max(english, indonesian) < max(1, len(words) // 20):
        return "other"
    return "id" if indonesian > english else "en"
