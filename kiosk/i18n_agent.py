"""Texts of the village agent's screens (kiosk.village_agent), merged into kiosk.i18n.TEXTS."""

from __future__ import annotations

AGENT_TEXTS: dict[str, dict[str, str]] = {
    "agent.entry": {"zh": "代办员", "en": "Agent"},
    "agent.mark": {"zh": "代办员 {agent} 代办中", "en": "Agent {agent} assisting"},
    "agent.sign_out": {"zh": "退出代办", "en": "Agent sign out"},
    "agent.sign_in.instruction": {
        "zh": "代办员请出示登录二维码，或放置本人身份证",
        "en": "Agent: show your sign-in QR code, or place your own ID card",
    },
    "agent.sign_in.pin": {"zh": "请输入6位代办员密码", "en": "Enter your 6-digit agent PIN"},
    "agent.sign_in.checking": {"zh": "正在核验代办员身份…", "en": "Checking the agent…"},
    "agent.no_fleet": {
        "zh": "本终端未接入管理平台，暂不能代办",
        "en": "This kiosk is not connected to the fleet: no agent sign-in",
    },
    "agent.refused.unknown": {"zh": "未找到该代办员", "en": "No such agent"},
    "agent.refused.pin_wrong": {"zh": "密码错误", "en": "Wrong PIN"},
    "agent.refused.locked": {
        "zh": "密码错误次数过多，已锁定15分钟；可请管理员发放登录二维码",
        "en": "Too many wrong PINs: locked for 15 minutes; an operator can issue a QR code",
    },
    "agent.refused.disabled": {"zh": "该代办员已停用", "en": "This agent is disabled"},
    "agent.refused.other_site": {
        "zh": "该代办员不属于本服务点",
        "en": "This agent does not belong to this service point",
    },
    "agent.refused.code_expired": {"zh": "二维码已过期，请重新获取", "en": "The QR code has expired"},
    "agent.refused.code_used": {"zh": "二维码已使用过，请重新获取", "en": "The QR code was used already"},
    "agent.refused.unreachable": {
        "zh": "无法连接管理平台，请稍后再试",
        "en": "The fleet cannot be reached; try again later",
    },
    "agent.consent.title": {
        "zh": "请市民本人确认：同意代办员 {agent} 为您代办「{item}」",
        "en": "Citizen, please confirm: agent {agent} may handle \"{item}\" for you",
    },
    "agent.consent.agree": {"zh": "本人同意", "en": "I agree"},
    "agent.consent.decline": {"zh": "不同意", "en": "I do not agree"},
    "unavailable.in_person_only": {
        "zh": "此事项须本人亲自办理，不能代办",
        "en": "Only in person: an agent cannot do this for you",
    },
}
