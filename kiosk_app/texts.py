"""Every sentence the kiosk itself shows or says (replies come from the assistant): short, plain Chinese."""

from __future__ import annotations

from knowledge_base.aspects import aspect_table

APP_TITLE = "社区小助手"
HOME_PROMPT = "您好！请点您要办的事"
HOME_SPEECH = "请点您要办的事。"
COMMON_TITLE = "常见问题"
COMMON_PROMPT = "这些是大家常问的问题，请点您想问的。"
MORE_TITLE = "更多服务"
MORE_PROMPT = "请点您要办的事。"
CATEGORY_PROMPT = "请点您想问的问题。"
NOTHING_HERE_TITLE = "暂时没有内容"
NOTHING_HERE = "这一类暂时没有内容，请选别的，或者找工作人员。"
CLARIFY_PROMPT = "您想问的是哪一个？请点一下。"
ANSWER_TITLE = "回答"
MESSAGE_TITLE = "小助手"
EMERGENCY_TITLE = "紧急情况"
# The kiosk cannot dial: an emergency number's button shows the number very large and says it.
CALL_NAMES = {"120": "急救", "110": "报警", "119": "火警"}
CALL_BUTTON = "{number} {name}"
CALL_TEXT = "请用电话拨打 {number}"
CALL_SPEECH = "请用电话拨打{number}。"
PROBLEM_TITLE = "出了点问题"
GENERIC_PROBLEM = "机器出了点问题，请找工作人员帮忙。"
NOTHING_TO_REPEAT = "现在没有可以重复的内容。"

# The four aspects the kiosk offers under an answer, in this order; their button texts come from the one
# aspect table (knowledge_base/data/aspects.yaml).
KIOSK_ASPECTS = ("materials", "location", "time", "contact")
ASPECT_LABELS = {name: aspect_table().buttons()[name] for name in KIOSK_ASPECTS}
ASPECT_FALLBACK = "详细说明"

BACK = "返回"
HOME = "首页"
IDCARD_BUTTON = "刷身份证"
STAFF_BUTTON = "呼叫工作人员"
NOT_SOLVED_BUTTON = "没解决找工作人员"
REPLAY_BUTTON = "再听一遍"
SLOWER_BUTTON = "慢一点"
PRINT_BUTTON = "打印"
PREV_PAGE = "上一页"
NEXT_PAGE = "下一页"
HIGH_CONTRAST_BUTTON = "黑底大字"
NORMAL_THEME_BUTTON = "白底大字"
LARGER_BUTTON = "字再大一点"
SMALLER_BUTTON = "字小一点"
HIGH_CONTRAST_ON = "已换成黑底黄字。"
NORMAL_ON = "已换回白底黑字。"
LARGER_ON = "字已经放大。"
LARGER_OFF = "字已经恢复。"

QUEUED = "已经为您叫了工作人员，您的排队号是{number}。请在旁边坐着稍等，工作人员会叫这个号。"
STAFF_AWAY = "现在工作人员不在。您可以留下电话号码，工作人员上班后给您回电话。"
LEAVE_QUEUE_BUTTON = "不用了，不排了"
CALLBACK_BUTTON = "留电话，等回电"
PRINT_NUMBER_BUTTON = "打印排队号"
PRINT_TICKET_BUTTON = "打印工单号"

KEYPAD_PROMPT = "请输入您的电话号码"
KEYPAD_SPEECH = "请用下面的数字键输入您的电话号码，输好后点确认。"
KEYPAD_CONFIRM = "确认"
KEYPAD_DELETE = "删掉一位"
KEYPAD_BAD_NUMBER = "号码位数不对。手机号是11位，座机要带区号，请再看一下。"
KEYPAD_EMPTY = "还没有输入号码。"
CALLBACK_DONE_TITLE = "已经登记"
CALLBACK_DONE_SPEECH = "已经登记，工作人员上班后会打电话给您。"
CALLBACK_FAILED = "电话没有登记上，请到服务台找工作人员。"
CALLBACK_RECEIPT_SUMMARY = "在自助机上留了电话，请工作人员回电"

CARD_TITLE = "刷身份证"
CARD_WAITING = "请把身份证放在读卡区上，不要移动"
CARD_WAITING_SPEECH = "请把身份证放在读卡区上，不要移动。"
CARD_READING = "正在读卡，请不要移动身份证"
CARD_UNAVAILABLE = "读卡器暂时不能用，请找工作人员帮忙。"
SIGN_OUT_BUTTON = "退出，取回身份证"
SIGNED_OUT = "已经退出。请记得取回您的身份证。"
SUGGESTION_TITLE = "您可能用得上"
NO_SUGGESTION = "请点常见问题，或者回到首页选您要办的事。"

IDLE_QUESTION = "您还在使用吗？"
IDLE_SPEECH = "您还在使用吗？要继续，请点继续使用。{seconds}秒后会回到首页，并清除您的信息。"
IDLE_COUNTDOWN = "还有{seconds}秒。"
IDLE_CONTINUE = "继续使用"
IDLE_END = "不用了，结束"

PRINTED = "凭条已打印，请取走。"
DEVICE_PROBLEM_TITLE = "设备问题"
READER_PROBLEM_NOTICE = "读卡器暂时不能用，需要刷身份证请找工作人员。"
PRINTER_PROBLEM_NOTICE = "打印机暂时不能用，需要凭条请找工作人员。"
