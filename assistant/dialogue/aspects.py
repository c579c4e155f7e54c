"""Recognising which aspect of a topic a resident asks about (要带什么材料 → materials)."""

from __future__ import annotations

import re

# Ordered: the first pattern that matches wins (材料 before 怎么办, 多少钱 before 多久).
_ASPECT_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("materials", re.compile(r"材料|带什么|带啥|带哪些|拿什么|准备什么|准备啥|要什么证|证件|资料|手续.{0,2}(要|带)")),
    ("fees", re.compile(r"多少钱|收费|费用|要钱|花钱|交多少|给多少|标准是|发多少|补多少|多少补贴")),
    ("online", re.compile(r"网上|线上|手机上|手机能|app|小程序|微信上|支付宝|不用跑|在家办")),
    ("location", re.compile(r"去哪|到哪|在哪|哪里办|哪儿办|什么地方|地址|地点|窗口|哪个部门")),
    ("time", re.compile(r"多久|多长时间|几天|时间|时限|什么时候|几点|哪天|期限|截止|要等")),
    ("contact", re.compile(r"电话|打给谁|问谁|找谁|联系|热线|咨询")),
    ("eligibility", re.compile(r"条件|资格|符合|够不够|能不能申请|什么人|哪些人|谁能|要求")),
    ("process", re.compile(r"流程|步骤|程序|怎么走|先去|然后")),
    ("policy", re.compile(r"依据|文件|政策规定|哪个规定|法规")),
]

ASPECT_BUTTONS: list[tuple[str, str]] = [
    ("materials", "要带什么"),
    ("location", "去哪里办"),
    ("time", "要多久"),
    ("online", "网上能办吗"),
    ("contact", "打电话问谁"),
]

ASPECT_LEADS: dict[str, str] = {
    "eligibility": "办理条件",
    "materials": "需要准备",
    "process": "办理流程",
    "location": "办理地点",
    "time": "办理时间",
    "fees": "费用和标准",
    "contact": "咨询电话",
    "online": "网上办理",
    "policy": "政策依据",
}


def detect_aspect(text: str) -> str | None:
    for name, pattern in _ASPECT_PATTERNS:
        if pattern.search(text):
            return name
    return None


_ASPECT_WORDS = re.compile(
    r"要带什么材料|要带什么|带什么|什么材料|材料|要多长时间|多长时间|要多久|多久|去哪里办|去哪儿办|去哪里|去哪|在哪里|在哪|"
    r"网上能办吗|网上|能办吗|怎么办|办理|要|的|呢|吗|啊|呀|那|还有|请问|一下|可以|能不能|能|不能|多少钱|费用|电话|流程|条件|"
    r"哪里|哪儿|什么|怎么|时间|是|办|去|在|有|没有|我|想|问|[\s,.?!，。？！、]"
)


def residual_after_aspect(text: str) -> str:
    """What is left of a follow-up after the aspect and function words: '' for 要带什么材料."""
    return _ASPECT_WORDS.sub("", text)
