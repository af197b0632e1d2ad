"""Whether the user's words ask the robot to do something now: the check behind R2 (motion needs the user's words).

A skill's `asked_by` phrases (skills.yaml) are looked for in the sentence. A Latin phrase matches its words in
order with at most three other words between them ("pick the red cup up" asks for "pick up"); a Chinese or
Korean phrase matches as a substring of a clause with its spaces removed ("A...B": A, then B within eight
characters). A match does not count when the words around it say it is not a request for now:

- negated: don't, not, never (three words before); 不, 别, 没, 그만 (shortly before); 안, 못 (right before);
  -지 마, 않 (after);
- a question for information: it opens with what/where/why/who/how/did/was/…, or holds 什么/哪/为什么/谁/多久, or
  뭐/왜/어디/누가/언제/어떻게 (a polite request — "could you…", "能…吗", "줄래요?" — stays a request);
- a report or a statement: already, yesterday, ago, last time; 已经, 刚才, 昨天, 上次, a verb with 过; a Korean
  past tense or quoted speech (-라고) after the phrase; a sentence whose subject is I, we, he, she, they, my…,
  我 (not 我要你/我想让你), 我自己, 내가/제가;
- the phrase in quotes (talk about the word) or, in Chinese, a direction after another verb (递过来, 放到…里去).

Each rule is small and general; `scripts/measure_requests.py` measures the whole on sentences labelled by hand.
"""
from __future__ import annotations

import re

from .phrases import compact, is_cjk, normalise, tokens

NEGATION_BEFORE_LATIN = {"don't", "dont", "not", "never", "no", "stop", "without", "cannot", "can't", "won't",
                         "shouldn't", "mustn't"}
NEGATION_BEFORE_CJK = ("不", "别", "没", "勿", "莫", "甭", "그만")
NEGATION_JUST_BEFORE_KO = ("안", "못")                # only right before the verb: 안에 (inside) is no negation
NEGATION_AFTER_KO = ("지마", "지말", "지않", "않", "말아", "마세요", "마라", "지못")

WH_WORDS = {"what", "where", "why", "who", "whom", "whose", "when", "which", "how"}
QUESTION_OPENERS = {"did", "didn't", "was",
                    "were", "wasn't", "have", "has", "had", "haven't", "is", "isn't", "are", "aren't", "does",
                    "doesn't", "do", "should", "shall"}
REPORT_WORDS = {"already", "yesterday", "earlier", "ago", "previously"}
REPORT_PAIRS = (("last", "time"), ("last", "night"), ("this", "morning"))
STATEMENT_SUBJECTS = {"i", "i'll", "i'm", "i've", "i'd", "we", "we'll", "we're", "we've", "he", "she", "they",
                      "he'll", "she'll", "they'll", "my", "our", "his", "her", "their", "someone", "somebody",
                      "nobody", "maybe", "perhaps", "last"}
INDIRECT_REQUESTS = (("you", "to"), ("can", "i"), ("could", "i"), ("may", "i"), ("let", "me"))

QUESTION_WORDS_ZH = ("什么", "哪", "为什么", "谁", "多久", "怎么", "几点", "多少")
REPORT_WORDS_ZH = ("已经", "刚才", "刚刚", "昨天", "前天", "上次", "以前", "之前", "小时前", "分钟前", "天前", "可能",
                   "也许")
ASKING_FOR_ME_ZH = ("我要你", "我想让你", "我需要你", "我希望你", "我想请你", "我请你")
MYSELF_ZH = ("我自己", "我来拿", "我来做", "我来吧", "让我来")
OTHERS_ZH = ("她", "他", "我们", "你们")                    # a sentence that opens with them is about them
DIRECTIONS_ZH = ("过来", "过去", "回来", "去", "来")
VERBS_BEFORE_DIRECTION_ZH = "递拿送带搬扔放端寄传捡抱提"
QUESTION_WORDS_KO = ("뭐", "왜", "어디", "누가", "누구", "언제", "어떻게", "몇", "무슨")
MYSELF_KO = ("내가", "제가", "나는", "저는")
QUOTED_KO = ("라고", "다고", "자고", "냐고", "지도몰라", "는거", "는건", "는것", "기가")
WISH_KO = ("으면", "면좋", "주시겠", "겠")
_CLAUSE = re.compile(r"[,.;:!?，。！？；：、…]+")
_QUOTED = re.compile(r"[\"'“”‘’「」『』](.{1,30}?)[\"'“”‘’「」『』]")


def asks_for(phrases: tuple[str, ...] | list[str], text: str) -> str:
    """The first of `phrases` that `text` asks the robot to do now ("" when none)."""
    text = normalise(text)
    if _not_a_request(text):
        return ""
    quoted = " ".join(_QUOTED.findall(text))
    clauses = [c for c in _CLAUSE.split(text) if c.strip()]
    words = tokens(text)
    for phrase in phrases:
        wanted = normalise(phrase).strip()
        if not wanted or (quoted and wanted in quoted):
            continue
        if is_cjk(wanted):
            parts = [compact(part) for part in wanted.split("...")]
            if any(_cjk_asks(parts, compact(clause)) for clause in clauses):
                return phrase
        elif _latin_asks(tokens(wanted), words):
            return phrase
    return ""


def _not_a_request(text: str) -> bool:
    """The sentence is a question for information, a report or a statement, whatever verbs it holds."""
    words = tokens(text)
    if words and not is_cjk(words[0]):
        pairs = set(zip(words, words[1:]))
        if words[0] in WH_WORDS or REPORT_WORDS & set(words) or any(pair in pairs for pair in REPORT_PAIRS):
            return True
        if any(pair in INDIRECT_REQUESTS for pair in zip(words[:4], words[1:4])):     # "I'd like you to …"
            return False
        if words[0] in QUESTION_OPENERS or words[0] in STATEMENT_SUBJECTS:
            return True
    joined = compact(text)
    if any(w in joined for w in QUESTION_WORDS_ZH + REPORT_WORDS_ZH + MYSELF_ZH) or joined.endswith("的"):
        return True                                                  # …是我老公递给你的: a statement
    if (joined.startswith("我") and not joined.startswith(ASKING_FOR_ME_ZH)) or joined.startswith(OTHERS_ZH):
        return True
    if any(a == b and a not in "好行能可要" for a, b in re.findall(r"(\w)不(\w)", joined)):
        return True                                                  # 难不难: a yes-or-no question
    korean = text.split()
    if any(word.startswith(QUESTION_WORDS_KO) for word in korean) or any(w in joined for w in MYSELF_KO):
        return True
    return False


def _latin_asks(wanted: list[str], words: list[str]) -> bool:
    for start, word in enumerate(words):
        if word != wanted[0] or any(w in NEGATION_BEFORE_LATIN for w in words[max(0, start - 3):start]):
            continue
        at = start
        for part in wanted[1:]:
            following = words[at + 1:at + 5]
            if part not in following:
                break
            at += 1 + following.index(part)
        else:
            return True
    return False


def _cjk_asks(parts: list[str], clause: str) -> bool:
    first, rest = parts[0], parts[1:]
    start = clause.find(first)
    while start >= 0:
        end = _rest_at(rest, clause, start + len(first))
        if end >= 0 and not _cjk_not_asked(first, clause, start, end):
            return True
        start = clause.find(first, start + 1)
    return False


def _cjk_not_asked(phrase: str, clause: str, start: int, end: int) -> bool:
    before, after = clause[max(0, start - 5):start], clause[end:]
    if any(n in before for n in NEGATION_BEFORE_CJK) or before.endswith(NEGATION_JUST_BEFORE_KO) \
            or any(n in after[:4] for n in NEGATION_AFTER_KO):
        return True
    if after.startswith("过") and not after.startswith(("过来", "过去")):         # 去过厨房: has been there
        return True
    if phrase in DIRECTIONS_ZH and _direction_of_another_verb(before):
        return True                                                              # 递过来, 放到篮子里去, 跟我去
    if "是" in after:                                                            # 递东西是你的技能: about it
        return True
    if any(q in after for q in QUOTED_KO):
        return True
    return _korean_past(after) and not any(w in after for w in WISH_KO)


def _direction_of_another_verb(before: str) -> bool:
    """过来/去 after another verb (递过来, 放到篮子里去) or after 跟我 says where that action goes, not "go"."""
    if before[-1:] and before[-1:] in VERBS_BEFORE_DIRECTION_ZH or "跟" in before[-3:]:
        return True
    to = before.rfind("到")
    return to > 0 and before[to - 1] in VERBS_BEFORE_DIRECTION_ZH


def _korean_past(text: str) -> bool:
    """A Hangul syllable ending in ㅆ (했, 갔, 줬, 었) other than 있/겠: the Korean past tense."""
    return any(0xAC00 <= ord(c) <= 0xD7A3 and (ord(c) - 0xAC00) % 28 == 20 and c not in "있겠" for c in text)


def _rest_at(parts: list[str], joined: str, at: int, gap: int = 8) -> int:
    """Where the `parts` of a phrase written "A...B" end, each within `gap` characters of the one before (-1: not)."""
    for part in parts:
        found = joined.find(part, at, at + gap + len(part))
        if found < 0:
            return -1
        at = found + len(part)
    return at
