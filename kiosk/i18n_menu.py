"""Texts of the menu's categories and search, the guide screen and the rating screen, in
Chinese and English; kiosk.i18n merges them into its one table (TEXTS)."""

from __future__ import annotations

MENU_TEXTS: dict[str, dict[str, str]] = {
    "menu.tab.kiosk": {"zh": "本机可办", "en": "Done here"},
    "menu.tab.departments": {"zh": "按部门", "en": "By department"},
    "menu.tab.life_events": {"zh": "按主题", "en": "By life event"},
    "menu.search": {"zh": "搜索事项（拼音首字母或汉字）", "en": "Search (pinyin initials)"},
    "menu.count": {"zh": "{count} 项", "en": "{count} items"},
    "menu.guide_only": {"zh": "查看办事指南", "en": "See the guide"},
    "search.title": {"zh": "搜索事项", "en": "Search"},
    "search.hint": {"zh": "输入拼音首字母，如 sfz 查身份证", "en": "Type pinyin initials, e.g. sfz"},
    "search.none": {"zh": "没有找到，请换个说法", "en": "Nothing found, try other words"},
    "search.popular": {"zh": "常用事项", "en": "Most used"},
    "search.found": {"zh": "找到 {count} 项", "en": "{count} found"},
    "keyboard.clear": {"zh": "清空", "en": "Clear"},
    "keyboard.back": {"zh": "删除", "en": "Delete"},
    "keyboard.space": {"zh": "空格", "en": "Space"},
    "guide.title": {"zh": "办事指南", "en": "Service guide"},
    "guide.qr": {"zh": "手机扫码，带走办事指南", "en": "Scan to take the guide with you"},
    "guide.print": {"zh": "打印材料清单", "en": "Print the checklist"},
    "guide.start": {"zh": "在本机办理", "en": "Do it here"},
    "guide.not_here": {"zh": "本事项请到窗口或网上办理", "en": "Apply at a counter or online"},
    "guide.not_now": {"zh": "本机暂时不能办理此事项", "en": "Not available on this kiosk now"},
    "guide.printed": {"zh": "清单已打印，请取走", "en": "Please take your checklist"},
    "guide.print_failed": {
        "zh": "清单未能打印，请扫码查看", "en": "The checklist could not be printed; scan the code",
    },
    "confirm.check": {"zh": "请核对以下信息", "en": "Please check"},
    "phone.keypad": {"zh": "请输入手机号码", "en": "Your mobile number"},
    "phone.hint": {"zh": "仅用于短信通知，屏幕上只显示部分号码", "en": "Only for the text message; shown masked"},
    "rate.title": {"zh": "请您评价本次服务", "en": "Please rate this service"},
    "rate.optional": {"zh": "评价可跳过，不影响办理结果", "en": "Optional: it does not change your result"},
    "rate.why": {"zh": "请选择不满意的原因（可多选）", "en": "What went wrong? (any)"},
    "rate.comment": {"zh": "留言（可选）：{comment}", "en": "Comment (optional): {comment}"},
    "rate.send": {"zh": "提交评价", "en": "Send"},
    "rate.more_words": {"zh": "更多 ›", "en": "More ›"},
    "rate.skip": {"zh": "跳过", "en": "Skip"},
}
