"""Street addresses and flat numbers: 「东葛路118号青秀万达A座1203室」, 「幸福小区3栋2单元501」, 「三栋二单元五零一」.

Personal is what points at one household: a house number after a road, or a flat (室/房/户, or the digits
after 栋/单元). A road or estate name alone (「东葛路」, 「幸福小区」) and a building or stairwell without a
flat (「3栋2单元楼道灯坏了」) are places where a problem is, and stay as typed. The mask keeps the road or
estate name, so staff can still route a case, and hides every number and letter after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUM = r"(?:[0-9０-９]+|[一二三四五六七八九十百零〇两幺]+)"
_LETTER = r"[A-Za-zＡ-Ｚａ-ｚ]"
# Characters a place name may contain: not particles, pronouns or verbs (「我家住在东葛路」 starts at 东).
_NAME = (r"(?:(?![的了是有在我你他她这那就都也还又很太把被和跟走跑过上下来去到说看家住请问想要找从往向给帮叫])"
         r"[\u4e00-\u9fffA-Za-z])")
_ROAD = rf"{_NAME}{{1,8}}?(?:大道|路|街|巷|弄|胡同)(?:[东西南北中]段)?(?:{_NUM}(?:巷|弄|里|支路))?"
_ESTATE = rf"{_NAME}{{1,8}}?(?:小区|花园|新村|公寓|大厦|家园|苑|村|屯|宿舍|山庄)"
_MARK = rf"(?:{_LETTER}?{_NUM}{_LETTER}?|{_LETTER})"
_BUILDING = rf"{_MARK}(?:号楼|栋|幢|座|单元|楼|层)"
_FIRST_BUILDING = rf"{_MARK}(?:号楼|栋|幢|座|单元|楼|层)"
_ROOM = r"[-－]?(?:[0-9０-９]{3,4}(?![0-9０-９])|[零〇一二三四五六七八九幺]{3,4}(?![零〇一二三四五六七八九幺十百]))"
# One household: a flat (501室, 12户) or the bare digits after a building or unit (3栋2单元501).
_FLAT = rf"(?:{_MARK}(?:室|房|户)(?![间子屋])|{_ROOM})"
_TAIL = rf"(?:{_NAME}{{0,8}}?(?:{_BUILDING})*{_FLAT}|{_NAME}{{0,8}}?(?:{_BUILDING})+)?"
_ADDRESS = re.compile(
    rf"{_ROAD}{_NUM}号(?:院)?{_TAIL}"  # 东葛路118号(青秀万达A座1203室)
    rf"|{_ESTATE}(?:{_BUILDING})*{_FLAT}"  # 幸福小区3栋2单元501
    rf"|{_FIRST_BUILDING}(?:{_BUILDING})*{_FLAT}"  # 3栋2单元501, 三栋二单元五零一
    r"|(?<![0-9０-９])[0-9０-９]{3,4}(?:室|房)(?![间子屋])"  # 501室
)
# Where the kept part of an address ends: the road or estate name.
_HEAD = re.compile(rf"{_NAME}{{1,8}}?(?:大道|路|街|巷|弄|胡同|小区|花园|新村|公寓|大厦|家园|苑|村|屯|宿舍|山庄)")
_ADMIN_UNITS = ("区县旗", "市镇乡")
ADMIN_HEAD_CHARS = 16  # beyond this an 区 or 市 belongs to the street (小区, 市场路), not the district
_HIDE = re.compile(rf"[0-9０-９一二三四五六七八九十百零〇两幺]|{_LETTER}")


@dataclass(frozen=True)
class AddressHit:
    start: int
    end: int
    text: str


def find_addresses(text: str) -> list[AddressHit]:
    return [AddressHit(m.start(), m.end(), m.group()) for m in _ADDRESS.finditer(text)]


def mask_address(address: str | None) -> str:
    """Keep up to the road or estate name, hide numbers and letters after it.

    ``广西南宁市青秀区东葛路118号青秀万达A座1203室`` → ``广西南宁市青秀区东葛路***号青秀万达*座****室``;
    without a road, the district part is kept and the rest hidden: ``南宁市青秀区某处`` → ``南宁市青秀区****``.
    """
    if not address:
        return ""
    address = address.strip()
    head = _HEAD.search(address)
    if head is not None:
        return address[: head.end()] + _HIDE.sub("*", address[head.end():])
    if _HIDE.search(address):
        return _HIDE.sub("*", address)
    # No number to hide: keep only the administrative start.
    keep = 0
    start = address[:ADMIN_HEAD_CHARS]
    for units in _ADMIN_UNITS:
        positions = [index for index, ch in enumerate(start) if ch in units and index >= 1]
        if positions:
            keep = positions[-1] + 1
            break
    if keep == 0 or keep >= len(address):
        keep = min(len(address) // 3, 6)
    return address[:keep] + "****"
