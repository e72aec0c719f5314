"""What the issuing authority puts on a certificate: the wording, the verification link and
its seal image. The kiosk lays it out on A4; the seal is drawn here, as the authority's
system would hand it over (a red PNG with transparency)."""

from __future__ import annotations

import base64
import functools
import io
import math
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

AUTHORITY = "中山市公安局石岐分局"
VERIFY_BASE = "https://zwfw.city.example/verify/"
CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
RED = (200, 16, 32, 255)


@functools.lru_cache(maxsize=4)
def seal_png(authority: str = AUTHORITY, size: int = 480) -> bytes:
    """A round official seal: ring, star, the authority's name along the top arc."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    c, r = size / 2, size / 2 - 8
    draw.ellipse((c - r, c - r, c + r, c + r), outline=RED, width=max(6, size // 40))
    star = []
    for i in range(10):
        radius = size * 0.16 if i % 2 == 0 else size * 0.065
        angle = -math.pi / 2 + i * math.pi / 5
        star.append((c + radius * math.cos(angle), c + radius * math.sin(angle)))
    draw.polygon(star, fill=RED)
    font = (ImageFont.truetype(CJK_FONT, size // 10) if Path(CJK_FONT).exists()
            else ImageFont.load_default())
    span = math.radians(250)
    for i, char in enumerate(authority):
        angle = math.radians(-215) + span * (i + 0.5) / len(authority)
        x, y = c + (r * 0.74) * math.cos(angle), c + (r * 0.74) * math.sin(angle)
        glyph = Image.new("RGBA", (size // 8, size // 8), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((size // 16, size // 16), char, font=font, fill=RED,
                                   anchor="mm")
        glyph = glyph.rotate(-math.degrees(angle) - 90, resample=Image.BICUBIC)
        image.alpha_composite(glyph, (int(x - size / 16), int(y - size / 16)))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def no_criminal_record(name: str, id_number: str, certificate: dict, now: float) -> dict:
    """The content of a 无犯罪记录证明 for the holder of `id_number` (the backend's records)."""
    issued = time.localtime(now)
    adult = f"{int(id_number[6:10]) + 18}年{int(id_number[10:12])}月{int(id_number[12:14])}日"
    return {
        "title": "无犯罪记录证明",
        "holder_name": name,
        "id_number": id_number,
        "body": [
            f"兹证明，{name}（公民身份号码：{id_number}），自{adult}（年满十八周岁）至"
            f"{issued.tm_year}年{issued.tm_mon}月{issued.tm_mday}日，在我辖区内未发现有犯罪记录。",
            "本证明仅证明在我国内地的犯罪记录情况，不涉及其他内容。",
            "本证明自开具之日起三个月内有效。",
        ],
        "authority": AUTHORITY,
        "issued_on": time.strftime("%Y年%m月%d日", issued),
        "verify_url": f"{VERIFY_BASE}{certificate['certificate_id']}?code={certificate['verify_code']}",
        "seal_png_b64": base64.b64encode(seal_png()).decode(),
    }
