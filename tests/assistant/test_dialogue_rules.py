"""The rules that run before any model: emergencies (also misspelt), who-handles-it questions, switches."""

from __future__ import annotations

import pytest

from assistant.dialogue.rules import asks_for_service, asks_whom, is_emergency, switch_topic


@pytest.mark.parametrize("text", ["楼下着火了", "我老伴嘴巴歪了说话不清", "老公胸口通出好多汗", "嘴外了手没力",
                                  "他倒在地上叫他不应", "我不想活了", "孩子抽搐口吐白沫"])
def test_a_danger_now_is_an_emergency_also_when_misspelt(text: str) -> None:
    assert is_emergency(text)


@pytest.mark.parametrize("text", ["去年家里着火了能申请救助吗", "万一老人走丢了怎么办", "怎么预防煤气中毒",
                                  "我爸前年中风了半边身子不能动能办残疾证吗", "开发商不退认筹金", "高龄津贴怎么申请",
                                  # which number, for later; the signs ahead; whether charging can start a fire
                                  "碰到着火或者有人受伤，到底是打119还是120，我老是搞不清楚",
                                  "森林着火的报警电话是多少号，我想存起来备用", "怎么看得出要发山洪了",
                                  "电瓶车充一晚上会不会起火"])
def test_past_events_hypotheticals_and_applications_are_not(text: str) -> None:
    assert not is_emergency(text)


def test_questions_about_safety_and_services_make_the_model_be_surer() -> None:
    assert asks_for_service("燃气热水器装在浴室里安全吗") and asks_for_service("山坡裂缝要报告给谁")
    assert not asks_for_service("屋里全是烟")
    assert asks_for_service("屋后山坡开了好几条缝 要跟哪个讲")  # whom to tell, in 桂柳话's 哪个
    # how to get a lost paper again: 唔见咗 is about a certificate, not a child
    assert asks_for_service("个仔嘅出生证明唔见咗点补") and asks_for_service("户口本找不到了咋个补")
    assert not asks_for_service("个仔唔见咗") and not asks_for_service("补丁打在哪里都看得见")
    assert asks_for_service("大水退了屋里全是泥巴要咋消毒")  # after the flood, not in it
    assert not asks_for_service("水越涨越高已经进屋了")


def test_who_handles_it() -> None:
    assert asks_whom("路灯坏了归谁管") and asks_whom("这个怎么反映") and not asks_whom("楼道灯坏了")
    # 哪个 for 谁, as residents in Guangxi say it
    assert asks_whom("晚上楼下广场舞吵到十点 到底哪个管") and asks_whom("路灯坏了一个月 找哪个才有人来修")
    assert asks_whom("井盖松了跟哪个讲") and not asks_whom("哪个窗口交钱") and not asks_whom("井盖松了")


def test_a_switch_names_the_new_topic() -> None:
    assert switch_topic("那公租房呢") == "公租房" and switch_topic("公租房怎么申请") is None
    # Cantonese 咁 ("then") reads as 这么 after the dialect lexicon: 咁社保卡呢
    assert switch_topic("这么社保卡呢") == "社保卡"


def test_a_stove_that_will_not_light_is_no_fire() -> None:
    # 着火 inside 打不着火 / 点着火: an everyday phrase, not a fire
    assert not is_emergency("煤气灶打不着火是怎么回事")
    assert not is_emergency("打着火了又灭了")
    assert is_emergency("厨房着火啦快来")


def test_learning_what_to_do_in_general_is_no_emergency_now() -> None:
    assert not is_emergency("遇到有人晕倒要怎么做心肺复苏")
    assert not is_emergency("想学一下触电了怎么救")
    assert is_emergency("快来人我妈晕倒了叫不醒")


def test_a_danger_now_beside_a_question_outranks_the_question() -> None:
    # a clause of its own says it is happening now: the alert, whatever else is asked
    assert is_emergency("我本来想问下高龄补贴的事 我家公公刚才在菜地里倒了 喊他没反应 我要怎么办")
    # the danger inside the question's own clause, or nothing says it is happening now: the question
    assert not is_emergency("我爸刚才摔倒流血了住院能报销吗")
    assert not is_emergency("想问下高龄补贴的事 我家公公以前在菜地里倒过 喊他没反应")


def test_help_sighed_over_a_form_is_no_emergency() -> None:
    assert not is_emergency("救命啊 这个表格怎么填都填不对 一直提示错误")
    assert not is_emergency("救命 医保卡密码忘记了 咋个改")
    # a cry for help with nothing else, or with a danger, stays one
    assert is_emergency("救命") and is_emergency("救命啊 怎么办") and is_emergency("救命 咋个搞")
    assert is_emergency("救命 怎么弄啊 我爸喘不上气")


def test_teaching_the_signs_and_an_alarm_without_smoke_are_no_emergency() -> None:
    assert not is_emergency("怎么教家里老人分辨燃气泄漏 他们鼻子不太灵")
    assert asks_for_service("烟感器老是叫，好烦哦，又没得烟")
    assert is_emergency("着火了 烟好大") and is_emergency("我爸没有呼吸了")
