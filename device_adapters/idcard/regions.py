"""Administrative division codes (GB/T 2260) of Guangxi, to tell a resident's city and district.

The table holds every current prefecture, district, county and county-level city of Guangxi, plus codes
that no longer exist but still stand in older ID numbers (ID numbers never change when a county becomes a
district). A code missing from the table degrades to its prefecture, then to 广西, then to the province
outside Guangxi (省外).
"""

from __future__ import annotations

from dataclasses import dataclass

GUANGXI = "广西壮族自治区"

PREFECTURES = {
    "4501": "南宁市",
    "4502": "柳州市",
    "4503": "桂林市",
    "4504": "梧州市",
    "4505": "北海市",
    "4506": "防城港市",
    "4507": "钦州市",
    "4508": "贵港市",
    "4509": "玉林市",
    "4510": "百色市",
    "4511": "贺州市",
    "4512": "河池市",
    "4513": "来宾市",
    "4514": "崇左市",
}

# Prefectures (地区) abolished or renamed since 1994; codes under them are in ID numbers of older residents.
FORMER_PREFECTURES = {
    "4521": "南宁地区",
    "4522": "柳州地区",
    "4523": "桂林地区",
    "4524": "梧州地区/贺州地区",
    "4525": "玉林地区",
    "4526": "百色地区",
    "4527": "河池地区",
    "4528": "钦州地区",
}

DISTRICTS = {
    # 南宁市
    "450102": "兴宁区", "450103": "青秀区", "450105": "江南区", "450107": "西乡塘区", "450108": "良庆区",
    "450109": "邕宁区", "450110": "武鸣区", "450123": "隆安县", "450124": "马山县", "450125": "上林县",
    "450126": "宾阳县", "450181": "横州市",
    # 柳州市
    "450202": "城中区", "450203": "鱼峰区", "450204": "柳南区", "450205": "柳北区", "450206": "柳江区",
    "450222": "柳城县", "450223": "鹿寨县", "450224": "融安县", "450225": "融水苗族自治县",
    "450226": "三江侗族自治县",
    # 桂林市
    "450302": "秀峰区", "450303": "叠彩区", "450304": "象山区", "450305": "七星区", "450311": "雁山区",
    "450312": "临桂区", "450321": "阳朔县", "450323": "灵川县", "450324": "全州县", "450325": "兴安县",
    "450326": "永福县", "450327": "灌阳县", "450328": "龙胜各族自治县", "450329": "资源县",
    "450330": "平乐县", "450332": "恭城瑶族自治县", "450381": "荔浦市",
    # 梧州市
    "450403": "万秀区", "450405": "长洲区", "450406": "龙圩区", "450421": "苍梧县", "450422": "藤县",
    "450423": "蒙山县", "450481": "岑溪市",
    # 北海市
    "450502": "海城区", "450503": "银海区", "450512": "铁山港区", "450521": "合浦县",
    # 防城港市
    "450602": "港口区", "450603": "防城区", "450621": "上思县", "450681": "东兴市",
    # 钦州市
    "450702": "钦南区", "450703": "钦北区", "450721": "灵山县", "450722": "浦北县",
    # 贵港市
    "450802": "港北区", "450803": "港南区", "450804": "覃塘区", "450821": "平南县", "450881": "桂平市",
    # 玉林市
    "450902": "玉州区", "450903": "福绵区", "450921": "容县", "450922": "陆川县", "450923": "博白县",
    "450924": "兴业县", "450981": "北流市",
    # 百色市
    "451002": "右江区", "451003": "田阳区", "451022": "田东县", "451024": "德保县", "451026": "那坡县",
    "451027": "凌云县", "451028": "乐业县", "451029": "田林县", "451030": "西林县",
    "451031": "隆林各族自治县", "451081": "靖西市", "451082": "平果市",
    # 贺州市
    "451102": "八步区", "451103": "平桂区", "451121": "昭平县", "451122": "钟山县",
    "451123": "富川瑶族自治县",
    # 河池市
    "451202": "金城江区", "451203": "宜州区", "451221": "南丹县", "451222": "天峨县", "451223": "凤山县",
    "451224": "东兰县", "451225": "罗城仫佬族自治县", "451226": "环江毛南族自治县",
    "451227": "巴马瑶族自治县", "451228": "都安瑶族自治县", "451229": "大化瑶族自治县",
    # 来宾市
    "451302": "兴宾区", "451321": "忻城县", "451322": "象州县", "451323": "武宣县",
    "451324": "金秀瑶族自治县", "451381": "合山市",
    # 崇左市
    "451402": "江州区", "451421": "扶绥县", "451422": "宁明县", "451423": "龙州县", "451424": "大新县",
    "451425": "天等县", "451481": "凭祥市",
}  # fmt: skip

# Codes retired by a re-organisation, with the name they had; ``successor`` is where that area is now.
FORMER_DISTRICTS: dict[str, tuple[str, str | None]] = {
    "450104": ("城北区", None),  # split between 兴宁区 and 西乡塘区 in 2004
    "450106": ("永新区", None),  # split in 2004
    "450111": ("郊区", None),
    "450121": ("邕宁县", "450109"),
    "450122": ("武鸣县", "450110"),
    "450127": ("横县", "450181"),
    "450211": ("郊区", None),
    "450221": ("柳江县", "450206"),
    "450322": ("临桂县", "450312"),
    "450331": ("荔浦县", "450381"),
    "450404": ("蝶山区", "450403"),
    "450411": ("郊区", None),
    "450511": ("郊区", None),
    "451021": ("田阳县", "451003"),
    "451023": ("平果县", "451082"),
    "451025": ("靖西县", "451081"),
    "451281": ("宜州市", "451203"),
}

PROVINCES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区", "21": "辽宁省",
    "22": "吉林省", "23": "黑龙江省", "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省",
    "35": "福建省", "36": "江西省", "37": "山东省", "41": "河南省", "42": "湖北省", "43": "湖南省",
    "44": "广东省", "45": GUANGXI, "46": "海南省", "50": "重庆市", "51": "四川省", "52": "贵州省",
    "53": "云南省", "54": "西藏自治区", "61": "陕西省", "62": "甘肃省", "63": "青海省",
    "64": "宁夏回族自治区", "65": "新疆维吾尔自治区", "71": "台湾省", "81": "香港特别行政区",
    "82": "澳门特别行政区", "83": "台湾地区",
}  # fmt: skip


@dataclass(frozen=True)
class Region:
    """Where a code points to, as precisely as the table allows."""

    code: str
    province: str | None
    city: str | None = None
    district: str | None = None
    former: bool = False  # a code that no longer exists (the resident's card predates a re-organisation)
    current_district: str | None = None  # the district that replaced a former code, when one did

    @property
    def in_guangxi(self) -> bool:
        return self.province == GUANGXI

    @property
    def label(self) -> str:
        """``南宁市青秀区``, ``广西壮族自治区``, ``广东省（省外）`` or ``未知地区``."""
        if self.province is None:
            return "未知地区"
        if not self.in_guangxi:
            return f"{self.province}（省外）"
        parts = [part for part in (self.city, self.district) if part]
        return "".join(parts) if parts else GUANGXI

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "province": self.province,
            "city": self.city,
            "district": self.district,
            "in_guangxi": self.in_guangxi,
            "former": self.former,
            "current_district": self.current_district,
            "label": self.label,
        }


UNKNOWN_REGION = Region(code="", province=None)


def lookup_region(code: str) -> Region:
    """The region of a six-digit division code (the first six characters of an ID number)."""
    code = (code or "").strip()[:6]
    if len(code) != 6 or not code.isdigit():
        return UNKNOWN_REGION
    province = PROVINCES.get(code[:2])
    if province != GUANGXI:
        return Region(code=code, province=province)
    prefix = code[:4]
    if prefix in PREFECTURES:
        city = PREFECTURES[prefix]
        if code in DISTRICTS:
            return Region(code=code, province=GUANGXI, city=city, district=DISTRICTS[code])
        if code in FORMER_DISTRICTS:
            name, successor = FORMER_DISTRICTS[code]
            current = DISTRICTS.get(successor) if successor else None
            return Region(code, GUANGXI, city, name, former=True, current_district=current)
        return Region(code=code, province=GUANGXI, city=city)
    if prefix in FORMER_PREFECTURES:
        return Region(code=code, province=GUANGXI, city=FORMER_PREFECTURES[prefix], former=True)
    return Region(code=code, province=GUANGXI)
