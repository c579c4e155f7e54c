"""Code tables of the card text block: card types, gender (GB/T 2261.1), nation (GB 3304)."""

from __future__ import annotations

from enum import Enum


class CardType(Enum):
    """The card kinds a SAM reader returns; the value is the type character at text offset 248."""

    RESIDENT = " "
    HMT_RESIDENCE_PERMIT = "J"
    FOREIGN_PERMANENT_2017 = "I"
    FOREIGN_PERMANENT_2023 = "Y"

    @property
    def name_zh(self) -> str:
        return _CARD_TYPE_NAMES[self]

    @classmethod
    def from_marker(cls, marker: str) -> CardType:
        # Some readers pad the reserved area with NULs rather than spaces.
        if marker in ("", " ", "\x00"):
            return cls.RESIDENT
        try:
            return cls(marker)
        except ValueError:
            raise ValueError(f"unknown card type marker {marker!r}") from None


_CARD_TYPE_NAMES = {
    CardType.RESIDENT: "居民身份证",
    CardType.HMT_RESIDENCE_PERMIT: "港澳台居民居住证",
    CardType.FOREIGN_PERMANENT_2017: "外国人永久居留身份证（2017版）",
    CardType.FOREIGN_PERMANENT_2023: "外国人永久居留身份证（2023版）",
}

GENDERS = {"0": "未知", "1": "男", "2": "女", "9": "未说明"}

# GB 3304: note 25 水 and 46 德昂 — some public tables skip or misspell them and shift later codes.
NATIONS = {
    "01": "汉",
    "02": "蒙古",
    "03": "回",
    "04": "藏",
    "05": "维吾尔",
    "06": "苗",
    "07": "彝",
    "08": "壮",
    "09": "布依",
    "10": "朝鲜",
    "11": "满",
    "12": "侗",
    "13": "瑶",
    "14": "白",
    "15": "土家",
    "16": "哈尼",
    "17": "哈萨克",
    "18": "傣",
    "19": "黎",
    "20": "傈僳",
    "21": "佤",
    "22": "畲",
    "23": "高山",
    "24": "拉祜",
    "25": "水",
    "26": "东乡",
    "27": "纳西",
    "28": "景颇",
    "29": "柯尔克孜",
    "30": "土",
    "31": "达斡尔",
    "32": "仫佬",
    "33": "羌",
    "34": "布朗",
    "35": "撒拉",
    "36": "毛南",
    "37": "仡佬",
    "38": "锡伯",
    "39": "阿昌",
    "40": "普米",
    "41": "塔吉克",
    "42": "怒",
    "43": "乌孜别克",
    "44": "俄罗斯",
    "45": "鄂温克",
    "46": "德昂",
    "47": "保安",
    "48": "裕固",
    "49": "京",
    "50": "塔塔尔",
    "51": "独龙",
    "52": "鄂伦春",
    "53": "赫哲",
    "54": "门巴",
    "55": "珞巴",
    "56": "基诺",
    "97": "其他",
    "98": "外国血统中国籍人士",
}


def gender_name(code: str) -> str:
    return GENDERS.get(code.strip(), "未知")


def nation_name(code: str) -> str | None:
    code = code.strip()
    if not code:
        return None
    return NATIONS.get(code.zfill(2))
