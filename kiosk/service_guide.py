"""An item's guide (办事指南) in plain words, from its standard form: the sections the guide
screen shows, and the materials checklist the citizen takes home on a receipt (with the QR code
of the guide's web page). The words are chosen here, once; screens only lay them out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kiosk.catalog import DayUnit, Delivery, Material, MaterialForm, PowerType, ServiceItem
from peripherals.receipt_printer import Align, ReceiptDocument, ReceiptLine

_FORM = {MaterialForm.ORIGINAL: ("原件", "original"), MaterialForm.COPY: ("复印件", "copy"),
         MaterialForm.ORIGINAL_AND_COPY: ("原件及复印件", "original and copy"),
         MaterialForm.ELECTRONIC: ("电子材料", "electronic")}
_DELIVERY = {Delivery.IN_PERSON: ("窗口领取", "at the counter"),
             Delivery.POST: ("邮寄送达", "by post"), Delivery.ELECTRONIC: ("电子证照", "electronic")}
_POWER = {PowerType.LICENSE: ("行政许可", "Administrative licence"),
          PowerType.PAYMENT: ("行政给付", "Administrative payment"),
          PowerType.CONFIRMATION: ("行政确认", "Administrative confirmation"),
          PowerType.LEVY: ("行政征收", "Administrative levy"),
          PowerType.ADJUDICATION: ("行政裁决", "Administrative adjudication"),
          PowerType.REWARD: ("行政奖励", "Administrative reward"),
          PowerType.PENALTY: ("行政处罚", "Administrative penalty"),
          PowerType.OTHER: ("其他行政权力", "Other administrative power"),
          PowerType.PUBLIC_SERVICE: ("公共服务", "Public service")}
_LEVEL = {"province": ("省级", "province"), "city": ("市级", "city"), "county": ("区县级", "county"),
          "township": ("镇街级", "township"), "village": ("村居级", "village")}


def _pick(pair: tuple[str, str], language: str) -> str:
    return pair[0] if language == "zh" else pair[1]


def _text(field: dict[str, str] | None, language: str) -> str:
    if not field:
        return ""
    return field.get(language) or field.get("zh", "")


def days_text(days: int, unit: DayUnit, language: str) -> str:
    if days == 0:
        return "即时办结" if language == "zh" else "on the spot"
    if language == "zh":
        return f"{days}个{'工作日' if unit is DayUnit.WORKING else '自然日'}"
    return f"{days} {'working' if unit is DayUnit.WORKING else 'calendar'} days"


def fee_text(item: ServiceItem, language: str) -> str:
    fee = item.fee
    if fee.kind == "free":
        return "不收费" if language == "zh" else "Free"
    if fee.kind == "fixed" and fee.amount_fen is not None:
        amount = f"{fee.amount_fen // 100}.{fee.amount_fen % 100:02d}"
        text = f"{amount} 元" if language == "zh" else f"CNY {amount}"
    else:
        text = _text(fee.standard, language) or ("按标准收费" if language == "zh" else "As tariffed")
    if fee.basis:
        text += f"（{fee.basis}）" if language == "zh" else f" ({fee.basis})"
    return text


def material_line(material: Material, language: str) -> str:
    form = _pick(_FORM[material.form], language)
    need = ("必需" if material.required else "视情况") if language == "zh" else \
        ("required" if material.required else "if applicable")
    copies = f"{material.copies}份" if language == "zh" else f"x{material.copies}"
    line = f"{_text(material.name, language)}  {form} {copies}  {need}"
    notes = _text(material.notes, language)
    return f"{line}（{notes}）" if notes and language == "zh" else line


@dataclass(frozen=True)
class GuideSection:
    key: str  # basics, conditions, materials, procedure, time_limit, fee, where
    heading: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Guide:
    code: str
    title: str
    department: str
    sections: tuple[GuideSection, ...]
    guide_url: str  # the QR code that takes the guide home
    runs_on_kiosk: bool


def guide_for(item: ServiceItem, language: str = "zh") -> Guide:
    """The guide of `item` in `language` (Chinese where the catalog has no translation)."""
    zh = language == "zh"
    limit = item.time_limit
    basics = (
        f"{'事项编码' if zh else 'Code'}：{item.code}",
        f"{'事项类型' if zh else 'Kind'}：{_pick(_POWER[item.power_type], language)}",
        f"{'办理层级' if zh else 'Level'}：{_pick(_LEVEL[item.handling_level], language)}",
        f"{'设定依据' if zh else 'Legal basis'}：" + "；".join(
            f"{b.title}{b.clause}" for b in item.legal_basis),
    )
    visits = (f"最多跑 {item.visits} 次" if item.visits else "零跑动（不用跑）") if zh else \
        (f"at most {item.visits} visit(s)" if item.visits else "no visit needed")
    where = [_text(item.venue, language)] if item.venue else []
    if item.runs_on_kiosk:
        where.insert(0, "可在本机办理" if zh else "Can be done at this kiosk")
    if item.online_application:
        where.append(("网上办理：" if zh else "Online: ") + item.online_application_url)
    where += [f"{'咨询电话' if zh else 'Enquiries'}：{item.contact_phone}",
              f"{'监督电话' if zh else 'Complaints'}：{item.supervision_phone}"]
    sections = (
        GuideSection("basics", "基本信息" if zh else "About", basics),
        GuideSection("conditions", "受理条件" if zh else "Who can apply",
                     tuple(_text(c, language) for c in item.conditions) or
                     (("无特别条件" if zh else "No special conditions"),)),
        GuideSection("materials", "申请材料" if zh else "What to bring",
                     tuple(material_line(m, language) for m in item.materials) or
                     (("无需材料" if zh else "Nothing to bring"),)),
        GuideSection("procedure", "办理流程" if zh else "Steps",
                     tuple(f"{i}. {_text(s.title, language)}" +
                           (f"（{_text(s.detail, language)}）" if s.detail else "")
                           for i, s in enumerate(item.procedure, start=1))),
        GuideSection("time_limit", "办理时限" if zh else "Time limit", (
            f"{'承诺时限' if zh else 'Promised'}：{days_text(limit.promised, limit.unit, language)}",
            f"{'法定时限' if zh else 'Statutory'}：{days_text(limit.statutory, limit.unit, language)}",
            visits)),
        GuideSection("fee", "收费标准" if zh else "Fee", (fee_text(item, language),)),
        GuideSection("where", "办理地点与结果送达" if zh else "Where, and how you get the result",
                     (*where, ("送达方式：" if zh else "Delivery: ") + "、".join(
                         _pick(_DELIVERY[d], language) for d in item.delivery))),
    )
    return Guide(item.code, _text(item.name, language), _text(item.department.name, language),
                 sections, item.guide_url, item.runs_on_kiosk)


def checklist_receipt(item: ServiceItem, kiosk_id: str, hotline: str) -> ReceiptDocument:
    """The materials checklist on a receipt ("打印清单"), its QR code the guide's web page."""
    guide = guide_for(item, "zh")
    sections = {s.key: s for s in guide.sections}
    lines = [ReceiptLine("办事材料清单", align=Align.CENTER, bold=True, double=True),
             ReceiptLine(guide.title, align=Align.CENTER, bold=True),
             ReceiptLine(guide.department, align=Align.CENTER), ReceiptLine("-" * 32)]
    for key in ("materials", "conditions", "time_limit", "fee", "where"):
        lines.append(ReceiptLine(sections[key].heading, bold=True))
        lines += [ReceiptLine(f"[ ] {line}" if key == "materials" else f"  {line}")
                  for line in sections[key].lines]
    lines += [ReceiptLine("-" * 32), ReceiptLine("扫码查看完整办事指南", align=Align.CENTER),
              ReceiptLine(f"终端 Kiosk: {kiosk_id}"),
              ReceiptLine(time.strftime("时间 Time: %Y-%m-%d %H:%M")),
              ReceiptLine(f"咨询电话 Hotline: {hotline}", align=Align.CENTER)]
    return ReceiptDocument(lines=tuple(lines), qr=item.guide_url)
