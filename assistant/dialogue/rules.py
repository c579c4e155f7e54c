"""Rules that run before the classifier: emergencies, topic switches, requests for a person, cancelling.

Emergencies are matched by rule as well as by the classifier because missing one costs far more than
a false alarm: the reply only tells the resident the emergency numbers and alerts staff.
"""

from __future__ import annotations

import re

from pypinyin import Style, lazy_pinyin

from assistant.dialogue.clauses import split_clauses

_EMERGENCY = re.compile(
    r"救命|快来人|着火|起火|失火|火灾|烧起来|冒烟了|煤气泄漏|燃气泄漏|闻到.{0,4}(煤气|燃气)味.{0,6}(很大|好大|浓)|"
    r"摔倒.{0,6}(起不来|不动|流血|昏)|晕倒|昏倒|昏迷|不省人事|叫不醒|没有?呼吸|心脏病.{0,4}(发作|犯了)|"
    r"中风了|大出血|流了好多血|触电|溺水|掉进水里|被困|有人跳楼|要跳楼|想自杀|不想活了|活不下去了|活着没(?:意思|意义|盼头)|我想死|想寻死|寻短见|想轻生|(?:喝|吃)了(?:农药|老鼠药|一瓶安眠药|好多安眠药)|打人了|持刀|抢劫|被绑|"
    r"小孩丢了|孩子不见了|老人走丢了|走失了|洪水.{0,4}(进屋|冲|淹到)|山体滑坡了|塌了|"
    # Signs that need 120 now, told without the word 急救: stroke, seizure, chest pain, head bleeding.
    r"嘴巴?歪|口眼歪|(说话|讲话)(说|讲)?不清|半边身子?(没力|没劲|不能动|动不了|麻)|抽筋|抽搐|口吐白沫|"
    r"(?:胸口|心口)(好|很|一直)?(痛|疼|闷|绞)|喘不(上|过|赢)气|透不过气|(头|脑壳|脑袋)(在|一直)?(流血|出血|冒血)|流血不止|血流不[止停]|流血不停|血止不住|止不住血|羊水破|"
    r"(?:叫|喊)(她|他|人)?(?:都)?不应|(?:叫|喊)(她|他|人)(?:都)?(?:没有?|冇)反应|没有?反应了|撞倒了|倒在地上"
)
# Not now: a hypothetical, prevention, or something that happened before (万一老人走丢了怎么办, 去年中风了).
_NOT_NOW = re.compile(r"万一|如果|假如|要是|要系|怎么防|如何防|预防|防止|防范|怎样防|注意什么|要注意|打什么电话|"
                      # prevention of a named danger (防溺水宣传), something heard or seen in the news, just asking
                      r"防(?:溺水|火|触电|煤气|燃气|中毒|跌倒|摔|雷|汛|台风|诈骗)|宣传|新闻|电视上|报道|听说|听讲|听人讲|"
                      r"听人说|就问问|随便问问|问问而已|有时候|"
                      # after the event: 火灾后户口本烧没了, 失火以后燃气被停了
                      r"(?:火灾|失火|着火|起火|水灾|发大水|洪水|地震|台风|触电|中毒)(?:以后|之后|过后|后)|"
                      # the water has gone down: 大水退了屋里全是泥巴, 水退咗之后
                      r"(?:水|大水|洪水)(?:退了|退咗|退去|退后|退完|消退)|退水|"
                      r"去年|前年|以前|上个月|上次|之前|那时候|后遗症|过去了|"
                      # learning what to do in general: 遇到有人晕倒要怎么做心肺复苏, 急救知识, 演练
                      r"(?:遇到|碰到|遇上).{0,12}(?:怎么|如何|该|要)|急救知识|急救常识|学一下|学习|培训|演练|"
                      # which number, for later: 到底是打119还是120我老是搞不清楚, 报警电话想存起来备用
                      r"打1\d\d还是1\d\d|备用|存起来|存下来|记下来|搞不清|分不清|记不住|"
                      # the signs ahead of a danger, and whether charging can start a fire
                      r"怎么看得出|怎么看出|有(?:什么|啥|哪些)(?:征兆|前兆|预兆)|"
                      r"充.{0,8}会不会(?:起火|着火|爆炸|自燃)|"
                      # teaching someone the signs: 怎么教家里老人分辨燃气泄漏
                      r"教.{0,8}(?:分辨|辨别|识别|认出)|"
                      # the alarm sounds, but there is none: 烟感器老是叫 又没得烟
                      r"(?:又|也|都|并)(?:没|冇)(?:有|得)?(?:烟|起火|着火|火|味道?)")
# 这么: Cantonese 咁 ("then", 咁社保卡呢) reads as 这么 after the dialect lexicon, which cannot tell it from 咁 "so".
_SWITCH = re.compile(r"^(?:那|那么|这么|还有|再问一下|另外)\s*(?P<topic>.{2,20}?)\s*(?:呢|怎么样|咋样|又怎么办)\s*[?？。!！]*$")
HUMAN_WORDS = re.compile(r"转人工|人工服务|人工客服|真人|找工作人员|叫工作人员|呼叫工作人员|跟工作人员说|和工作人员说|找个人|找人工")
_CANCEL = re.compile(r"^(?:算了|不用了|不要了|取消|不报了|不说了|退出)")
# "我要反映问题" alone says that the resident wants to report something, not what: start the form and ask.
_REPORT_OPENER = re.compile(
    r"^(?:你好|您好)?[\s,，]*(?:我|俺)?(?:要|想|想要|需要|来)?(?:反映|反应|投诉|举报|报修|上报)"
    r"(?:一下|一个|个|下)?(?:问题|情况|事情|事)?[\s。.!！]*$"
)

# Someone asking how to get help *after* an event (火灾后申请救助) is not in danger now.
# 补办 and its spoken forms (出生证明唔见咗点补: a lost certificate, not a lost child)
_SERVICE_REQUEST = re.compile(r"申请|补助|补贴|救助金|救急的钱|报销|能领|领钱|怎么办理|手续|政策|赔偿|保险|补办|开通|"
                              r"(?:怎么|怎样|点样?|咋个?|如何|哪里|边度)(?:补|重新办)|补领|挂失|补证|补返|补回")


# Asking whom to tell or what can be applied for (屋后山坡裂了要报告给谁): the emergency model must be surer.
# (找谁, 归谁管, 哪个部门 and the like: ``_ASKS_WHOM``, which ``asks_for_service`` reads as well.)
_ASKING = re.compile(r"报告给谁|报给谁|能申请|可以申请|怎么申请|报销|补贴|补助|要注意什么|注意啥|怎么预防|怎么防|"
                     r"安全吗|安不安全|危险吗|危不危险|合不合格|要不要装|该不该")
# The same signs written with the wrong characters by pinyin input or speech recognition (胸口通 for 胸口痛,
# 嘴外了 for 嘴歪了): matched on toneless pinyin.
_EMERGENCY_SOUNDS = re.compile(
    r"(?:xiong|xin)kou(hao|hen|yizhi)?(tong|teng|men)|zui(ba)?wai|chuanbu(shang|guo)qi|toubuguoqi|jiaobuying|"
    r"zhaohuo(le|la)|qihuo(le|la)|meiqi(xielou|weidao)|ranqi(xielou|weidao)|chudian(le|la)|nishui(le|la)|"
    r"banbianshen(zi)?(meili|bunengdong|dongbuliao|ma)|koutubaimo|liuxuebuzhi"
)


# Asking who handles a problem, rather than reporting it: 路灯坏了归谁管, 怎么反映, 找哪个部门.
_ASKS_WHOM = re.compile(r"归谁管|谁管|找谁|找哪个部门|哪个部门|怎么反映|怎样反映|向哪里反映|去哪里反映|打什么电话|打哪个电话|"
                        r"怎么报修|去哪报|跟谁说|向谁反映|该找|"
                        # 哪个 for 谁 (桂柳话 and colloquial Mandarin): 到底哪个管, 找哪个才有人来修, 跟哪个讲
                        r"哪个管|归哪个|找哪个|跟哪个[讲说]|同哪个[讲说]|哪个负责|谁负责")


def asks_whom(text: str) -> bool:
    return bool(_ASKS_WHOM.search(text))


# Everyday phrases that contain a danger word but name no danger: the stove will not light (打不着火), a
# lighter that lit (点着火了). Taken out before the danger words are looked for.
_HARMLESS = re.compile(r"[打点]不?着火?")


# Happening as the resident writes: 刚才, 突然, Cantonese 头先 and 啱啱.
_JUST_NOW = re.compile(r"刚才|刚刚|头先|啱啱|突然|一下子")
# 救命 sighed over a form or a password (救命啊 这个表格怎么填都填不对): a how-to question about a thing.
_HOW_TO_DO = re.compile(r"(?:怎么|怎样|咋个?|如何|点样)(?:都|也)?(?:填|改|查|用|交|办理|操作|登录|登陆|注册|下载|重置|找回|设置)")
_CRY_FOR_HELP = re.compile(r"救命[啊呀啦喔哦]*")


def is_emergency(text: str) -> bool:
    if _NOT_NOW.search(text):
        return False
    text = _HARMLESS.sub("，", text)
    if _SERVICE_REQUEST.search(text):
        # A danger happening now, told in a clause of its own beside a question (本来想问高龄补贴的事 我家公公刚才
        # 在菜地里倒了 喊他没反应): the danger outranks the question. In the same clause (生孩子大出血住院能报多少) or
        # without a word saying it is happening now, the question is what is asked.
        return bool(_JUST_NOW.search(text)) and any(
            _danger_in(clause) and not _SERVICE_REQUEST.search(clause) for clause in split_clauses(text))
    if _HOW_TO_DO.search(text) and not _danger_in(_CRY_FOR_HELP.sub("，", text)):
        return False
    return _danger_in(text)


def _danger_in(text: str) -> bool:
    return bool(_EMERGENCY.search(text) or _EMERGENCY_SOUNDS.search(_pinyin(text)))


def _pinyin(text: str) -> str:
    return "".join(lazy_pinyin(text, style=Style.NORMAL, errors="ignore"))


def asks_for_service(text: str) -> bool:
    """A service request, a question whom to tell, a hypothetical or a past event: the model must be surer."""
    return bool(_SERVICE_REQUEST.search(text) or _ASKING.search(text) or _NOT_NOW.search(text)
                or _ASKS_WHOM.search(text))  # 山坡开了条缝 要跟哪个讲: whom to tell, as 报告给谁 is


def switch_topic(text: str) -> str | None:
    """'那公租房呢' → '公租房': a follow-up that swaps the topic and keeps the question."""
    match = _SWITCH.match(text.strip())
    if not match:
        return None
    topic = match.group("topic").strip()
    return topic if len(topic) >= 2 else None


def wants_human(text: str) -> bool:
    return bool(HUMAN_WORDS.search(text))


def is_cancel(text: str) -> bool:
    return bool(_CANCEL.match(text.strip()))


def is_report_opener(text: str) -> bool:
    return bool(_REPORT_OPENER.match(text.strip()))
