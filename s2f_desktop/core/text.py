"""Hostile text: refusing control characters in identifiers and neutralising them on display.

Case titles, analyst names, agencies, labels and file names end up in terminal tables,
the audit listing, the GUI and the PDF. A newline there forges a table row; an ANSI
escape sequence erases lines on the reader's terminal; a right-to-left override makes
``gpj.exe`` read as ``exe.jpg``. Fields the analyst types are *refused* when they contain
such characters (:func:`check_text`); names we do not control (file names, stored rows
written by older versions or by hand) are *neutralised* wherever they are shown
(:func:`neutralise`): every control or formatting character becomes a visible ``\\xNN`` /
``\\uNNNN`` escape, so what is printed is still unambiguous and nothing is executed.
"""

from __future__ import annotations

import unicodedata

from s2f_desktop.core.errors import InputError

#: Field length limits (characters) for what the analyst types.
MAX_LENGTHS = {"title": 300, "analyst": 200, "agency": 200, "notes": 10000, "label": 200, "speaker_tag": 64,
               "question": 5000, "propositions": 5000, "case_info": 10000, "examiner_role": 200,
               "examiner_qualifications": 5000, "listening_statement": 10000}


#: Fields whose stored name is not what the analyst sees (GUI "Speaker", CLI --speaker).
_SHOWN_AS = {"speaker_tag": "speaker label"}


def _is_unsafe(ch: str, allow_newlines: bool) -> bool:
    if allow_newlines and ch in "\n\t":
        return False
    # Cc: C0/C1 controls (ESC, CR, LF, BEL, CSI...); Cf: bidi overrides, zero-width marks;
    # Cs/Co/Cn: surrogates, private-use and unassigned code points; Zl/Zp: line/paragraph separators.
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def check_text(field: str, value: str, *, max_len: int | None = None, allow_newlines: bool = False) -> str:
    """Return ``value`` stripped, or raise InputError naming the field and the offending character."""
    value = str(value).strip()
    if allow_newlines:  # text pasted from Windows: CRLF line ends are newlines, not control codes
        value = value.replace("\r\n", "\n")
    limit = max_len if max_len is not None else MAX_LENGTHS.get(field, 500)
    name = _SHOWN_AS.get(field, field)
    if len(value) > limit:
        raise InputError(f"{name} is too long ({len(value)} characters; at most {limit})")
    for i, ch in enumerate(value):
        if _is_unsafe(ch, allow_newlines):
            raise InputError(f"{name} contains a control or formatting character (U+{ord(ch):04X} at position "
                             f"{i + 1}); type plain text")
    return value


def neutralise(value: object, *, keep_newlines: bool = False) -> str:
    """Text safe to print on one terminal line: control/formatting characters as visible escapes."""
    out = []
    for ch in str(value):
        if keep_newlines and ch == "\n":
            out.append(ch)
        elif _is_unsafe(ch, False):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)
