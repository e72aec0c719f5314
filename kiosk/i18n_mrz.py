"""Texts of the MRZ from the data page (kiosk.steps_mrz) in Chinese and English: placing the
page, what to change when it did not read, and typing the chip's three fields instead;
kiosk.i18n merges them into its one table (TEXTS)."""

from __future__ import annotations

MRZ_TEXTS: dict[str, dict[str, str]] = {
    "mrz.title": {"zh": "请放置证件资料页", "en": "Place your document's data page"},
    "mrz.place": {
        "zh": "请将证件翻开到带照片的资料页，正面朝上平放在扫描区，不要遮挡底部的两行或三行字符",
        "en": "Open your document at the page with your photo and lay it face up in the scan "
              "area; keep the lines of characters at the bottom uncovered",
    },
    "mrz.read": {"zh": "资料页已识别，请取回证件", "en": "Page read; please take your document"},
    "mrz.attempt": {"zh": "第 {attempt}/{attempts} 次", "en": "Try {attempt} of {attempts}"},
    "guide.data_page": {
        "zh": "扫描区在屏幕下方的台面上",
        "en": "The scan area is on the desk below the screen",
    },
    "mrz.problem.no_page": {
        "zh": "未检测到证件，请将资料页平放在扫描区",
        "en": "No document found; lay the data page flat in the scan area",
    },
    "mrz.problem.page_too_small": {
        "zh": "证件太远或太小，请平放在扫描区中央",
        "en": "The document is too small; put it in the middle of the scan area",
    },
    "mrz.problem.page_cut_off": {
        "zh": "证件超出扫描区，请移到中间",
        "en": "The document goes off the edge; move it to the middle",
    },
    "mrz.problem.too_dark": {"zh": "光线太暗，请稍候重试", "en": "Too dark; please wait and try again"},
    "mrz.problem.no_mrz": {
        "zh": "未找到资料页底部的字符行，请翻到带照片的一页，正面朝上重新放置",
        "en": "The lines of characters were not found; turn to the page with your photo, face up, and place it again",
    },
    "mrz.problem.mrz_unclear": {
        "zh": "底部字符行看不清，请移开手指、避开反光，重新放置",
        "en": "The lines at the bottom are not clear; move your fingers away, avoid glare and place it again",
    },
    "mrz.keypad.title": {"zh": "输入证件信息", "en": "Your document's details"},
    "mrz.keypad.document_number": {"zh": "请输入证件号码", "en": "Type the document number"},
    "mrz.keypad.birth_date": {
        "zh": "请输入出生日期（年月日各两位，如 900307）",
        "en": "Type your date of birth (YYMMDD, e.g. 900307)",
    },
    "mrz.keypad.expiry_date": {
        "zh": "请输入证件有效期至（年月日各两位，如 320601）",
        "en": "Type the date of expiry (YYMMDD, e.g. 320601)",
    },
    "mrz.keypad.hint": {
        "zh": "资料页未能识别，请按证件上所印输入",
        "en": "The page could not be read; type what is printed on your document",
    },
    "mrz.keypad.invalid_number": {
        "zh": "证件号码应为 1 至 9 位字母或数字，请重新输入",
        "en": "A document number is 1 to 9 letters or digits; please type it again",
    },
    "mrz.keypad.invalid_date": {
        "zh": "日期应为 6 位数字（年月日），请重新输入",
        "en": "A date is 6 digits (YYMMDD); please type it again",
    },
    "stage.data_page": {"zh": "资料页", "en": "Data page"},
}
