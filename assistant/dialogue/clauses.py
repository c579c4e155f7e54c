"""Finding the request in a long message: 「我妈今年八十三了，一个人住，腿脚不好……想问下高龄津贴怎么领」.

A message is cut into clauses at punctuation and at discourse words (然后, 但是, 所以 …). A clause is a
request when it carries a question cue (怎么, 能不能, 吗, ？ …) or a wish (想, 要, 帮我 …); the last clause
counts as a request too, because residents end with what they want. Retrieval then reads the request
clauses instead of the whole story, and each request clause on its own, so that a message asking about
two things can be offered both.
"""

from __future__ import annotations

import re

# Above this many characters a message is read clause by clause.
LONG_MESSAGE_CHARS = 28
MIN_CLAUSE_CHARS = 3
MAX_REQUEST_CLAUSES = 3

# Residents on phones and voice input often separate clauses with spaces instead of punctuation
# (「路灯坏了快一个月了 晚上黑麻麻的 到底找哪个」): a space between two Chinese characters is a break too.
_SPLIT = re.compile(r"[，,。.！!？?；;、\n…~～]+|(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])|(?:然后|但是|可是|不过|所以|而且|还有就是|另外|另外还有|顺便问下|顺便问一下|还想问)")
_QUESTION_CUE = re.compile(
    r"怎么|怎样|如何|咋|哪里|哪儿|哪个|哪些|哪家|在哪|去哪|什么|啥|多少|多久|几时|几天|能不能|能否|可不可以|可以吗|"
    r"行不行|得不得|有没有|有冇|是不是|要不要|需不需要|够不够|算不算|吗|呢|么|[?？]"
)
_WISH_CUE = re.compile(r"想|要|帮我|帮忙|麻烦|请问|申请|办理|咨询|了解|问一下|问下|问问")


# A second question is announced: 还有…, 另外…, 两个都要…, 分别去哪
_SECOND_QUESTION = re.compile(r"还有|另外|顺便|再问|还想问|两个|两样|两件|分别|一起问|以及|也想问|同时")


def asks_two_things(text: str) -> bool:
    return bool(_SECOND_QUESTION.search(text))


def split_clauses(text: str) -> list[str]:
    return [c.strip() for c in _SPLIT.split(text) if len(c.strip()) >= MIN_CLAUSE_CHARS]


def is_request(clause: str) -> bool:
    return bool(_QUESTION_CUE.search(clause) or _WISH_CUE.search(clause))


def request_clauses(text: str) -> list[str]:
    """The clauses that ask for something, in order (at most ``MAX_REQUEST_CLAUSES``, the last ones kept).

    A short message is its own request. The last clause is always kept: 「……我妈八十多了，高龄津贴」.
    """
    if len(text) <= LONG_MESSAGE_CHARS:
        return [text]
    clauses = split_clauses(text)
    if len(clauses) <= 1:
        return [text]
    chosen = [c for c in clauses[:-1] if is_request(c)] + [clauses[-1]]
    return chosen[-MAX_REQUEST_CLAUSES:]


def request_text(text: str) -> str:
    """The request clauses joined: what retrieval reads of a long message."""
    return "，".join(request_clauses(text))
