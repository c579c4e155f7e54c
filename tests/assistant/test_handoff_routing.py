"""Where residents' reports go: the problem rules of the shipped ``orders.yaml`` against reports worded the way
residents talk (Mandarin, 桂柳话 and Cantonese flavour), and the checks on the fixed list of departments.

The table was written before the rules were tuned; the report of the work gives the score of the first rules.
"""

from __future__ import annotations

import pytest

from assistant.handoff import ConfigError
from assistant.handoff.policy import load_policy, parse_policy

REPORTS: list[tuple[str, str]] = [
    # 漏水 / 渗水 → 物业; a dangerous house → 住建
    ("我家楼上漏水，天花板一直滴水", "物业"),
    ("顶楼屋顶漏雨，下雨天家里摆满了盆", "物业"),
    ("卫生间墙壁渗水，墙皮都泡烂了", "物业"),
    ("楼道里的水管爆了，水流了一地", "物业"),
    ("我们那栋楼墙体开裂好大一条缝，怕是危房", "住建"),
    ("老房子墙裂开了，住着心慌，想请人来鉴定一下是不是危房", "住建"),
    # 噪音: neighbours by day → 社区 (mediation); at night → 派出所; building sites → 城管
    ("我家楼上天天半夜剁肉吵死了", "派出所"),
    ("隔壁凌晨两点还在唱卡拉OK，吵得睡不着", "派出所"),
    ("楼下那家白天装修电钻声好吵，能不能管一下", "社区"),
    ("对面工地晚上十一点还在施工打桩，吵死人", "城管"),
    ("工地噪音太大了，周末一大早就开工", "城管"),
    # 电梯 → 物业
    ("5栋电梯又坏了，老人上不去楼", "物业"),
    ("电梯关人了，按警铃没人应", "物业"),
    ("升降机成日停，行楼梯行到脚软", "物业"),
    # 路灯 → 市政
    ("我们这条巷子的路灯黑了好几天", "市政"),
    ("小区外面马路上的路灯不亮了，晚上走路好怕", "市政"),
    ("街灯坏咗成个礼拜冇人修", "市政"),
    # 垃圾 → 环卫
    ("路边垃圾堆成山了没人清，臭死了", "环卫"),
    ("垃圾桶满了好几天没人收", "环卫"),
    ("巷口有人乱倒建筑垃圾", "环卫"),
    ("公厕好臭，好几天没人打扫", "环卫"),
    # 井盖 / 道路 → 市政
    ("三栋门口那个井盖不见了好危险", "市政"),
    ("路上的下水道盖子松了，车一过就哐哐响", "市政"),
    ("马路上有个大坑，电动车差点摔了", "市政"),
    ("人行道的砖都翘起来了，老人容易绊倒", "市政"),
    ("下水道堵了，污水漫到路上", "市政"),
    # 积水 → 市政
    ("一下雨路口就积水，水淹到膝盖", "市政"),
    ("桥底下水浸得好犀利，车都过唔到", "市政"),
    # 违建 / 占道 / 油烟 / 摆摊 → 城管
    ("楼顶有人在加盖铁皮房，是不是违建", "城管"),
    ("一楼住户私自扩建围墙占了公共绿地", "城管"),
    ("门口的小摊贩占道经营，路都走不过去", "城管"),
    ("店铺把货摆到人行道上了", "城管"),
    ("楼下烧烤摊油烟好大，窗都不敢开", "城管"),
    ("夜市大排档的油烟熏到我家里来了", "城管"),
    ("有人在小区门口乱贴小广告", "城管"),
    # 停水 / 水质 → 供水公司
    ("我们小区突然停水了，也没有通知", "供水公司"),
    ("水龙头出来的水黄黄的，有股怪味", "供水公司"),
    ("水压好小，楼上根本没水用", "供水公司"),
    # 停电 → 供电公司
    ("整栋楼停电了，冰箱里的东西都要坏了", "供电公司"),
    ("屋企冇电成日跳闸，电箱嗰度有火花", "供电公司"),
    ("路边的电线杆歪了，电线垂得好低", "供电公司"),
    # 燃气 → 燃气公司
    ("楼道里有一股很重的燃气味", "燃气公司"),
    ("厨房闻到煤气味，是不是漏气了", "燃气公司"),
    ("管道天然气打不着火，好几天了", "燃气公司"),
    # 宠物 / 狗 → 派出所 (犬只管理) or 社区
    ("邻居家的狗天天叫，吵得人睡不着", "派出所"),
    ("小区里有人遛狗不拴绳，吓到小孩了", "派出所"),
    ("楼下有条流浪狗咬人", "派出所"),
    ("有人在楼道养鸡养鸭，臭得很", "社区"),
    # 树木 / 绿化 → 园林绿化
    ("台风过后路边有棵树倒了，拦住了路", "园林绿化"),
    ("小区门口的大树枝快断了，悬在头上", "园林绿化"),
    ("绿化带的树长太高挡住了我家窗户", "园林绿化"),
    # 高空抛物 → 派出所
    ("楼上有人高空抛物，差点砸到人", "派出所"),
    ("又有人从楼上往下扔垃圾袋", "派出所"),
    # 治安 / 消防
    ("楼下停车场有人偷电动车电瓶", "派出所"),
    ("楼道里堆满了杂物，消防通道都堵死了", "消防"),
    ("有人在楼道里给电动车充电，拉了好长的线", "消防"),
    # 物业管理
    ("物业乱收停车费，问了也不给说法", "物业"),
    ("小区大门的门禁坏了好几天", "物业"),
    ("单元门坏咗，关唔埋", "物业"),
    ("楼道灯坏了，晚上黑乎乎的", "物业"),
    ("化粪池满了，臭味飘得整栋楼都是", "物业"),
    # 交通
    ("小区门口的红绿灯坏了，车乱开", "交警"),
    ("有车长期停在消防车道上不走，是僵尸车", "交警"),
    # 民生事务 → 民政 / 人社 / 卫健 / 市场监管 / 生态环境
    ("隔壁独居老人几天没出门了，敲门也不应", "民政"),
    ("工地老板拖欠工资半年了不给", "人社"),
    ("附近诊所乱开药，好像是无证行医", "卫健"),
    ("菜市场的秤不准，缺斤短两", "市场监管"),
    ("超市卖过期食品", "市场监管"),
    ("工厂半夜偷偷排污，河水都黑了", "生态环境"),
    ("附近有家厂烟囱冒黑烟，呛得人咳嗽", "生态环境"),
    # 邻里纠纷 → 社区 (not 司法: a leaking roof must never go there)
    ("邻居把杂物堆在公共楼道，说了也不听", "社区"),
    ("楼上的空调滴水滴到我家窗台", "社区"),
]


@pytest.fixture(scope="module")
def policy():
    return load_policy()


def test_the_table_has_enough_reports():
    assert len(REPORTS) >= 60
    assert len({text for text, _ in REPORTS}) == len(REPORTS)


def test_every_expected_department_is_in_the_fixed_list(policy):
    assert {department for _, department in REPORTS} <= set(policy.departments)


@pytest.mark.parametrize(("report", "expected"), REPORTS, ids=[text[:12] for text, _ in REPORTS])
def test_a_resident_report_goes_to_the_right_department(policy, report: str, expected: str):
    assert policy.route(description=report).department == expected


def test_a_leaking_roof_never_goes_to_justice(policy):
    for text in ("屋顶漏水", "顶楼漏雨了", "我家天花板渗水", "楼上漏水到我家，协商不了"):
        assert "司法" not in policy.route(description=text, suggested_department="司法").department


def test_safety_words_still_set_the_category_priority_and_deadline(policy):
    manhole = policy.route(description="三栋门口那个井盖不见了好危险")
    assert (manhole.department, manhole.category, manhole.priority, manhole.deadline_days) == \
        ("市政", "安全隐患", "high", 1)
    complaint = policy.route(description="我要投诉物业乱收费")
    assert (complaint.category, complaint.deadline_days) == ("投诉", 13)


def test_a_knowledge_base_department_is_mapped_onto_the_fixed_list(policy):
    assert policy.route(description="想问社保卡补办", suggested_department="人社（劳动监察）").department == "人社"
    assert policy.route(description="想问户口迁移", suggested_department="公安").department == "派出所"
    assert policy.route(description="问问题", suggested_department="12345政务服务便民热线").department == "社区"
    assert policy.department_for("住建、市场监管") == "住建"
    assert policy.department_for("物业") == "物业" and policy.department_for("物业管理处") == "物业"
    assert policy.department_for("不存在的部门") is None


def test_a_rule_naming_a_department_not_in_the_list_is_a_config_error():
    with pytest.raises(ConfigError, match="燃气集团"):
        parse_policy({"departments": ["社区", "物业"],
                      "problems": [{"kind": "燃气", "words": ["燃气味"], "department": "燃气集团"}]})
    with pytest.raises(ConfigError, match="街道民政办"):
        parse_policy({"departments": ["社区"], "routing": {"topics": {"senior-age-allowance": "街道民政办"}}})
    with pytest.raises(ConfigError, match="default_department"):
        parse_policy({"departments": ["物业"], "default_department": "社区"})
    with pytest.raises(ConfigError, match="words"):
        parse_policy({"departments": ["社区"], "problems": [{"kind": "空", "words": [], "department": "社区"}]})
    with pytest.raises(ConfigError, match="两次"):
        parse_policy({"departments": ["社区", "社区"]})


def test_a_problem_rule_may_require_a_second_word():
    policy = parse_policy({"departments": ["社区", "派出所"], "problems": [
        {"kind": "夜间噪音", "words": ["吵"], "also": ["半夜"], "department": "派出所"},
        {"kind": "噪音", "words": ["吵"], "department": "社区"}]})
    assert policy.route(description="楼上半夜好吵").department == "派出所"
    assert policy.route(description="楼上白天好吵").department == "社区"
    assert policy.problem_of("楼上半夜好吵") == ("夜间噪音", "派出所")
    assert policy.problem_of("想问社保") is None
