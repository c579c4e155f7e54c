"""Fixed reply texts (plain Simplified Chinese) and the construction of reply objects."""

from __future__ import annotations

from functools import lru_cache

from accessibility.speech_text import to_speech_text
from assistant.dialogue import payloads
from assistant.dialogue.schemas import Button, Reply

SPEECH_MAX_CHARS = 160

GREET = "您好！我是社区小助手。您可以问我社保、医保、养老、救助、残疾人、看病、就业、户口、住房和社区里的事。"
GOODBYE = "好的，再见！有需要随时来问我。"
THANKS = "不客气！还有别的问题可以继续问我。"
CAPABILITIES = ("我能回答社区办事的问题：社保、医保、养老补贴、低保救助、残疾人服务、看病体检、找工作、户口证件、"
                "住房物业和社区事务。我还能帮您反映问题、查工单进度，或者转给工作人员。")
AFFIRM = "好的。请问还有什么要问的吗？"
DENY_NO_CONTEXT = "好的。请您换个说法再说一遍，或者点“转人工”找工作人员。"
NOTHING_TO_REPEAT = "我们还没开始聊呢。请问您想办什么事？"
FALLBACK_FIRST = "不好意思，这个问题我还不会回答。请换个说法试试，比如“高龄津贴怎么申请”。"
FALLBACK_AGAIN = "不好意思，我还是没听懂。要不要帮您转给社区工作人员？"
OUT_OF_SCOPE = "这个问题不在我能办的范围内。我可以回答社保、医保、养老、救助等社区办事问题。"
EMPTY_INPUT = "请告诉我您想办什么事。"
# What the resident is told is only what is true when the reply is sent: the numbers to call come first, then
# that the community staff have the message (the alert row commits with this turn). Nobody is promised to come.
# "打120", not "急救120": the speech text then reads the digits one by one (幺二零), not "一百二十".
EMERGENCY_NUMBERS = "急救打120、火警打119、报警打110。"
# A call button that came back as text (the device cannot dial): say the number plainly.
CALL_NUMBER = "请马上用电话拨打{number}。需要社区帮忙，请点“呼叫工作人员”。"
EMERGENCY_ADVICE = "请先确保自己安全，马上打电话求助。"
EMERGENCY_SENT = "已把您的情况发给社区工作人员。"
EMERGENCY = EMERGENCY_NUMBERS + EMERGENCY_ADVICE + EMERGENCY_SENT
# The number whose call button comes first, by kind of danger (the others follow: 120, 110, 119).
EMERGENCY_FIRST_CALL = {"medical": "120", "electric": "120", "suicide": "120", "fire": "119", "gas": "119",
                        "flood": "110", "landslide": "110", "drowning": "110", "violence": "110", "missing": "110"}
EMERGENCY_CALLS = ("120", "110", "119")
EMERGENCY_BY_KIND = {
    "medical": "请马上拨打120叫救护车。不要随便搬动摔倒或昏迷的人，守在旁边，等救护车来。",
    "fire": "请马上离开，拨打119。用湿毛巾捂住口鼻，弯腰走楼梯，不要坐电梯，不要回去拿东西。",
    "gas": "请马上打开门窗，不要开关电灯电器，不要打火，离开屋子后再拨打119或燃气公司电话。",
    "flood": "请马上往高处走，不要蹚水，离开低洼的地方，拨打110或119求救。",
    "landslide": "请马上离开房子和山边，往两侧高处跑，不要回去拿东西，拨打110或119。",
    "electric": "请先拉闸断电，不要用手直接去拉触电的人，可以用干木棍挑开电线，马上拨打120。",
    "drowning": "请马上拨打110和120，大声呼救。不会游泳不要下水，可以扔绳子、竹竿或能浮的东西。",
    "violence": "请先躲到安全的地方，马上拨打110报警。",
    "suicide": ("您的安全最重要。有危险请马上拨打110或120。也可以拨打心理援助热线12356，"
                "有人会听您说。请不要一个人待着，找身边信任的人陪着您。"),
    "missing": "请马上拨打110报警，不用等24小时。告诉警察走失的人穿什么衣服、最后在哪里出现。",
}
HANDOFF_QUEUED = "好的，已经为您转接社区工作人员，您的排队号是{number}。请稍等，工作人员会尽快回复您。"
HANDOFF_OFFLINE = ("现在工作人员不在线。您可以留下问题和联系电话，工作人员上班后会给您回电。"
                   "请直接说您的问题和电话号码。")
CLARIFY_LEAD = "您想问的是哪一个？请点选或说序号："
CLARIFY_NONE = "好的，都不是。可以请社区工作人员帮您，或者换个说法再问。"
BROAD_LEAD = "您问的是哪一项？请点选或说序号："
CHOICE_INVALID = "没有这个选项。请说序号，比如“第一个”。"
ASPECT_MISSING = "这一项暂时没有详细说明，请咨询{department}。"
ASPECT_MISSING_CONTACT = "{title}的{label}这里没有写明，请问{department}：{contact}。"
TOPIC_MENU = "关于“{title}”，您想问哪一方面？请点选，或者换个说法再问。"
REPORT_ASK_WHAT = "好的，我来帮您反映。请说一下是什么问题？"
REPORT_ASK_WHERE = "请问在哪个小区、几栋几单元？在路上的请说哪条路、什么地方。"
REPORT_NOTED = "好的，记下了：{noted}。"
REPORT_ASK_CONTACT = "请留一个手机号码，方便工作人员联系您。不想留可以说“不留”。"
REPORT_DONE = "已经帮您登记，工单号是{number}，由{department}处理。可以随时问我“查工单{number}”看进度。"
REPORT_CANCELLED = "好的，已经取消，没有登记。"
TICKET_ASK_NUMBER = "请告诉我工单号，工单号以GX开头，比如GX20261120003。"
TICKET_NOT_FOUND = "没有查到工单{number}，请核对一下号码，或者点“转人工”问工作人员。"
# The resident's words for a status come from assistant.handoff.queries.resident_status (same as /t/).
TICKET_STATUS = "工单{number}：{status}。{due}"
TICKET_DUE = "预计{date}前办结。"
TICKET_FINISHED = "工单{number}已办结。办理结果：{result}"
TICKET_FINISHED_NO_RESULT = "工单{number}已办结。"
INVALID_PHONE = "这个号码好像不对，请说11位手机号码，或者说“不留”。"

HUMAN_BUTTON = Button(title="转人工", payload=payloads.HUMAN)
STAFF_BUTTON = Button(title="呼叫工作人员", payload=payloads.HUMAN)


@lru_cache(maxsize=4096)
def speech_for(text: str) -> str:
    # Answers repeat across residents: their spoken form is computed once per text.
    return to_speech_text(text, max_chars=SPEECH_MAX_CHARS, truncation_hint="详细内容请看屏幕。")


def make_reply(text: str, buttons: list[Button] | None = None, *, slow: bool = False) -> Reply:
    speech = speech_for(text)
    return Reply(text=text, speech=speech, buttons=buttons or [], speech_rate="slow" if slow else "normal")
