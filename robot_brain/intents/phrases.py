"""What the user's words mean to the safety gate, in English, Chinese and Korean: stop, yes, no, "me", "it".

Every comparison runs on `normalise(text)`: NFKC, casefolded, with format and invisible characters
removed, so full-width letters, soft hyphens, zero-width joiners, tag characters and variation
selectors can neither hide a word nor make one up. Latin words are compared as whole words;
Chinese and Korean phrases as substrings of the text with its spaces removed (neither writes
words apart the way English does).

To add a language, add its words to each set below (and its phrases to `asked_by` in skills.yaml).
"""
from __future__ import annotations

import re
import unicodedata

# Invisible or format characters that are removed before anything is compared: every category Cf
# (soft hyphen, zero-width, bidi controls, tag characters U+E0000–E007F, …), variation selectors
# (category Mn, so named here), combining grapheme joiner and Hangul fillers.
_INVISIBLE_EXTRA = re.compile("[\u034f\u115f\u1160\u3164\uffa0\u180b-\u180f\ufe00-\ufe0f\U000e0100-\U000e01ef]")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\uff07": "'"})
_LATIN_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?|\d+")
_PUNCT_OR_SPACE = re.compile(r"[\W_]+")


def strip_invisible(text: str) -> str:
    """`text` without format (Cf) and other invisible characters."""
    text = _INVISIBLE_EXTRA.sub("", text)
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def visible(text: str) -> str:
    """NFKC with invisible characters removed (before, so none hides inside a composed letter, and after)."""
    return strip_invisible(unicodedata.normalize("NFKC", strip_invisible(text)))


def normalise(text: str) -> str:
    """`visible`, casefolded, curly apostrophes made straight: the form every comparison of words uses."""
    return visible(text).casefold().translate(_APOSTROPHES)


def is_cjk(text: str) -> bool:
    """True when `text` holds a Chinese, Japanese or Korean character (compared as a substring, not a word)."""
    return any(_script(c) in ("han", "hangul", "hiragana", "katakana") for c in text)


def tokens(text: str) -> list[str]:
    """The words of already-normalised text (a Chinese or Korean run is one token)."""
    return _LATIN_WORD.findall(text)


def compact(text: str) -> str:
    """Normalised text without spaces or punctuation: where Chinese and Korean phrases are looked for."""
    return _PUNCT_OR_SPACE.sub("", text)


def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    first = name.split(" ", 1)[0].lower()
    if first == "cjk":
        return "han"
    if first in ("latin", "cyrillic", "greek", "hangul", "hiragana", "katakana", "arabic", "hebrew", "armenian",
                 "georgian", "thai", "devanagari", "cherokee"):
        return first
    return "other" if char.isalpha() else ""


#: Scripts a single label may mix (Japanese writes Han with kana; Korean sometimes Han with Hangul).
_SCRIPT_FAMILIES = ({"latin"}, {"cyrillic"}, {"greek"}, {"han", "hiragana", "katakana"}, {"hangul", "han"})


def mixed_scripts(text: str) -> set[str]:
    """The scripts of `text`'s letters when they do not belong together (e.g. Latin with Cyrillic), else empty."""
    scripts = {s for s in map(_script, text) if s}
    if len(scripts) <= 1 or any(scripts <= family for family in _SCRIPT_FAMILIES):
        return set()
    return scripts


# ---- stop ---------------------------------------------------------------------------------------
STOP_WORDS = {"stop", "halt", "freeze", "abort"}
STOP_CJK = ("停下来", "停下", "停止", "停住", "别动", "不要动", "站住", "住手", "停",
            "멈춰요", "멈춰라", "멈추세요", "멈춰", "그만해요", "그만해", "그만", "정지", "스톱")
# Words that may stand around a stop word in a stop ("please stop now", "okay stop", "no, stop!").
STOP_COMPANIONS = {"please", "now", "robot", "ok", "okay", "hey", "right", "immediately", "just", "oh", "wait",
                   "hold", "on", "everything", "all", "it", "that", "the", "moving", "motion", "there", "yes",
                   "no", "now", "at", "once", "stop", "halt", "freeze", "abort", "plz", "pls", "emergency",
                   "请", "快", "马上", "立刻", "吧", "啊", "了", "机器人", "好", "好的", "是", "不", "一下", "赶紧", "你",
                   "제발", "당장", "지금", "로봇", "아", "야", "네", "아니", "빨리", "요", "좀", "당장요"}


def is_stop(text: str, extra: tuple[str, ...] | set[str] = ()) -> bool:
    """True when `text` is a stop: a stop word with at most polite or urgent words around it.

    "stop", "please stop", "stop now!", "okay stop", "ＳＴＯＰ", "停下", "멈춰요" are stops; "stop the music and
    look at me" is a request about something else. `extra`: more stop words (the configured `stop.words`).
    """
    text = normalise(text)
    latin = set(STOP_WORDS) | {w.casefold() for w in extra if not is_cjk(w)}
    cjk = sorted(set(STOP_CJK) | {w for w in extra if is_cjk(w)}, key=len, reverse=True)
    found, left = False, []
    for token in tokens(text):
        if is_cjk(token):
            for form in cjk:
                if form in token:
                    found, token = True, token.replace(form, " ")
            left += [t for t in _cjk_words(token) if t not in STOP_COMPANIONS]
        elif token in latin:
            found = True
        elif token not in STOP_COMPANIONS:
            left.append(token)
    return found and not left


def _cjk_words(run: str) -> list[str]:
    """What is left of a Chinese or Korean run once companions are taken out (empty: nothing but companions)."""
    rest = run
    for word in sorted((w for w in STOP_COMPANIONS if is_cjk(w)), key=len, reverse=True):
        rest = rest.replace(word, " ")
    return rest.split()


# ---- yes and no ---------------------------------------------------------------------------------
YES = {"yes", "yeah", "yep", "yup", "sure", "ok", "okay", "confirm", "confirmed", "affirmative", "correct",
       "ja", "oui", "sí", "si", "はい",
       "是", "是的", "好", "好的", "对", "对的", "可以", "行", "确认", "嗯",
       "네", "예", "응", "좋아", "좋아요", "그래", "그래요", "확인"}
YES_PHRASES = ("go ahead", "do it", "please do", "of course")
# Words that may come with a yes without changing it ("yes please", "okay, do it", "네 좋아요").
YES_COMPANIONS = {"please", "do", "it", "go", "ahead", "robot", "of", "course", "thanks", "thank", "you", "that",
                  "请", "吧", "啊", "呀", "的", "요"}
NO = {"no", "nope", "nah", "cancel", "don't", "dont", "not", "negative", "never", "wait", "hold", "later",
      "nein", "non", "いいえ",
      "不", "不要", "不是", "不行", "别", "算了", "取消", "等等", "等一下",
      "아니", "아니요", "아니오", "아뇨", "싫어", "싫어요", "취소", "잠깐", "잠깐만"}


def answer_of(text: str) -> bool | None:
    """True for a plain yes, False for a plain no, None for anything else (a new request, "yes, no", "go away").

    Only a yes with nothing but polite words around it is a yes: "yes wait", "okay but first …", "go away" are not.
    """
    text = normalise(text)
    words = tokens(text)
    if not words or len(words) > 5:
        return None
    spoken = f" {' '.join(words)} "
    for phrase in YES_PHRASES:
        spoken = spoken.replace(f" {phrase} ", " yes ")
    words = [w for part in spoken.split() for w in _answer_parts(part)]
    said_yes = any(w in YES for w in words)
    said_no = any(w in NO for w in words)
    others = [w for w in words if w not in YES and w not in NO and w not in YES_COMPANIONS]
    if others or said_yes == said_no:
        return None
    return said_yes


def _answer_parts(word: str) -> list[str]:
    """A Chinese or Korean run split into the yes/no words it is made of ("好的好的" → 好的, 好的), else itself."""
    if not is_cjk(word):
        return [word]
    known = sorted(YES | NO | YES_COMPANIONS, key=len, reverse=True)
    parts, rest = [], word
    while rest:
        for w in known:
            if rest.startswith(w):
                parts.append(w)
                rest = rest[len(w):]
                break
        else:
            return [word]
    return parts


# ---- targets ------------------------------------------------------------------------------------
# Words that point at something without naming it: never a target by themselves.
DEICTIC = {"it", "its", "this", "that", "these", "those", "there", "here", "you", "yours", "yourself", "them",
           "they", "him", "her", "one", "thing", "something", "anything", "everything", "stuff", "object",
           "它", "那", "这", "那个", "这个", "那里", "这里", "那边", "这边", "你", "东西",
           "그것", "이것", "저것", "그거", "이거", "저거", "거기", "여기", "저기", "너", "당신", "그", "이", "저"}
# Words a label may carry that name nothing ("the red cup" names red and cup).
FILLER = {"the", "a", "an", "at", "to", "of", "on", "in", "into", "onto", "my", "your", "please", "and", "with",
          "near", "by", "for", "from", "over", "under", "left", "right", "front", "back", "side", "top",
          "的", "个", "把", "을", "를", "이", "가", "은", "는", "의", "에", "로", "으로"}
# Labels that mean the user (a gesture at the user needs the user to have said me, I or my).
USER_LABELS = {"me", "user", "the user", "person", "the person", "human", "speaker", "我", "나", "저", "사용자", "用户"}
USER_WORDS_LATIN = {"me", "i", "my", "myself", "mine", "i'm", "i've", "i'd"}
USER_WORDS_ZH = ("我",)
USER_WORDS_KO = ("나", "저", "내", "제", "날", "절")       # at the start of a word: 나를, 저한테, 내 컵, 제 손


def mentions_user(text: str) -> bool:
    """True when the user spoke of themselves (me/I/my, 我, 나/저/내/제)."""
    text = normalise(text)
    for word in text.split():
        if any(w in USER_WORDS_LATIN for w in tokens(word)):
            return True
        if any(z in word for z in USER_WORDS_ZH):
            return True
        if any(word.startswith(k) and _hangul_word(word) for k in USER_WORDS_KO):
            return True
    return False


def _hangul_word(word: str) -> bool:
    return all(_script(c) == "hangul" for c in word if c.isalpha())
