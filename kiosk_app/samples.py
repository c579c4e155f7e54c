"""Sample sound and speech input for the screenshot mode and the tests (no Kivy here).

The voice-like sound is made, not recorded: a vowel with a syllable rhythm that WebRTC's detector takes for
speech and that moves the level meter. What the fake recogniser "hears" is a fixed sample question.
"""

from __future__ import annotations

import numpy as np

from accessibility.asr import FakeSpeechRecognizer
from accessibility.audio_input import SAMPLE_RATE, pcm16_bytes
from assistant.speech import SpeechInput
from kiosk_app.pcm import wav_bytes

# What the fake recogniser "hears", with two other readings as Whisper's n-best list gives them.
SAMPLE_HEARD = ("我想问一下高龄津贴怎么申请", ("我想问一下高龄津贴怎么审批", "我想问一下高龄津贴在哪里申请"))


def voice_like(seconds: float, *, pitch: float = 140.0, level: float = 0.3, seed: int = 0) -> np.ndarray:
    """A vowel with a syllable rhythm: a speech detector takes it for speech and a level meter moves with it.
    float32 at 16 kHz, with the faint hiss of a room."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    phase = 2 * np.pi * np.cumsum(pitch * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))) / SAMPLE_RATE
    sound = np.zeros_like(t)
    for k in range(1, 30):  # harmonics shaped by three formants, as in an open vowel
        weight = sum(np.exp(-(((k * pitch) - f) / width) ** 2) for f, width in ((700, 150), (1200, 200), (2600, 300)))
        sound += (weight + 0.05 / k) * np.sin(k * phase)
    sound *= np.sqrt(np.clip(0.5 * (1 - np.cos(2 * np.pi * 4 * t)), 0, None))  # four syllables a second
    sound *= level / float(np.max(np.abs(sound)))
    return (sound + room_hiss(seconds, seed=seed + 1)).astype(np.float32)


def room_hiss(seconds: float, *, level: float = 0.002, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * SAMPLE_RATE)) * level).astype(np.float32)


def sample_voice_wav(seconds: float = 2.4) -> bytes:
    """Half a second of room, ``seconds`` of voice-like sound, half a second of room: a WAV in memory."""
    samples = np.concatenate([room_hiss(0.5, seed=3), voice_like(seconds), room_hiss(0.5, seed=4)])
    return wav_bytes(pcm16_bytes(samples))


def sample_speech_input() -> SpeechInput:
    return SpeechInput(FakeSpeechRecognizer(readings=[SAMPLE_HEARD]))


# --- community notices and warnings, as the server's read model sends them (made-up content, no phone numbers) ---

def _sample_warning(ident: int, event: str, level: str, label: str, colors: tuple[str, str], *,
                    instruction: str, assembly_point: str = "") -> dict[str, object]:
    title = f"{event}{label}预警"
    return {
        "id": ident, "event": event, "level": level, "level_label": label, "title": title,
        "headline": f"南宁市气象台发布{title}信号", "description": f"预计未来12小时内本区有{event}。",
        "instruction": instruction, "area": "南宁市青秀区", "sender_name": "南宁市气象台", "source": "cap",
        "assembly_point": assembly_point, "severity": "Severe", "urgency": "Immediate", "banner": True,
        "effective": "2026-12-04T20:00:00+08:00", "expires": "2099-12-05T08:00:00+08:00",
        "expires_text": "12月5日 08:00", "banner_text": f"{title}：{instruction}（有效至12月5日 08:00）",
        "speech": f"南宁市气象台发布{title}。{instruction}",
        "colors": {"background": colors[0], "text": colors[1]}, "repeat_seconds": 600,
    }


SAMPLE_WARNINGS = {
    "blue": _sample_warning(21, "大风", "blue", "蓝色", ("#0A3D91", "#FFFFFF"), instruction="请收好阳台上的花盆。"),
    "yellow": _sample_warning(22, "高温", "yellow", "黄色", ("#FFD400", "#000000"),
                              instruction="中午少出门，多喝水。"),
    "orange": _sample_warning(23, "暴雨", "orange", "橙色", ("#F08000", "#000000"),
                              instruction="不要去低洼的地方，远离河边。"),
    "red": _sample_warning(24, "台风", "red", "红色", ("#A50000", "#FFFFFF"),
                           instruction="请马上到集合地点转移。", assembly_point="社区服务中心二楼大厅"),
}


def _sample_notice(ident: int, title: str, body: str, category: str, dates: str,
                   ages: tuple[int | None, int | None] = (None, None), audience: str = "全体居民") -> dict[str, object]:
    return {"id": ident, "title": title, "body": body, "category": category,
            "audience_min_age": ages[0], "audience_max_age": ages[1], "audience_label": audience,
            "valid_from": "2026-12-01T08:00:00+08:00", "valid_to": "2099-12-31T18:00:00+08:00",
            "dates_text": dates, "image_url": None, "published_at": "2026-12-01T09:00:00+08:00"}


SAMPLE_NOTICES = (
    _sample_notice(7, "12月5日上午停水", "因为更换水管，12月5日上午8点到12点停水。请提前接好用水。", "停水停电",
                   "12月5日 08:00 至 12:00"),
    _sample_notice(6, "60岁以上老人免费接种流感疫苗", "社区卫生服务站为60岁以上老人免费接种流感疫苗，请带身份证。",
                   "疫苗接种", "12月1日 至 12月20日", (60, None), "60岁以上老人"),
    _sample_notice(5, "周六上午健康讲座", "周六上午9点在社区活动室讲冬季防跌倒，欢迎参加。", "活动",
                   "12月6日 09:00 至 10:30"),
    _sample_notice(4, "高龄津贴年度认证开始", "领高龄津贴的80岁以上老人，请在本月内到社区做年度认证。",
                   "政策提醒", "12月1日 至 12月31日", (80, None), "80岁以上老人"),
    _sample_notice(3, "社区11月收支公开", "社区11月的收入和支出已经贴在公告栏，欢迎查看。", "居务公开",
                   "12月1日 至 12月15日"),
    _sample_notice(2, "寒假儿童托管报名", "寒假期间社区开办儿童托管班，家长可以到服务台报名。", "活动",
                   "12月1日 至 1月10日", (3, 14), "儿童家长"),
    _sample_notice(1, "冬季用电安全提醒", "取暖器不要靠近被子和窗帘，出门记得关电源。", "政策提醒",
                   "12月1日 至 2月28日"),
)


def sample_bulletins(levels: tuple[str, ...] = (), *, notices: bool = True, revision: str = "") -> dict[str, object]:
    """A board in the JSON of ``GET /api/v1/kiosk/bulletins`` with the warnings of ``levels`` (most severe
    first, as the server sends them) and the sample notices."""
    order = sorted(levels, key=("red", "orange", "yellow", "blue").index)
    return {"revision": revision or f"sample-{'-'.join(order)}-{int(notices)}", "community": "DONGGE",
            "poll_seconds": 2.0, "warnings": [dict(SAMPLE_WARNINGS[level]) for level in order],
            "notices": [dict(n) for n in SAMPLE_NOTICES] if notices else []}
