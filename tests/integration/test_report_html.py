"""The HTML report rendered by a real browser: headless Chromium (Debian's `chromium`, installed by
tests/cluster/install_system_deps.sh) takes a screenshot and dumps the DOM of a report over a
synthetic campaign with an INVALID finding. The screenshot must be a real picture (the verdict
banner's red at the top, many colours below) and the text must carry the verdict and rule ids."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from mlps import cli
from tests.unit.test_report_builders import build_campaign_tree

pytestmark = pytest.mark.integration
INVALID_RED = (0xB3, 0x26, 0x1E)          # --bad in report_html.CSS: the INVALID banner
WIDTH, HEIGHT = 1400, 2000


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium")
    assert binary, "chromium is missing: run tests/cluster/install_system_deps.sh (as root) to install it"
    return subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'chromium-profile'}", f"--window-size={WIDTH},{HEIGHT}",
                           *args], capture_output=True, text=True, timeout=180, check=True)


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _c, _f, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            corner = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def pixel(rows: list[bytes], x: int, y: int, bpp: int) -> tuple[int, int, int]:
    return tuple(rows[y][x * bpp:x * bpp + 3])


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("html")
    # 8 accelerators over 3 hosts: SYS-ACCEL-EQUAL makes the verdict INVALID
    root = build_campaign_tree(tmp / "tree", hosts=("h1", "h2", "h3"))
    assert cli.main(["report", str(root), "--out", str(tmp / "out"), "-q"]) == 0
    return tmp / "out" / "report.html"


def test_screenshot_is_a_real_picture_with_the_verdict_banner(report, tmp_path):
    png = tmp_path / "report.png"
    chromium(tmp_path, f"--screenshot={png}", report.as_uri())
    width, height, rows = decode_png(png.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    bpp = len(rows[0]) // width
    assert pixel(rows, 8, 8, bpp) == INVALID_RED                # the banner at the top is the verdict's colour
    samples = {pixel(rows, x, y, bpp) for y in range(0, height, 37) for x in range(0, width, 41)}
    assert len(samples) > 40, f"only {len(samples)} colours: a blank or broken page"
    white_or_background = sum(1 for c in samples if min(c) > 240)
    assert white_or_background < len(samples)


def test_dom_text_has_the_verdict_rules_and_charts(report, tmp_path):
    dom = chromium(tmp_path, "--dump-dom", report.as_uri()).stdout
    assert 'id="verdict">INVALID</div>' in dom
    for text in ("SYS-ACCEL-EQUAL", "TRAIN-VARIANCE", "a multiple of 3", "choose a number of accelerators",
                 "rule(s) checked and met", "Throughput per run", "Accelerator utilisation per epoch",
                 "Disk read", "Disk write", "Network receive", "CPU busy", "Page cache", "warm-up"):
        assert text in dom, text
    assert dom.count("<svg") == 7
    assert dom.count('class="mark"') == 6 * 5 * 5              # 6 runs x 5 epochs, on each of 5 time charts
