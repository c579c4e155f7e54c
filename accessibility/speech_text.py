"""Text for speaking, derived from text for reading.

The kiosk voice (espeak-ng ``sit/cmn-latn-pinyin``) reads Chinese characters well but reads Arabic
numerals, symbols and Latin letters badly or not at all, so everything it is given goes through
:func:`to_speech_text` first:

- numbers and dates as spoken (2025年1月1日 → 二零二五年一月一日, 3600元 → 三千六百元, 70% → 百分之七十,
  1-2级 → 一到二级, 8:30 → 八点半);
- phone numbers, hotlines and codes digit by digit with 一 read as 幺 (12333 → 幺二三三三);
- resident ID numbers (and other long card numbers) are never spoken: they become 身份证号码 / 号码;
- URLs and e-mail addresses are never spoken (a "网址：…" label becomes 网址请看屏幕);
- Latin abbreviations become Chinese (app → 手机应用) or are spelled with Chinese letter names (CT → 西提),
  because the pinyin voice would otherwise read them as pinyin syllables;
- symbols are spoken (≥ → 大于等于) or become pauses (；→ ，) or are dropped; bracket content is kept;
- long sentences are split at commas into short ones, and an optional maximum length cuts cleanly at a
  sentence end.

All functions are pure and never raise on any ``str`` input.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from pii import find_personal_data

from .chinese_numbers import (
    decimal_to_chinese,
    digits_to_chinese,
    integer_to_chinese,
    time_to_chinese,
    year_to_chinese,
)

__all__ = [
    "DEFAULT_SENTENCE_CHARS",
    "ID_NUMBER_SPEECH",
    "TRUNCATION_HINT",
    "split_sentences",
    "to_speech_text",
    "truncate_at_sentence",
]

ID_NUMBER_SPEECH = "身份证号码"
OTHER_NUMBER_SPEECH = "号码"
SEE_SCREEN = "请看屏幕"
TRUNCATION_HINT = "详细内容请看屏幕。"
# Sentences longer than this are split at a comma; about eight seconds at the normal rate.
DEFAULT_SENTENCE_CHARS = 30
_MIN_PIECE_CHARS = 5
_ENDERS = "。！？"
_PAUSES = "，、"

_LETTER_NAMES = dict(
    zip(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        ["诶", "比", "西", "迪", "伊", "艾弗", "吉", "艾尺", "艾", "杰", "开", "艾勒", "艾马", "艾娜", "欧", "批", "丘", "阿尔", "艾丝", "提", "优", "维", "达布留", "艾克斯", "歪", "贼德"],
        strict=True,
    )
)
_LATIN_WORDS = {
    "app": "手机应用", "apps": "手机应用", "wifi": "无线网络", "wi-fi": "无线网络", "wlan": "无线网络",
    "email": "电子邮件", "e-mail": "电子邮件", "wechat": "微信", "alipay": "支付宝", "ok": "好的",
    "atm": "自动取款机", "ai": "人工智能", "gps": "卫星定位", "tv": "电视", "sms": "短信", "etc": "等",
}
_UNITS = {
    "km": "公里", "kg": "公斤", "cm": "厘米", "mm": "毫米", "ml": "毫升", "mL": "毫升", "m²": "平方米",
    "m2": "平方米", "㎡": "平方米", "m³": "立方米", "m3": "立方米", "m": "米", "g": "克", "L": "升",
    "h": "小时", "min": "分钟", "s": "秒", "℃": "摄氏度", "°C": "摄氏度",
}
_SYMBOLS = {
    ",": "，", ";": "，", ":": "，", "!": "！", "?": "？", "…": "，", "—": "，", "–": "，", "-": "，",
    "~": "，", "(": "，", ")": "，", "[": "，", "]": "，", "{": "，", "}": "，", "【": "，", "】": "，",
    "〔": "，", "〕": "，", "〈": "，", "〉": "，", "+": "加", "=": "等于", "×": "乘", "÷": "除以",
    "≥": "大于等于", "≤": "小于等于", ">": "大于", "<": "小于", "&": "和", "#": "号", "°": "度",
    "±": "正负", "/": "或", ".": "。",
}

_DASH = r"[-~—–至到]"
_NUM = r"\d+(?:\.\d+)?"
_QUANTITY_AFTER = re.compile(
    r"\s*(?:[元块角万亿千百人个岁年月日号天次项件张份位名户周倍级度米斤克升点分秒页条台套间层栋楼期类组批路室]"
    r"|小时|分钟|公里|公斤|平方|立方|毫升|厘米|毫米|摄氏度)"
)
_LIANG_AFTER = re.compile(
    rf"\s*(?:{_DASH}\s*{_NUM}\s*)?(?:个|元|块|天|次|人|岁|周岁|张|份|件|项|位|种|本|周|小时|分钟|年|名|户|间"
    r"|套|斤|公斤|台|条|倍|点|类|批|层|遍|句|所|家)"
)
_CODE_CONTEXT = re.compile(
    r"(?:电话|热线|拨打|拨|打|致电|呼叫|号码|编号|邮编|单号|工单|账号|尾号|代码|验证码|客服|传真|手机)[^\d。！？]{0,4}$"
)
_HOTLINE = re.compile(r"12[13]\d\d|9[56]\d{3}|100(?:86|10|16)")
_EMERGENCY = re.compile(r"11[09]|12[02]")
_EMERGENCY_AFTER = re.compile(r"\s*(?:急救|报警|火警|求助|电话)")
_EMERGENCY_BEFORE = re.compile(r"(?:[打拨或、和/]|电话)\s*:?\s*$")  # "打119或110": the second one too
_ROOM_AFTER = re.compile(r"\s*(?:室|房)")

_URL = re.compile(
    r"(?i)(?:(?:https?|ftp)://|www\.)[^\s()<>\"',;\u3000-\u9fff]+"
    r"|(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
    r"|(?<![A-Za-z0-9.@-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+"
    r"(?:com|cn|net|org|gov|edu|info|top|xyz|io|mobi)(?![A-Za-z0-9-])(?:/[!-~]*)?"
)
_URL_MARK = "\x00"
_URL_LABEL = re.compile(
    r"(网址|网站|官网|链接|邮箱|电子邮箱|电子邮件|(?i:e-?mail))\s*(?:是|为)?\s*:?\s*\x00"
)
_ID_LABEL = r"(?:身份证(?:号码?)?\s*(?:是|为)?\s*:?\s*)?"
_ID = re.compile(_ID_LABEL + r"(?<!\d)(?:\d{17}[\dXx]|\d{15})(?!\d)")
_LONG_RUN = re.compile(_ID_LABEL + r"(?<!\d)\d{16,}")
_SPACED_DIGITS = re.compile(_ID_LABEL + r"(?<!\d)\d{1,8}(?:[ \-]\d{1,8})+(?:[ \-]?[Xx])?(?!\d)")
_MASKED = re.compile(_ID_LABEL + r"(?<!\d)(\d{0,6})(\*{3,})([\d*]{0,8})([Xx]?)")

_LIST_MARKER = re.compile(r"(?m)^[ \t]*(?:\((\d{1,2})\)|(\d{1,2})(?:[、)]|\.(?!\d)))[ \t]*")
_BULLET = re.compile(r"(?m)^[ \t]*[-*•·●○■□▪►]+[ \t]+")
_NEWLINES = re.compile(r"\s*[\r\n\u2028\u2029]+\s*")
_SEP = r"\s*[-—–]?\s*"
_LANDLINE = re.compile(
    r"(?<!\d)(?:\(\s*(0\d{2,3})\s*\)\s*|(0\d{2,3})\s*[-—–]\s*)(\d{7,8})(?:\s*(?:转|ext\.?)\s*(\d{1,5}))?(?!\d)"
)
_SERVICE_LINE = re.compile(rf"(?<!\d)([48]00){_SEP}(\d{{3}}){_SEP}(\d{{4}})(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(?:[ \-]?)(\d{4})(?:[ \-]?)(\d{4})(?!\d)")
_YEAR = r"((?:19|20)\d{2})"
_DATE_YMD = re.compile(rf"(?<!\d){_YEAR}\s*[-/.]\s*(\d{{1,2}})\s*[-/.]\s*(\d{{1,2}})(?![\d.])")
_YEAR_RANGE = re.compile(rf"(?<!\d){_YEAR}\s*年?\s*{_DASH}\s*{_YEAR}(\s*年)?(?!\d)")
_YEAR_MONTH = re.compile(rf"(?<!\d){_YEAR}\s*[-/.]\s*(\d{{1,2}})(?![\d./-])")
_YEAR_ONLY = re.compile(rf"(?<!\d){_YEAR}\s*年")
_DOC_YEAR = re.compile(rf"[〔\[【]\s*{_YEAR}\s*[〕\]】]")
_HOUR_MIN = r"([01]?\d|2[0-3])\s*:\s*([0-5]\d)(?!\d)"
_TIME = re.compile(rf"(?<!\d){_HOUR_MIN}(?:\s*{_DASH}\s*{_HOUR_MIN})?")
_UNIT = re.compile(r"(?<=\d)\s*(km|kg|cm|mm|mL|ml|m²|m2|m³|m3|㎡|min|m|g|L|h|s|℃|°C)(?![A-Za-z0-9])")
_CURRENCY = re.compile(r"[¥￥]\s*(\d[\d,]*(?:\.\d+)?)")
_PERCENT_RANGE = re.compile(rf"(?<![\d.])({_NUM})\s*%?\s*{_DASH}\s*({_NUM})\s*%")
_PERCENT = re.compile(rf"(?<![\d.])({_NUM})\s*([%‰])")
_FRACTION = re.compile(r"(?<![\d./])(\d{1,6})\s*/\s*(\d{1,6})(?![\d./])")
_NUMBER = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?!\d)")
_CN_NUM = "零幺一二两三四五六七八九十百千万亿"
_RANGE = re.compile(rf"(?<=[{_CN_NUM}半点日月年号分岁])\s*[-~～—–]+\s*(?=[{_CN_NUM}]|百分之)")
_PER = re.compile(r"(?<=[元角分次人户件份])\s*/\s*(?=[年月日天周人户次件份小])")
_LATIN = re.compile(r"[A-Za-z]+(?:[-'][A-Za-z]+)*")
_KEEP = re.compile(r"[^\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f〇A-Za-z ，。！？、]")
_PUNCT_RUN = re.compile(rf"[{_ENDERS}{_PAUSES}]+")


def _fold_characters(text: str) -> str:
    """Full-width ASCII and non-ASCII decimal digits become ASCII so that one set of patterns applies."""
    out = []
    for ch in text:
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:
            out.append(chr(code - 0xFEE0))
        elif ch == "\u3000" or ch == "\t":
            out.append(" ")
        elif ch.isdecimal() and not ch.isascii():
            out.append(str(unicodedata.decimal(ch, 0)))
        elif 0x2460 <= code <= 0x2473:  # ①..⑳ list markers
            out.append(f"\n{code - 0x245F}、")
        else:
            out.append(ch)
    return "".join(out)


def _redact_run(match: re.Match[str]) -> str:
    """Digit groups separated by spaces or hyphens: redact when together they make an ID or card number."""
    digits = sum(ch.isdigit() for ch in match.group())
    if digits in (15, 18) or (digits == 17 and match.group()[-1] in "Xx"):
        return ID_NUMBER_SPEECH
    if digits >= 16:
        return OTHER_NUMBER_SPEECH
    return match.group()


def _masked(match: re.Match[str]) -> str:
    head, stars, tail, check = match.group(1), match.group(2), match.group(3), match.group(4)
    length = len(head) + len(stars) + len(tail) + len(check)
    if not re.search(r"\d", head + tail):
        return ""
    if length >= 15:
        return ID_NUMBER_SPEECH
    last = re.sub(r"\D", "", tail)
    if length == 11 and head.startswith("1") and last:
        return "手机尾号" + digits_to_chinese(last)
    return OTHER_NUMBER_SPEECH


_LABEL_BEFORE = re.compile(_ID_LABEL + r"$")
_SPOKEN_DIGITS = re.compile(r"[零〇一二三四五六七八九幺]")


def _private_numbers(text: str) -> str:
    """ID and card numbers as ``pii`` finds them (any spacing, 15 or 18 digits, final X) become words.

    Only numbers typed in digits: numbers already spoken in Chinese numerals are this function's own
    output (幺二三三三) and must stay as they are. The regexes after it catch what ``pii`` does not
    (masked numbers, 16+ digit runs).
    """
    pieces: list[str] = []
    last = 0
    for found in find_personal_data(text):
        if found.kind not in ("id_number", "card") or _SPOKEN_DIGITS.search(found.text):
            continue
        label = _LABEL_BEFORE.search(text, last, found.start)
        start = label.start() if label else found.start
        pieces += [text[last:start], ID_NUMBER_SPEECH if found.kind == "id_number" else OTHER_NUMBER_SPEECH]
        last = found.end
    return "".join(pieces) + text[last:] if pieces else text


def _remove_private_and_urls(text: str) -> str:
    text = _URL.sub(_URL_MARK, text)
    text = _URL_LABEL.sub(lambda m: m.group(1) + SEE_SCREEN + "，", text)
    text = text.replace(_URL_MARK, "")
    text = _private_numbers(text)
    text = _ID.sub(ID_NUMBER_SPEECH, text)
    text = _LONG_RUN.sub(OTHER_NUMBER_SPEECH, text)
    text = _SPACED_DIGITS.sub(_redact_run, text)
    text = _MASKED.sub(_masked, text)
    return re.sub(r"\(\s*\)", "", text)


def _phones(text: str) -> str:
    def landline(m: re.Match[str]) -> str:
        area = m.group(1) or m.group(2)
        spoken = digits_to_chinese(area) + "，" + digits_to_chinese(m.group(3))
        return spoken + ("转" + digits_to_chinese(m.group(4)) if m.group(4) else "")

    def grouped(m: re.Match[str]) -> str:
        return "，".join(digits_to_chinese(group) for group in m.groups())

    text = _LANDLINE.sub(landline, text)
    text = _SERVICE_LINE.sub(grouped, text)
    return _MOBILE.sub(grouped, text)


def _dates_and_times(text: str) -> str:
    def ymd(m: re.Match[str]) -> str:
        month, day = int(m.group(2)), int(m.group(3))
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return m.group()
        return f"{year_to_chinese(m.group(1))}年{integer_to_chinese(month)}月{integer_to_chinese(day)}日"

    def year_month(m: re.Match[str]) -> str:
        month = int(m.group(2))
        if not 1 <= month <= 12:
            return m.group()
        return f"{year_to_chinese(m.group(1))}年{integer_to_chinese(month)}月"

    def year_range(m: re.Match[str]) -> str:
        tail = "年" if m.group(3) else ""
        if not tail and _QUANTITY_AFTER.match(m.string, m.end()):
            return m.group()  # 2000-2010元 is an amount, not a span of years
        return f"{year_to_chinese(m.group(1))}到{year_to_chinese(m.group(2))}{tail}"

    def clock(m: re.Match[str]) -> str:
        spoken = time_to_chinese(int(m.group(1)), int(m.group(2)))
        if m.group(3) is not None:
            spoken += "到" + time_to_chinese(int(m.group(3)), int(m.group(4)))
        return spoken

    text = _DOC_YEAR.sub(lambda m: year_to_chinese(m.group(1)) + "年", text)
    text = _DATE_YMD.sub(ymd, text)
    text = _YEAR_RANGE.sub(year_range, text)
    text = _YEAR_ONLY.sub(lambda m: year_to_chinese(m.group(1)) + "年", text)
    text = _YEAR_MONTH.sub(year_month, text)
    return _TIME.sub(clock, text)


def _is_code(raw: str, before: str, after: str) -> bool:
    """Whether a digit string is a phone number or code (read digit by digit) rather than a quantity."""
    if _QUANTITY_AFTER.match(after):
        return False
    if len(raw) > 1 and raw[0] == "0":
        return True
    if len(raw) >= 7 or _HOTLINE.fullmatch(raw) or _CODE_CONTEXT.search(before):
        return True
    return bool(_EMERGENCY.fullmatch(raw) and (_EMERGENCY_AFTER.match(after) or _EMERGENCY_BEFORE.search(before)))


def _number(match: re.Match[str]) -> str:
    raw = match.group(1).replace(",", "")
    fraction = match.group(2)
    source, start, end = match.string, match.start(), match.end()
    before, after = source[max(0, start - 12) : start], source[end : end + 12]
    if fraction is None:
        if _is_code(raw, before, after):
            return digits_to_chinese(raw)
        if len(raw) >= 3 and _ROOM_AFTER.match(after):
            return digits_to_chinese(raw, yao=False)
    ordinal = before.endswith("第")
    if fraction is not None:
        return decimal_to_chinese(f"{raw}.{fraction}", strip_zeros=after.lstrip().startswith("元"))
    value = int(raw)
    if value == 2 and not ordinal and _LIANG_AFTER.match(after):
        return "两"
    return integer_to_chinese(value, liang=not ordinal)


def _numbers(text: str) -> str:
    def percent(m: re.Match[str]) -> str:
        head = "千分之" if m.group(2) == "‰" else "百分之"
        return head + decimal_to_chinese(m.group(1))

    def fraction(m: re.Match[str]) -> str:
        numerator, denominator = int(m.group(1)), int(m.group(2))
        if denominator == 0:
            return integer_to_chinese(numerator) + "或零"
        return integer_to_chinese(denominator) + "分之" + integer_to_chinese(numerator)

    text = _CURRENCY.sub(lambda m: m.group(1) + "元", text)
    text = _UNIT.sub(lambda m: _UNITS[m.group(1)], text)
    text = _PERCENT_RANGE.sub(
        lambda m: f"百分之{decimal_to_chinese(m.group(1))}到百分之{decimal_to_chinese(m.group(2))}", text
    )
    text = _PERCENT.sub(percent, text)
    text = _FRACTION.sub(fraction, text)
    text = _NUMBER.sub(_number, text)
    # A safety net: no Arabic digit may reach the voice (it would read it in English or skip it).
    text = re.sub(r"\d+", lambda m: digits_to_chinese(m.group(), yao=False), text)
    return _RANGE.sub("到", text)


def _latin_word(match: re.Match[str]) -> str:
    word = match.group()
    spoken = _LATIN_WORDS.get(word.lower())
    if spoken:
        return spoken
    letters = re.sub(r"[-']", "", word)
    if len(letters) <= 3 or (letters.isupper() and len(letters) <= 6):
        return "".join(_LETTER_NAMES[ch] for ch in letters.upper())
    # Longer words are most often pinyin (Guangxi, Nanning), which this voice reads correctly. Joined
    # without the hyphen so that a second pass does not see short pieces to spell.
    return f" {letters} "


def _symbols(text: str) -> str:
    text = _PER.sub("每", text)
    text = re.sub(r"\.{2,}|。{2,}", "…", text)
    text = re.sub(r"[;；]", "，", text)
    text = re.sub(r"[《》\"“”‘’'「」『』]", "", text)
    text = "".join(_SYMBOLS.get(ch, ch) for ch in text)
    return _KEEP.sub("", text)


def _strongest(match: re.Match[str]) -> str:
    run = match.group()
    for mark in "？！。，、":
        if mark in run:
            return mark
    return run[0]


def _cleanup(text: str) -> str:
    text = re.sub(r"(?<=[A-Za-z]) +(?=[A-Za-z])", "\x01", text)
    text = text.replace(" ", "").replace("\x01", " ")
    text = _PUNCT_RUN.sub(_strongest, text)
    text = re.sub(rf"(?:{ID_NUMBER_SPEECH}[，、]?)+{ID_NUMBER_SPEECH}", ID_NUMBER_SPEECH, text)
    text = text.lstrip(_ENDERS + _PAUSES + " ")
    if not text:
        return ""
    if text[-1] in _PAUSES:
        text = text[:-1]
    return text if text[-1] in _ENDERS else text + "。"


def split_sentences(text: str) -> list[str]:
    """Split after every 。！？ (each sentence keeps its end mark); ``"".join(result) == text``."""
    parts = re.findall(rf"[^{_ENDERS}]+[{_ENDERS}]*|[{_ENDERS}]+", text)
    return [part for part in parts if part]


def _shorten(sentence: str, limit: int) -> list[str]:
    body = sentence.rstrip(_ENDERS)
    end = sentence[len(body) :] or "。"
    if len(sentence) <= limit:
        return [sentence]
    middle = len(body) / 2
    cuts = [
        i
        for i, ch in enumerate(body)
        # Not after 的: "…的，" usually ends a clause that the next part needs ("满80岁的，可以申请").
        if ch == "，" and body[i - 1] != "的" and i >= _MIN_PIECE_CHARS and len(body) - i - 1 >= _MIN_PIECE_CHARS
    ]
    if not cuts:
        return [sentence]
    cut = min(cuts, key=lambda i: (abs(i - middle), i))
    return _shorten(body[:cut] + "。", limit) + _shorten(body[cut + 1 :] + end, limit)


def truncate_at_sentence(text: str, max_chars: int, hint: str = "") -> str:
    """Cut ``text`` to at most ``max_chars`` characters, at a sentence end when possible.

    When anything was cut and ``hint`` fits, ``hint`` (for example :data:`TRUNCATION_HINT`) is appended
    within the budget. A first sentence longer than the budget is cut at its last comma, or hard.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    if len(text) <= max_chars:
        return text
    if len(hint) >= max_chars:
        hint = ""
    budget = max_chars - len(hint)
    kept = ""
    for sentence in split_sentences(text):
        if len(kept) + len(sentence) > budget:
            break
        kept += sentence
    if not kept:
        head = text[: budget - 1]
        if re.match(r"[A-Za-z]", text[len(head) : len(head) + 1]):
            head = re.sub(r"[A-Za-z]+$", "", head)  # never leave half a Latin word: it would be spelled
        comma = max(head.rfind("，"), head.rfind("、"))
        body = (head[:comma] if comma > 0 else head).rstrip(_PAUSES + " ")
        # A lone "。" would be spoken as nothing and is not stable under a second pass.
        kept = body + "。" if body.strip(_ENDERS + _PAUSES) else ""
    return kept + hint


def to_speech_text(
    text: str,
    *,
    max_chars: int | None = None,
    max_sentence_chars: int = DEFAULT_SENTENCE_CHARS,
    truncation_hint: str = "",
) -> str:
    """Turn display text into text the Mandarin voice can read aloud (see the module docstring).

    ``max_chars`` bounds the result (a clean cut at a sentence end, plus ``truncation_hint`` when cut);
    ``max_sentence_chars`` is the length above which a sentence is split at a comma. Idempotent:
    ``to_speech_text(to_speech_text(t)) == to_speech_text(t)`` for the same options.
    """
    steps: tuple[Callable[[str], str], ...] = (
        _fold_characters,
        _remove_private_and_urls,
        lambda s: _BULLET.sub("", s),
        lambda s: _LIST_MARKER.sub(lambda m: integer_to_chinese(int(m.group(1) or m.group(2))) + "，", s),
        lambda s: _NEWLINES.sub("。", s),
        _phones,
        _dates_and_times,
        _numbers,
        lambda s: _LATIN.sub(_latin_word, s),
        _symbols,
        _cleanup,
    )
    for step in steps:
        text = step(text)
    sentences = [piece for sentence in split_sentences(text) for piece in _shorten(sentence, max_sentence_chars)]
    text = "".join(sentences)
    if max_chars is not None:
        text = truncate_at_sentence(text, max_chars, truncation_hint)
    return text
