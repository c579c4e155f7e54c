from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accessibility.chinese_numbers import digits_to_chinese
from accessibility.speech_text import (
    ID_NUMBER_SPEECH,
    TRUNCATION_HINT,
    split_sentences,
    to_speech_text,
    truncate_at_sentence,
)

ID_NUMBER = "450101199001011234"
ID_NUMBER_X = "45010119900101123X"


@pytest.mark.parametrize(
    ("display", "spoken"),
    [
        # numbers, dates, percentages, ranges
        ("2025年1月1日起施行", "二零二五年一月一日起施行。"),
        ("每月发放3600元", "每月发放三千六百元。"),
        ("报销比例70%", "报销比例百分之七十。"),
        ("1-2级残疾人", "一到二级残疾人。"),
        ("3~5个工作日", "三到五个工作日。"),
        ("2-3个工作日", "两到三个工作日。"),
        ("5%-10%", "百分之五到百分之十。"),
        ("5-10%", "百分之五到百分之十。"),
        ("2025-01-15", "二零二五年一月十五日。"),
        ("2025/3/1", "二零二五年三月一日。"),
        ("2025年3月", "二零二五年三月。"),
        ("2024-2025年度", "二零二四到二零二五年度。"),
        ("2000-2010元", "两千到两千零一十元。"),
        ("桂民发〔2022〕32号", "桂民发二零二二年三十二号。"),
        ("满15年", "满十五年。"),
        ("2000元", "两千元。"),
        ("2个人", "两个人。"),
        ("第2名", "第二名。"),
        ("2月2日", "二月二日。"),
        ("1.5万元", "一点五万元。"),
        ("12.50元", "十二点五元。"),
        ("3,600元", "三千六百元。"),
        ("￥3600", "三千六百元。"),
        ("1/3的费用", "三分之一的费用。"),
        ("10500元", "一万零五百元。"),
        ("办理时间：8:30-12:00", "办理时间，八点半到十二点。"),
        ("14:05开始", "十四点零五分开始。"),
        # phone numbers and codes, digit by digit with 幺
        ("咨询电话12333", "咨询电话幺二三三三。"),
        ("请拨打12345热线", "请拨打幺二三四五热线。"),
        ("联系电话：0771-1234567", "联系电话，零七七幺，幺二三四五六七。"),
        ("电话(0771)5551234", "电话零七七幺，五五五幺二三四。"),
        ("手机13812345678", "手机幺三八，幺二三四，五六七八。"),
        ("手机 138 1234 5678", "手机幺三八，幺二三四，五六七八。"),
        ("400-123-4567", "四零零，幺二三，四五六七。"),
        ("拨打120急救", "拨打幺二零急救。"),
        ("受伤打120，遇险打110或119", "受伤打幺二零，遇险打幺幺零或幺幺九。"),
        ("可打12385咨询", "可打幺二三八五咨询。"),
        ("打完针3天后复查", "打完针三天后复查。"),
        ("120元", "一百二十元。"),
        ("邮编530000", "邮编五三零零零零。"),
        ("302室", "三零二室。"),
        ("工单号GX202501010001", "工单号吉艾克斯二零二五零幺零幺零零零幺。"),
        # personal data
        (f"身份证号：{ID_NUMBER}", "身份证号码。"),
        (f"号码{ID_NUMBER_X}已登记", "号码身份证号码已登记。"),
        ("4501**********123X", "身份证号码。"),
        ("手机138****5678", "手机手机尾号五六七八。"),
        ("卡号6222021234567890123", "卡号号码。"),
        ("张*", "张。"),
        # URLs and e-mail
        ("请登录广西政务服务网（https://zwfw.gxzf.gov.cn）办理", "请登录广西政务服务网办理。"),
        ("网址：www.gxzf.gov.cn", "网址请看屏幕。"),
        ("发邮件到abc@qq.com即可", "发邮件到即可。"),
        ("登录zwfw.gxzf.gov.cn办理", "登录办理。"),
        # Latin
        ("下载APP办理", "下载手机应用办理。"),
        ("用app查询", "用手机应用查询。"),
        ("请做CT检查和B超", "请做西提检查和比超。"),
        ("连接WiFi", "连接无线网络。"),
        ("Guangxi Nanning", "Guangxi Nanning。"),
        # symbols, brackets, lists
        ("下载APP办理；也可以到窗口办理。", "下载手机应用办理，也可以到窗口办理。"),
        ("需要身份证（原件）、户口簿。", "需要身份证，原件，户口簿。"),
        ("《社会保险法》第12条", "社会保险法第十二条。"),
        ("≥60周岁", "大于等于六十周岁。"),
        ("50元/人/月", "五十元每人每月。"),
        ("身份证/户口簿", "身份证或户口簿。"),
        ("体温37℃", "体温三十七摄氏度。"),
        ("5kg大米", "五公斤大米。"),
        ("1、身份证\n2、户口簿\n3. 照片", "一，身份证。二，户口簿。三，照片。"),
        ("①身份证②户口簿", "一，身份证。二，户口簿。"),
        ("- 身份证\n- 户口簿", "身份证。户口簿。"),
        ("好的！！", "好的！"),
        ("真的吗？。", "真的吗？"),
        ("😀你好★", "你好。"),
        ("１２３３３", "幺二三三三。"),
        ("３６００元", "三千六百元。"),
        ("", ""),
        ("   \n ", ""),
        ("……", ""),
    ],
)
def test_to_speech_text_examples(display: str, spoken: str) -> None:
    assert to_speech_text(display) == spoken


def test_full_width_hotline_is_read_as_hotline_after_context() -> None:
    assert to_speech_text("拨打１２３３３") == "拨打幺二三三三。"


def test_long_sentence_is_split_at_a_comma_near_the_middle() -> None:
    text = "申请高龄津贴需要带上本人身份证和户口簿，到户籍所在地的社区居委会提出申请，审核通过后按月发放。"
    spoken = to_speech_text(text)
    sentences = split_sentences(spoken)
    assert len(sentences) >= 2
    assert all(len(sentence) <= 30 for sentence in sentences)
    assert spoken.replace("。", "，").rstrip("，") == text.replace("。", "，").rstrip("，")


def test_no_cut_right_after_de() -> None:
    text = "患有规定病种的，先在参保地的定点医院或医保窗口申请门诊慢特病认定，带病历和检查报告。"
    assert to_speech_text(text) == "患有规定病种的，先在参保地的定点医院或医保窗口申请门诊慢特病认定。带病历和检查报告。"


def test_sentence_without_comma_is_not_cut() -> None:
    text = "请到户籍所在地的社区居委会或者乡镇人民政府的社会事务办公室提出申请并填写申请表格"
    assert to_speech_text(text, max_sentence_chars=10) == text + "。"


def test_max_chars_cuts_at_sentence_end() -> None:
    text = "第一句话比较短。第二句话也比较短。第三句话还是比较短。"
    assert to_speech_text(text, max_chars=17) == "第一句话比较短。第二句话也比较短。"
    assert to_speech_text(text, max_chars=20) == "第一句话比较短。第二句话也比较短。"


def test_max_chars_with_hint() -> None:
    text = "第一句话比较短。第二句话也比较短。第三句话还是比较短。"
    cut = to_speech_text(text, max_chars=20, truncation_hint=TRUNCATION_HINT)
    assert cut == "第一句话比较短。" + TRUNCATION_HINT
    assert len(cut) <= 20
    # Nothing cut: no hint.
    assert to_speech_text("很短。", max_chars=20, truncation_hint=TRUNCATION_HINT) == "很短。"


def test_truncate_first_sentence_too_long() -> None:
    assert truncate_at_sentence("一二三四五，六七八九十。", 8) == "一二三四五。"
    assert truncate_at_sentence("一二三四五六七八九十。", 5) == "一二三四。"
    with pytest.raises(ValueError):
        truncate_at_sentence("一。", 0)


def test_split_sentences_round_trips() -> None:
    text = "你好。请问有什么可以帮您？好的！再见"
    parts = split_sentences(text)
    assert parts == ["你好。", "请问有什么可以帮您？", "好的！", "再见"]
    assert "".join(parts) == text


# --- properties ---------------------------------------------------------------------------------

_CHINESE = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF), max_size=20)
_TRICKY = st.sampled_from(
    ["", " ", "。", "，", "-", ".", "X", "x", "1", "０", "*", "/", ":", "http://", "@", "身份证号：", "\n", "٣"]
)
_URLS = st.sampled_from(
    [
        "https://zwfw.gxzf.gov.cn/a?id=1",
        "http://www.example.com",
        "www.gxzf.gov.cn",
        "ybj.gxzf.gov.cn/path",
        "someone@example.com",
        "HTTPS://A.CN/X",
    ]
)


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    body = draw(st.text(alphabet="0123456789", min_size=17, max_size=17))
    return body + draw(st.sampled_from("0123456789Xx"))


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
@example("4" * 5000)
@example("0." + "1" * 5000)
def test_never_raises_and_never_leaves_digits_urls(text: str) -> None:
    spoken = to_speech_text(text)
    assert isinstance(spoken, str)
    assert not re.search(r"[0-9]", spoken)
    assert not re.search(r"(?i)https?://|www\.|@", spoken)


@settings(max_examples=300, deadline=None, database=None)
@given(_CHINESE, _TRICKY, id_numbers(), _TRICKY, _CHINESE, st.sampled_from(["", " ", "-"]))
def test_id_number_is_never_spoken(
    head: str, left: str, id_number: str, right: str, tail: str, spacing: str
) -> None:
    shown = spacing.join([id_number[:6], id_number[6:14], id_number[14:]]) if spacing else id_number
    spoken = to_speech_text(head + left + shown + right + tail)
    assert not re.search(r"\d{15}", spoken)
    for yao in (True, False):
        assert digits_to_chinese(id_number[:17], yao=yao) not in spoken
    if "http" not in left:  # otherwise the number went with the URL
        assert ID_NUMBER_SPEECH in spoken or "号码" in spoken


@settings(max_examples=200, deadline=None, database=None)
@given(_CHINESE, _URLS, _CHINESE)
def test_url_is_never_spoken(head: str, url: str, tail: str) -> None:
    spoken = to_speech_text(head + url + tail)
    assert "example" not in spoken.lower()
    assert "gxzf" not in spoken.lower()
    assert not re.search(r"(?i)https?|www|@|\.cn|\.com", spoken)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=120), st.one_of(st.none(), st.integers(min_value=1, max_value=80)))
def test_idempotent_and_bounded(text: str, max_chars: int | None) -> None:
    once = to_speech_text(text, max_chars=max_chars)
    assert to_speech_text(once, max_chars=max_chars) == once
    if max_chars is not None:
        assert len(once) <= max_chars


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x4E80), min_size=1, max_size=30),
        min_size=1,
        max_size=8,
    ),
    st.integers(min_value=3, max_value=100),
)
def test_truncation_keeps_whole_sentences(bodies: list[str], max_chars: int) -> None:
    text = "".join(body + "。" for body in bodies)
    cut = truncate_at_sentence(text, max_chars)
    assert len(cut) <= max_chars
    assert cut.endswith("。")
    if len(bodies[0]) + 1 <= max_chars:
        assert text.startswith(cut)
