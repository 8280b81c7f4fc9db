"""A handout as a PDF, drawn with fpdf2 (pure Python) in DejaVu Sans.

The font is bundled (`fonts/`, from the DejaVu fonts as packaged on PyPI by
rinoh-typeface-dejavusans; Bitstream Vera licence, see LICENSE-DejaVu.txt), so
names and instructions in any Latin, Greek or Cyrillic script print as written;
a character the font lacks is printed as its closest plain letter, or `?`.
Thumbnails come from MEDIA_DIR; one that is missing or unreadable leaves a
framed blank, never a broken handout.
"""

from __future__ import annotations

import logging
import unicodedata
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from app.handouts.service import Handout, HandoutExercise, HandoutStage

logger = logging.getLogger("app.handouts")
FONTS = Path(__file__).parent / "fonts"
REGULAR = FONTS / "DejaVuSans.ttf"
BOLD = FONTS / "DejaVuSans-Bold.ttf"
FAMILY = "DejaVu"
THUMB = 32.0  # mm
SMALL_THUMB = 18.0  # a locked exercise's teaser takes less paper
GAP = 4.0
Rgb = tuple[int, int, int]
INK: Rgb = (33, 37, 41)
MUTED: Rgb = (108, 117, 125)
ACCENT: Rgb = (13, 110, 253)
LOCKED: Rgb = (173, 181, 189)
STATE_LABELS = {
    "done": "done",
    "current": "you are here",
    "locked": "locked",
    "ahead": "coming up",
}


@cache
def _glyphs() -> frozenset[int]:
    with TTFont(str(REGULAR), lazy=True) as font:
        return frozenset(font.getBestCmap())


def printable(text: str) -> str:
    """`text` with every character the font cannot draw replaced by its plain letter or `?`."""
    glyphs = _glyphs()
    out = []
    for char in text:
        if ord(char) in glyphs or char in "\n\t":
            out.append(char)
            continue
        plain = "".join(
            c for c in unicodedata.normalize("NFKD", char) if ord(c) in glyphs and c.isprintable()
        )
        out.append(plain or "?")
    return "".join(out)


class _Pdf(FPDF):
    def __init__(self, handout: Handout) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.handout = handout
        self.add_font(FAMILY, "", str(REGULAR))
        self.add_font(FAMILY, "B", str(BOLD))
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(printable(f"{handout.program_name} - {handout.patient_name}"))
        self.set_creator("Rehab API")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(*MUTED)
        who = printable(f"{self.handout.program_name} for {self.handout.patient_name}")
        self.cell(0, 5, f"{who}  ·  page {self.page_no()} of {{nb}}", align="C")

    def text_block(
        self, text: str, size: float = 10, *, bold: bool = False, color: Rgb = INK
    ) -> None:
        self.set_font(FAMILY, "B" if bold else "", size)
        self.set_text_color(*color)
        self.multi_cell(0, size * 0.5, printable(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def render_pdf(handout: Handout, media_dir: Path) -> bytes:
    pdf = _Pdf(handout)
    pdf.add_page()
    _title(pdf, handout)
    for stage in handout.stages:
        _stage(pdf, stage, media_dir)
    return bytes(pdf.output())


def _title(pdf: _Pdf, handout: Handout) -> None:
    pdf.text_block(handout.clinic_name or "Your exercise program", 9, color=MUTED)
    pdf.ln(1)
    pdf.text_block(handout.program_name, 20, bold=True)
    pdf.ln(1)
    total = len(handout.stages)
    current = handout.current
    where = (
        "Program completed"
        if handout.completed
        else f"Stage {handout.current_stage} of {total}" + (f": {current.name}" if current else "")
    )
    pdf.text_block(f"For {handout.patient_name}  ·  {where}", 11)
    pdf.text_block(f"Printed {handout.printed_at:%d %B %Y}", 8, color=MUTED)
    pdf.ln(3)
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(0.6)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(4)


def _stage(pdf: _Pdf, stage: HandoutStage, media_dir: Path) -> None:
    if pdf.get_y() > pdf.h - 70:
        pdf.add_page()
    label = STATE_LABELS.get(stage.state, stage.state)
    color = LOCKED if stage.state == "locked" else ACCENT
    pdf.text_block(f"Stage {stage.position}: {stage.name}  ({label})", 14, bold=True, color=color)
    if stage.state == "locked":
        pdf.text_block(
            "Not unlocked yet: its exercises are listed so you know what is coming. "
            + stage.unlock_hint,
            9,
            color=MUTED,
        )
    elif stage.guidance:
        pdf.text_block(stage.guidance, 10)
    pdf.ln(2)
    for exercise in stage.exercises:
        _exercise(pdf, exercise, media_dir)
    pdf.ln(2)


def _exercise(pdf: _Pdf, exercise: HandoutExercise, media_dir: Path) -> None:
    if pdf.get_y() > pdf.h - 55:
        pdf.add_page()
    top = pdf.get_y()
    size = SMALL_THUMB if exercise.locked else THUMB
    _thumbnail(pdf, exercise.thumbnail_key, media_dir, pdf.l_margin, top, size)
    left = pdf.l_margin + size + GAP
    pdf.set_left_margin(left)
    pdf.set_xy(left, top)
    pdf.text_block(exercise.name, 12, bold=True, color=LOCKED if exercise.locked else INK)
    pdf.text_block(exercise.summary, 9, color=MUTED)
    if exercise.locked:
        pdf.text_block("Locked: the instructions print once you reach this stage.", 9, color=MUTED)
    else:
        pdf.text_block(exercise.dosage, 10, bold=True, color=ACCENT)
        _list(pdf, "How to do it", exercise.steps, numbered=True)
        _list(pdf, "Coaching cues", exercise.cues)
        _list(pdf, "Avoid", exercise.mistakes)
        _list(pdf, "Precautions", exercise.precautions)
    pdf.set_left_margin(15)
    pdf.set_x(15)
    pdf.set_y(max(pdf.get_y(), top + size) + GAP)


def _list(pdf: _Pdf, title: str, items: tuple[str, ...], *, numbered: bool = False) -> None:
    if not items:
        return
    pdf.ln(1)
    pdf.text_block(title, 9, bold=True)
    for index, item in enumerate(items, start=1):
        mark = f"{index}." if numbered else "•"
        pdf.text_block(f"{mark} {item}", 9)


def _thumbnail(
    pdf: _Pdf, key: str | None, media_dir: Path, x: float, y: float, size: float
) -> None:
    path = _media_file(media_dir, key)
    if path is not None:
        try:
            pdf.image(str(path), x=x, y=y, w=size, h=size, keep_aspect_ratio=True)
            return
        except Exception:  # a bad image leaves a blank frame; the handout still prints
            logger.warning("Thumbnail %s could not be drawn in a handout", key, exc_info=True)
    pdf.set_draw_color(*LOCKED)
    pdf.set_line_width(0.3)
    pdf.rect(x, y, size, size)


def _media_file(media_dir: Path, key: str | None) -> Path | None:
    """The file for `key` inside MEDIA_DIR, or None (missing, or outside it)."""
    if not key:
        return None
    root = media_dir.resolve()
    candidate = (root / key).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate
