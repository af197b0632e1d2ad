"""Speech data for the demo recogniser: the demo questions spoken by espeak-ng voices, augmented like a robot hears.

- `demo_questions()`: every question the synthetic world asks (robot_brain/sim), 129 sentences.
- `training_plan(seed)` / `heldout_plan(seed)`: which sentence is spoken by which voice, speed, pitch and word gap.
  Held-out voices (`HELD_OUT_VOICES`) use variants and an accent that no training render ever uses.
- `synthesize_all(plan, cache)`: the renders as 16 kHz int16 arrays, cached in one .npz per plan.
- `augment(speech, rng)`: leading/trailing silence, speed/formant shift, microphone colour, room echo,
  gain and background noise at a random SNR; `eval_condition` is the fixed version for evaluation.
- `log_mel(audio)`: the log-mel features exactly as faster-whisper computes them for the encoder.
"""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..sim.dialogue import _plural
from ..sim.world import COLOURS, KINDS

RATE = 16000

#: espeak-ng accents used for training, and the accent kept for evaluation only.
TRAIN_BASES = ("en-us", "en", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-029", "en-us-nyc")
HELD_OUT_BASES = ("en-gb-x-gbcwmd",)
#: espeak-ng voice variants (the `+name` suffix; "" = the accent's own voice) used for training...
TRAIN_VARIANTS = (
    "", "Alex", "Andrea", "Andy", "Annie", "AnxiousAndy", "Demonic", "Denis", "Diogo", "Gene", "Gene2", "Henrique",
    "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike", "Nguyen", "RicishayMax", "RicishayMax2",
    "RicishayMax3", "Storm", "Tweaky", "UniRobot", "adam", "anika", "anikaRobot", "announcer", "antonio", "aunty",
    "belinda", "benjamin", "boris", "caleb", "croak", "david", "ed", "edward", "edward2", "f1", "f2", "f3", "f5",
    "fast", "grandma", "grandpa", "gustave", "iven", "iven2", "iven3", "iven4", "john", "kaukovalta", "klatt",
    "klatt2", "klatt4", "klatt5", "klatt6", "linda", "m1", "m2", "m3", "m4", "m5", "m7", "m8", "marcelo", "max",
    "michel", "miguel", "norbert", "pablo", "paul", "pedro", "quincy", "rob", "robosoft", "robosoft2", "robosoft3",
    "robosoft4", "robosoft5", "robosoft6", "robosoft7", "robosoft8", "sandro", "shelby", "steph", "steph2",
    "steph3", "travis", "victor", "whisper", "whisperf", "zac")
#: ...and the variants that only evaluation uses.
HELD_OUT_VARIANTS = ("m6", "f4", "klatt3", "Alicia", "robert")
#: The evaluation voices: a held-out variant on a training accent, or the held-out accent itself.
HELD_OUT_VOICES = ("en-us+m6", "en-gb-x-rp+f4", "en-029+klatt3", "en-gb-scotland+Alicia", "en+robert",
                   "en-gb-x-gbcwmd")

SPEEDS = (120, 220)          # espeak-ng words per minute
PITCHES = (20, 80)           # espeak-ng pitch, 0-99
MAX_SECONDS = 3.9            # an augmented training utterance never exceeds this (bounds the cost of a batch)
RANDOM_VOICES = 400          # invented voice variants (random vocal tracts, see `random_variant`)...
RANDOM_SHARE = 0.5           # ...speaking this share of the training renders
VARIANT_PREFIX = "rbv"       # their names: rbv<seed>_<k>


def demo_questions() -> list[str]:
    """Every question robot_brain.sim asks, sorted: the recogniser's whole vocabulary."""
    questions = {"what do you see", "is anyone there", "look at me", "stop"}
    for colour in COLOURS:
        for kind in KINDS:
            for form in ("where is the {} {}", "point at the {} {}", "pick up the {} {}"):
                questions.add(form.format(colour, kind))
    questions.update(f"how many {_plural(kind)}" for kind in KINDS)
    return sorted(questions)


def _form(text: str) -> str:
    """The question's form: "point at", "how many", "stop", ..."""
    for form in ("where is", "point at", "pick up", "how many"):
        if text.startswith(form):
            return form
    return text


@dataclass(frozen=True)
class Render:
    """One espeak-ng rendering of a sentence."""
    text: str
    voice: str            # accent[+variant]
    speed: int
    pitch: int
    gap: int = 0          # extra pause between words, in 10 ms units

    @property
    def key(self) -> str:
        return "|".join(map(str, astuple(self)))


def _voice(base: str, variant: str) -> str:
    return f"{base}+{variant}" if variant else base


def training_plan(seed: int, per_sentence: int = 36, per_form: int = 160) -> list[Render]:
    """The training renders: each sentence `per_sentence` times, but each of the 8 question forms at least
    `per_form` times (so "stop" is not drowned by the 40 "point at ..." sentences). Voices: a TRAIN_BASES accent
    with a TRAIN_VARIANTS variant, or (RANDOM_SHARE of them) with one of RANDOM_VOICES invented variants.
    The same seed gives the same plan."""
    rng = np.random.default_rng([seed, 1])
    questions = demo_questions()
    forms: dict[str, list[str]] = {}
    for q in questions:
        forms.setdefault(_form(q), []).append(q)
    plan = []
    for q in questions:
        count = max(per_sentence, -(-per_form // len(forms[_form(q)])))
        for _ in range(count):
            plan.append(_training_render(rng, seed, q))
    return plan


def _training_render(rng: np.random.Generator, seed: int, text: str) -> Render:
    """`text` spoken by a random training voice (never a held-out one) at a random speed, pitch and word gap."""
    variant = TRAIN_VARIANTS[int(rng.integers(len(TRAIN_VARIANTS)))]
    if rng.random() < RANDOM_SHARE:
        variant = f"{VARIANT_PREFIX}{seed}_{int(rng.integers(RANDOM_VOICES))}"
    base = TRAIN_BASES[int(rng.integers(len(TRAIN_BASES)))]
    gap = int(rng.choice([0, 0, 0, 1, 2, 4]))
    return Render(text, _voice(base, variant), int(rng.integers(SPEEDS[0], SPEEDS[1] + 1)),
                  int(rng.integers(PITCHES[0], PITCHES[1] + 1)), gap)


def heldout_plan(seed: int, voices: Sequence[str] = HELD_OUT_VOICES,
                 questions: Sequence[str] | None = None) -> list[Render]:
    """Every question once per held-out voice, at a moderate random speed and pitch (fixed by `seed`)."""
    rng = np.random.default_rng([seed, 2])
    questions = list(questions or demo_questions())
    return [Render(q, voice, int(rng.integers(135, 196)), int(rng.integers(30, 71)))
            for voice in voices for q in questions]


# ---- speech outside the vocabulary -------------------------------------------------------------------------------
#
# A closed-vocabulary recogniser must write nothing for speech that is not one of the demo questions ("open the
# door" must not come out as "point at the black ball"). Such "other speech" is trained to <|nocaptions|> and an
# empty transcript, like background alone. Three kinds of it:
#   near    near misses that share words with the questions: "pick up the phone", "look at the red car", "stop
#           the music", "how many people came", "pick up the pink cup"
#   every   everyday sentences: "can you tell me a joke", "please bring me a glass of water"
#   random  1-6 random words (a quarter of them demo words): "tiger the purple under sleepy"
# The training sentences and the held-out ones (evaluation only) come from different templates and different
# content words; only function words (`FUNCTION_WORDS`) and the demo words themselves are shared.

def _split(words: str) -> tuple[str, ...]:
    return tuple(words.split())


#: Words both sides use: articles, pronouns, prepositions, auxiliaries, numbers.
FUNCTION_WORDS = _split("""
    a an the this that these those it its i me my you your we us our they them their he him his she her
    is are was were be am do does did can could will would should not no yes to of in on at for with from by
    about into over under and or but so if then than too very just also please what where when who why how which
    there here now all some any many much more one two three four five six seven eight nine ten it's don't i'm
    you're let's have has had""")

#: The content words of the training sentences, by slot.
_TRAIN = {
    "n": _split("""
        table chair sofa bed lamp pillow towel mirror clock shelf drawer desk carpet curtain wall floor fridge oven
        sink kettle toaster spoon fork knife plate bowl pan pot jar basket bucket bag backpack wallet key coin book
        magazine map notebook crayon marker scissors tape paper envelope stamp parcel tablet radio speaker
        headphones cable plug socket fan heater candle flower plant tree leaf rock stone stick rope ladder hammer
        nail shovel broom mop truck bus boat plane helicopter tractor rocket horse cow sheep pig chicken duck rabbit
        cat dog puppy kitten bird fish frog snake turtle lion tiger bear monkey elephant giraffe zebra shirt sock
        sweater coat scarf glove boot dress skirt belt ring watch necklace"""),
    "food": _split("""
        pizza pasta rice salad cake cookie biscuit candy chocolate sugar salt pepper butter egg tomato potato carrot
        onion lemon grape cherry strawberry peach pear melon juice tea soda cereal yogurt honey jam"""),
    "place": _split("""
        garden garage bathroom bedroom hallway school office shop market park station hospital library church
        bakery zoo farm city village"""),
    "v": _split("""
        close clean wash fix move push pull carry hold drop throw catch kick build draw paint write read dance
        jump run walk sleep eat drink cook bake buy sell pay call wait sit stand listen watch play help find keep
        give take put start finish try learn hide follow climb swim fly drive ride sweep dig feed hug laugh smile
        cry shout"""),
    "g": _split("""
        talking singing dancing running jumping shouting laughing crying moving playing walking cooking cleaning
        working eating drinking waiting"""),
    "a": _split("""
        big small tall short long heavy soft hard hot cold warm cool wet dry clean dirty new old young happy sad
        angry tired hungry thirsty sleepy busy quiet loud fast slow funny scary pretty ugly empty full broken shiny
        round square sharp sweet sour fresh"""),
    "x": _split("pink brown grey gold"),                    # colours that are not demo colours
    "name": _split("tom maria peter lucy sam emma jack olivia ben sophie leo mia oscar grace"),
    "t": _split("yesterday tonight tomorrow later soon afternoon evening night weekend monday friday"),
    "hi": _split("hi hey thanks okay sorry goodbye oops wow cheers great awesome perfect excellent alright sure"),
}

#: The content words of the held-out sentences (evaluation only), by slot.
_HELDOUT = {
    "n": _split("""
        phone window car door glass robot pencil laptop umbrella television newspaper teacher doctor train bicycle
        piano guitar ticket jacket hat remote charger battery letter camera computer keyboard printer"""),
    "food": _split("water sandwich banana soup coffee milk bread cheese apple dinner breakfast"),
    "place": _split("kitchen airport cinema museum restaurant beach mountain"),
    "v": _split("tell bring open think like turn visit borrow explain remember forget choose fold lift wrap"),
    "g": _split("whistling typing humming knocking complaining giggling"),
    "a": _split("nice good beautiful strange expensive cheap delicious boring lazy clever friendly dangerous"),
    "x": _split("silver beige"),
    "name": _split("anna james sarah daniel laura"),
    "t": _split("today morning sunday noon"),
    "hi": _split("hello welcome congratulations"),
}

_TRAIN_TEMPLATES = {
    "near": (
        "pick up the {n}", "pick up my {n}", "pick up the {x} {k}", "pick up the {c} {n}", "pick up {name}",
        "pick it up", "pick up the {k}", "pick up the {food}", "where is the {n}", "where is my {n}",
        "where is {name}", "where is the {c} {n}", "where are the {ns}", "where is the {x} {k}", "where is the {k}",
        "where is the {place}", "point at the {n}", "point at the {c} {n}", "point at {name}",
        "point at the {x} {k}", "point at the {k}", "point at the {place}", "how many {ns}", "how many {ns} are there",
        "how many {c} {ns}", "how many {food} left", "how much {food}", "look at the {n}", "look at the {c} {n}",
        "look at {name}", "look at this", "look at that {n}", "look at the {x} {k}", "what do you {v}",
        "what do you want", "what did you see", "what is the {n}", "what is that", "is anyone {a}",
        "is anyone in the {place}", "is anybody home", "stop the {n}", "stop {g}", "don't stop", "stop it {name}",
        "the {c} {n}", "a {c} {k}", "{c} {n}", "the {x} {k}", "see you {t}", "see the {n}", "{c} and {c}",
        "the {k} is {a}", "my {k} is {c}", "i see a {n}"),
    "every": (
        "can you {v} the {n}", "could you {v} my {n}", "i want to {v}", "let's {v} together", "don't {v} the {n}",
        "i need a {n}", "we have no {ns}", "the {n} is {a}", "this {n} is too {a}", "my {n} is {a}",
        "i love {ns}", "i hate {food}", "she has a {a} {n}", "he went to the {place}", "we went to the {place} {t}",
        "{name} is in the {place}", "call {name} {t}", "is it {a} outside", "it is {a} {t}", "{hi}",
        "{hi} {name}", "{hi} how are you", "i am {a}", "are you {a}", "give me the {n}", "put the {n} on the {n2}",
        "take the {n} to the {place}", "the {n} fell on the floor", "have you seen my {n}", "have a {a} {t}",
        "we should {v} the {n} {t}", "can i have some {food}", "i would love some {food}", "a {n} and a {n2}",
        "my favourite {n} is {a}", "the {n} is {g}", "why is the {n} {a}", "when do we {v}", "who ate my {food}",
        "sorry i was {a}", "{name} can you {v}", "it's {a} in here", "i'm {a} {t}", "{hi} {hi}"),
}

_HELDOUT_TEMPLATES = {
    "near": (
        "pick up the {n}", "where is the {n}", "point at the {n}", "how many {ns} came", "look at the {c} {n}",
        "stop the {n}", "what do you {v}", "is anyone {a}", "pick up the {x} {k}", "where is my {n}",
        "point at the {place}", "how many {ns} should we get"),
    "every": (
        "please {v} the {n}", "i {v} my {n}", "the {n} is really {a}", "{name} wants a {n}", "we will {v} {t}",
        "is the {n} {a}", "have you got a {n}", "my {n} is in the {place}", "it looks {a}",
        "{hi} {name} how was your {t}",
        "shall we {v}", "can i {v} your {n}"),
}

#: Held-out sentences that must always be measured: the everyday sentences that came out as commands before
#: the recogniser learnt other speech, and typical near misses.
_HELDOUT_FIXED = (
    ("every", "can you tell me a joke"), ("every", "what time is it"), ("every", "hello robot how are you"),
    ("every", "turn on the lights"), ("every", "i am going to the kitchen"), ("every", "the weather is nice today"),
    ("every", "please bring me a glass of water"), ("every", "thank you very much"), ("every", "do you like music"),
    ("every", "open the door"), ("every", "my name is anna"), ("every", "good morning everyone"),
    ("near", "pick up the phone"), ("near", "where is the kitchen"), ("near", "how many people came"),
    ("near", "point at the window"), ("near", "stop the music"), ("near", "look at the red car"),
    ("near", "what do you think"))


OOV_KINDS = ("near", "every", "random")
OOV_TRAIN_SHARES = (0.4, 0.35, 0.25)        # near misses, everyday sentences, random words
OOV_HELDOUT_PER_KIND = 22                   # held-out sentences of each kind (fixed ones included)
OOV_MAX_WORDS, OOV_MAX_CHARS = 7, 38        # about as long as the longest question (renders stay < MAX_SECONDS)

_IRREGULAR = {"knife": "knives", "leaf": "leaves", "sheep": "sheep", "fish": "fish", "person": "people",
              "scissors": "scissors", "headphones": "headphones", "glass": "glasses", "bus": "buses"}


def _plural_noun(noun: str) -> str:
    if noun in _IRREGULAR:
        return _IRREGULAR[noun]
    if noun.endswith(("s", "sh", "ch", "x", "z")) or noun in ("tomato", "potato"):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


#: Every word a held-out sentence uses that is neither a function word nor a demo word (none is in training).
HELDOUT_WORDS = frozenset(w for words in _HELDOUT.values() for w in words) | frozenset(
    _plural_noun(n) for n in _HELDOUT["n"]) | frozenset(
    "tell joke time hello robot turn lights going kitchen weather nice today bring glass water thank like music "
    "open door name anna good morning everyone phone people came window car think".split())


def _demo_words() -> tuple[str, ...]:
    return tuple(sorted({w for q in demo_questions() for w in q.split()}))


def is_other_speech(text: str, questions: Sequence[str] | None = None) -> bool:
    """True if `text` is neither a demo question nor contains one of several words (so "stop the music" is
    other speech, "please point at the red cup" is not)."""
    questions = demo_questions() if questions is None else questions
    padded = f" {text} "
    return text not in questions and not any(f" {q} " in padded for q in questions if " " in q)


def _fill(template: str, words: dict, rng: np.random.Generator) -> str:
    def pick(slot: str) -> str:
        if slot == "c":
            return list(COLOURS)[int(rng.integers(len(COLOURS)))]
        if slot == "k":
            return KINDS[int(rng.integers(len(KINDS)))]
        if slot == "ks":
            return _plural(KINDS[int(rng.integers(len(KINDS)))])
        if slot in ("ns", "n2"):
            nouns = words["n"]
            noun = nouns[int(rng.integers(len(nouns)))]
            return _plural_noun(noun) if slot == "ns" else noun
        options = words[slot]
        return options[int(rng.integers(len(options)))]
    out, rest = [], template
    while "{" in rest:
        head, _, tail = rest.partition("{")
        slot, _, rest = tail.partition("}")
        out += [head, pick(slot)]
    return "".join(out + [rest])


def _random_words(words: dict, rng: np.random.Generator, demo: Sequence[str]) -> str:
    pool = [w for key, ws in sorted(words.items()) for w in ws] + list(FUNCTION_WORDS)
    out = []
    for _ in range(int(rng.integers(1, 7))):
        source = demo if rng.random() < 0.25 else pool
        out.append(source[int(rng.integers(len(source)))])
    return " ".join(out)


def oov_sentences(split: str = "train", count: int | None = None, seed: int = 0,
                  with_kinds: bool = False) -> list:
    """`count` distinct sentences that are not demo questions (see `is_other_speech`), fixed by `seed`.

    split "train": near misses, everyday sentences and random words in OOV_TRAIN_SHARES, from the training
    templates and words (a longer list starts with the shorter one: the first N are the same for any count).
    split "heldout": OOV_HELDOUT_PER_KIND of each kind (default count 3 x that), from the held-out templates and
    words, starting with the fixed held-out sentences; each has a held-out content word (`HELDOUT_WORDS`), so
    it never shares a sentence (nor a content word) with the training split.
    `with_kinds`: (kind, sentence) pairs instead of sentences."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split is 'train' or 'heldout', not {split!r}")
    heldout = split == "heldout"
    words, templates = (_HELDOUT, _HELDOUT_TEMPLATES) if heldout else (_TRAIN, _TRAIN_TEMPLATES)
    if count is None:
        count = len(OOV_KINDS) * OOV_HELDOUT_PER_KIND if heldout else 2400
    questions = demo_questions()
    demo = _demo_words()
    rng = np.random.default_rng([seed, 8, int(heldout)])
    out: list[tuple[str, str]] = list(_HELDOUT_FIXED) if heldout else []
    seen = {text for _, text in out}
    quota = {kind: OOV_HELDOUT_PER_KIND - sum(k == kind for k, _ in out) for kind in OOV_KINDS}
    for attempt in range(400 * max(1, count)):
        if len(out) >= count:
            break
        if heldout:
            kind = max(OOV_KINDS, key=lambda k: quota[k])            # fill the kind furthest from its quota
        else:
            kind = OOV_KINDS[int(rng.choice(len(OOV_KINDS), p=OOV_TRAIN_SHARES))]
        if kind == "random":
            text = _random_words(words, rng, demo)
            if heldout and not set(text.split()) & HELDOUT_WORDS:
                continue                    # only demo and function words: training could say it too
        else:
            options = templates[kind]
            text = _fill(options[int(rng.integers(len(options)))], words, rng)
        text = " ".join(text.lower().split())
        if (text in seen or not is_other_speech(text, questions) or len(text.split()) > OOV_MAX_WORDS
                or len(text) > OOV_MAX_CHARS):
            continue
        seen.add(text)
        out.append((kind, text))
        quota[kind] -= 1
    else:
        raise RuntimeError(f"only {len(out)} distinct {split} sentences outside the vocabulary")
    out = out[:count]
    assert not set(questions) & {text for _, text in out}
    return out if with_kinds else [text for _, text in out]


def oov_plan(seed: int, count: int = 2400, offset: int = 0) -> list[Render]:
    """Training renders of other speech: training sentences `offset`..`offset + count` (`oov_sentences`), each
    once, by training voices drawn as in `training_plan` (held-out voices stay held out)."""
    rng = np.random.default_rng([seed, 9, offset])
    return [_training_render(rng, seed, text) for text in oov_sentences("train", offset + count, seed)[offset:]]


def oov_heldout_plan(seed: int, voices: Sequence[str] = HELD_OUT_VOICES) -> list[Render]:
    """Every held-out sentence of other speech once per held-out voice, as `heldout_plan` speaks the questions."""
    rng = np.random.default_rng([seed, 10])
    return [Render(text, voice, int(rng.integers(135, 196)), int(rng.integers(30, 71)))
            for voice in voices for text in oov_sentences("heldout", seed=seed)]


def voice_parts(voice: str) -> tuple[str, str]:
    base, _, variant = voice.partition("+")
    return base, variant


def espeak_version() -> str:
    try:
        return subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (FileNotFoundError, subprocess.SubprocessError):
        return ""


def random_variant(name: str) -> str:
    """The espeak-ng variant file of an invented voice, fixed by its name (rbv<seed>_<k>): gender and pitch,
    a vocal tract 0.85-1.25x with each formant moved up to +-15 % more, formant heights and widths, voicing,
    consonant strength, roughness, flutter, echo, breath, intonation, and sometimes a Klatt synthesizer
    (types 1, 2, 4, 5, 6; type 3 stays held out with the klatt3 variant)."""
    seed, _, k = name[len(VARIANT_PREFIX):].partition("_")
    rng = np.random.default_rng([int(seed), 7, int(k)])
    female = rng.random() < 0.5
    low = int(rng.integers(130, 210)) if female else int(rng.integers(60, 125))
    lines = ["language variant", f"name {name}", "gender " + ("female" if female else "male"),
             f"pitch {low} {low + int(rng.integers(20, 120))}"]
    tract = rng.uniform(1.0, 1.25) if female else rng.uniform(0.85, 1.08)
    for formant in range(9):
        shift = tract * rng.uniform(0.85, 1.15) if formant <= 5 else rng.uniform(0.9, 1.1)
        lines.append(f"formant {formant} {int(100 * shift)} {int(rng.integers(60, 161))} {int(rng.integers(60, 161))}")
    if rng.random() < 0.5:
        lines.append(f"voicing {int(rng.integers(40, 131))}")
    if rng.random() < 0.4:
        lines.append(f"consonants {int(rng.integers(60, 131))} {int(rng.integers(20, 131))}")
    if rng.random() < 0.3:
        lines.append(f"roughness {int(rng.integers(0, 5))}")
    if rng.random() < 0.3:
        lines.append(f"flutter {int(rng.integers(0, 30))}")
    if rng.random() < 0.25:
        lines.append(f"echo {int(rng.integers(20, 160))} {int(rng.integers(5, 50))}")
    if rng.random() < 0.2:
        lines.append("breath " + " ".join(str(int(b)) for b in rng.integers(0, 4, 8)))
    if rng.random() < 0.3:
        lines.append(f"intonation {int(rng.integers(1, 5))}")
    if rng.random() < 0.2:
        lines.append(f"klatt {int(rng.choice([1, 2, 4, 5, 6]))}")
    return "\n".join(lines) + "\n"


_ESPEAK_DATA: list = []


def _espeak_data_path(variant: str) -> str:
    """An espeak-ng data folder (links to the installed one) whose variants are the invented `variant` and its
    group of 100 (espeak-ng lists at most 350 voices, languages included)."""
    import os
    import tempfile
    if not _ESPEAK_DATA:
        out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, timeout=10).stdout
        _ESPEAK_DATA.append(Path(out.split("Data at:")[-1].strip()))
    data = _ESPEAK_DATA[0]
    group = int(variant.rpartition("_")[2]) // 100
    root = Path(tempfile.gettempdir()) / f"robot_brain-espeak-{os.getuid()}" / f"{variant.rpartition('_')[0]}-{group}"
    target = root / "espeak-ng-data"
    if not (target / "voices" / "!v").is_dir():
        (target / "voices" / "!v").mkdir(parents=True, exist_ok=True)
        for item in data.iterdir():
            if item.name != "voices" and not (target / item.name).exists():
                (target / item.name).symlink_to(item)
        for item in (data / "voices").iterdir():
            if item.name != "!v" and not (target / "voices" / item.name).exists():
                (target / "voices" / item.name).symlink_to(item)
    path = target / "voices" / "!v" / variant
    text = random_variant(variant)
    if not path.exists() or path.read_text() != text:
        tmp = path.with_name(f".{variant}.{os.getpid()}")
        tmp.write_text(text)
        tmp.replace(path)
    return str(root)


def trim(audio: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """Cut espeak-ng's own leading and trailing silence (the augmentation adds its own)."""
    loud = np.flatnonzero(np.abs(audio) > threshold * max(1e-6, float(np.abs(audio).max())))
    return audio[max(0, loud[0] - 80):loud[-1] + 80] if len(loud) else audio


def synthesize(render: Render) -> np.ndarray:
    """espeak-ng speech for `render` as trimmed 16 kHz float32 (needs the espeak-ng program)."""
    import soundfile
    import soxr
    args = ["espeak-ng", "-v", render.voice, "-s", str(render.speed), "-p", str(render.pitch),
            "-g", str(render.gap), "--stdout", render.text]
    variant = voice_parts(render.voice)[1]
    if variant.startswith(VARIANT_PREFIX):
        args[1:1] = ["--path", _espeak_data_path(variant)]
    try:
        wav = subprocess.run(args, capture_output=True, check=True, timeout=30).stdout
    except FileNotFoundError as exc:
        raise RuntimeError("espeak-ng is not installed (apt install espeak-ng)") from exc
    audio, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if rate != RATE:
        audio = soxr.resample(audio, rate, RATE).astype(np.float32)
    return trim(audio)


def plan_digest(plan: Sequence[Render]) -> str:
    invented = sorted({v for r in plan for v in [voice_parts(r.voice)[1]] if v.startswith(VARIANT_PREFIX)})
    text = json.dumps([espeak_version()] + [r.key for r in plan] + [random_variant(v) for v in invented])
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def synthesize_all(plan: Sequence[Render], cache_dir: Path | None = None,
                   progress: Callable[[str], None] | None = None) -> list[np.ndarray]:
    """The renders of `plan` as int16 arrays, in plan order; cached in `cache_dir` (one .npz per plan)."""
    path = Path(cache_dir) / f"renders-{plan_digest(plan)}.npz" if cache_dir else None
    if path is not None and path.exists():
        with np.load(path) as data:
            samples, offsets = data["samples"], data["offsets"]
        return [samples[offsets[i]:offsets[i + 1]] for i in range(len(plan))]
    out = []
    for i, render in enumerate(plan):
        audio = synthesize(render)
        out.append(np.round(np.clip(audio, -1, 1) * 32767).astype(np.int16))
        if progress and (i + 1) % 500 == 0:
            progress(f"synthesized {i + 1}/{len(plan)} utterances")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        offsets = np.cumsum([0] + [len(a) for a in out])
        tmp = path.with_name(path.name + ".part.npz")
        np.savez(tmp, samples=np.concatenate(out) if out else np.zeros(0, np.int16), offsets=offsets)
        tmp.replace(path)
    return out


# ---- augmentation --------------------------------------------------------------------------------------------

def _fft_size(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


def _coloured_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent (0 white, 1 pink, 2 brown), unit RMS."""
    if exponent == 0.0:
        return rng.standard_normal(n)
    size = _fft_size(n)
    spectrum = np.fft.rfft(rng.standard_normal(size))
    freqs = np.fft.rfftfreq(size, 1 / RATE)
    spectrum *= 1.0 / np.maximum(freqs, 20.0) ** (exponent / 2)
    noise = np.fft.irfft(spectrum, size)[:n]
    return noise / max(1e-9, float(np.sqrt(np.mean(noise ** 2))))


def background(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-RMS background: white, pink or brown noise, mains hum, or a mixture."""
    kind = rng.random()
    if kind < 0.25:
        return _coloured_noise(rng, n, 0.0)
    if kind < 0.5:
        return _coloured_noise(rng, n, 1.0)
    if kind < 0.7:
        return _coloured_noise(rng, n, 2.0)
    t = np.arange(n) / RATE
    mains = float(rng.choice([50.0, 60.0]))
    hum = sum(rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 6.3)) for k in (1, 2, 3, 5))
    hum = hum / max(1e-9, float(np.sqrt(np.mean(hum ** 2))))
    if kind < 0.8:
        return hum
    mix = hum * rng.uniform(0.2, 1.0) + _coloured_noise(rng, n, float(rng.uniform(0.0, 2.0)))
    return mix / max(1e-9, float(np.sqrt(np.mean(mix ** 2))))


def _colour(rng: np.random.Generator, audio: np.ndarray) -> np.ndarray:
    """A random microphone/loudspeaker response: a high-pass, a low-pass and a spectral tilt."""
    size = _fft_size(len(audio))
    spectrum = np.fft.rfft(audio, size)
    freqs = np.fft.rfftfreq(size, 1 / RATE)
    low, high = rng.uniform(40, 350), rng.uniform(3000, 7800)
    gain = 1 / np.sqrt(1 + (low / np.maximum(freqs, 1.0)) ** 4) / np.sqrt(1 + (freqs / high) ** 4)
    gain *= (np.maximum(freqs, 100.0) / 1000.0) ** rng.uniform(-0.3, 0.3)
    return np.fft.irfft(spectrum * gain, size)[:len(audio)].astype(np.float32)


def _echo(rng: np.random.Generator, audio: np.ndarray) -> np.ndarray:
    """A small room: an exponentially decaying noise impulse response (RT60 0.1-0.5 s) plus the direct sound."""
    rt60 = rng.uniform(0.1, 0.5)
    n = int(rt60 * RATE)
    response = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
    response *= rng.uniform(0.1, 0.5) / max(1e-9, float(np.sqrt(np.sum(response ** 2))))
    response[0] = 1.0
    size = _fft_size(len(audio) + n - 1)
    wet = np.fft.irfft(np.fft.rfft(audio, size) * np.fft.rfft(response, size), size)[:len(audio)]
    return wet.astype(np.float32)


def _resample(audio: np.ndarray, factor: float) -> np.ndarray:
    """Play `audio` `factor` times faster: tempo, pitch and formants all shift (a different vocal tract)."""
    import soxr
    return soxr.resample(audio, RATE * factor, RATE).astype(np.float32)


def _place(rng: np.random.Generator, speech: np.ndarray, lead: float, tail: float) -> np.ndarray:
    room = int(MAX_SECONDS * RATE) - len(speech)
    lead_n, tail_n = int(lead * RATE), int(tail * RATE)
    if lead_n + tail_n > room:                     # never longer than the trained window: shrink the silences
        scale = max(0.0, room) / max(1, lead_n + tail_n)
        lead_n, tail_n = int(lead_n * scale), int(tail_n * scale)
    return np.concatenate([np.zeros(lead_n, np.float32), speech, np.zeros(tail_n, np.float32)])


def augment(speech: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """One training view of a (trimmed) utterance: float32 16 kHz, at most MAX_SECONDS long. `strength` (0-1)
    scales how often the effects apply and how loud the noise can get (training starts gentle)."""
    audio = speech.astype(np.float32) / (32768.0 if speech.dtype == np.int16 else 1.0)
    if rng.random() < 0.5 * strength:
        audio = _resample(audio, float(rng.uniform(0.88, 1.12)))
    audio = audio[:int(MAX_SECONDS * RATE)]
    if rng.random() < 0.4 * strength:
        audio = _colour(rng, audio)
    audio = _place(rng, audio, float(rng.uniform(0.05, 0.5)), float(rng.uniform(0.1, 0.6)))
    if rng.random() < 0.3 * strength:
        audio = _echo(rng, audio)
    peak = max(1e-6, float(np.abs(audio).max()))
    audio = audio * (10 ** rng.uniform(-1.7, -0.05) / peak)
    speech_rms = float(np.sqrt(np.mean(audio[np.abs(audio) > 0.05 * np.abs(audio).max()] ** 2)))
    snr = rng.uniform(45 - 45 * strength, 45) if rng.random() < 0.85 else 80.0
    audio = audio + background(rng, len(audio)) * speech_rms * 10 ** (-snr / 20)
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


def noise_only(rng: np.random.Generator) -> np.ndarray:
    """A stretch of background with no speech (the recogniser should write nothing)."""
    n = int(rng.uniform(0.4, MAX_SECONDS) * RATE)
    return (background(rng, n) * 10 ** rng.uniform(-3.5, -1.0)).clip(-1, 1).astype(np.float32)


def eval_condition(speech: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """A held-out utterance as the endpointer hands it over: 0.4 s before, 0.5 s after, white noise at `snr_db`."""
    rng = np.random.default_rng(seed)
    audio = speech.astype(np.float32) / (32768.0 if speech.dtype == np.int16 else 1.0)
    audio = audio * (0.5 / max(1e-6, float(np.abs(audio).max())))
    audio = np.concatenate([np.zeros(int(0.4 * RATE), np.float32), audio, np.zeros(int(0.5 * RATE), np.float32)])
    speech_rms = float(np.sqrt(np.mean(audio[np.abs(audio) > 0.025] ** 2)))
    audio = audio + rng.standard_normal(len(audio)).astype(np.float32) * speech_rms * 10 ** (-snr_db / 20)
    return np.clip(audio, -1, 1).astype(np.float32)


# ---- features ------------------------------------------------------------------------------------------------

_MEL: dict = {}


def _mel_setup():
    import torch
    if not _MEL:
        from faster_whisper.feature_extractor import FeatureExtractor
        filters = FeatureExtractor(feature_size=80).mel_filters
        freqs = np.fft.rfftfreq(400, 1 / RATE)
        _MEL["filters"] = torch.from_numpy(filters)
        _MEL["window"] = torch.hann_window(400)
        _MEL["centres"] = (filters @ freqs) / np.maximum(filters.sum(axis=1), 1e-9)
    return _MEL


def mel_power(audio: np.ndarray) -> np.ndarray:
    """(80, frames) mel power of `audio` with faster-whisper's FeatureExtractor steps (filters, 160 samples of
    padding, centred reflect-padded STFT, its last frame dropped), computed with torch.stft."""
    import torch
    mel = _mel_setup()
    x = torch.from_numpy(np.pad(np.asarray(audio, np.float32), (0, 160)))
    stft = torch.stft(x, 400, 160, window=mel["window"], center=True, pad_mode="reflect", return_complex=True)
    return (mel["filters"] @ (stft[:, :-1].abs() ** 2)).numpy()


def normalize(power: np.ndarray) -> np.ndarray:
    """faster-whisper's log-mel scaling of a mel power array; the last frame is left out as transcribe() does."""
    spec = np.log10(np.maximum(power, 1e-10))
    spec = np.maximum(spec, spec.max() - 8.0)
    return ((spec + 4.0) / 4.0)[:, :-1].astype(np.float32)


def log_mel(audio: np.ndarray, frames: int | None = None) -> np.ndarray:
    """(80, frames) log-mel features of `audio` as faster-whisper feeds its encoder (equal to its own
    FeatureExtractor to ~1e-5), zero-padded (or cut) to `frames` (default: as long as they are)."""
    feats = normalize(mel_power(audio))
    if frames is None:
        return feats
    out = np.zeros((feats.shape[0], frames), np.float32)
    out[:, :min(frames, feats.shape[1])] = feats[:, :frames]
    return out


# ---- augmentation in the mel power domain (cheap: no waveform, no STFT per example) -----------------------------

class MelBank:
    """The training renders as mel power (half of them played 0.88-1.12x faster, fixed by `seed`) and a bank of
    background noises, so that an augmented example costs array arithmetic instead of an STFT.

    Speech and noise powers add (their cross term averages out); a microphone's response multiplies each mel
    band; a room adds decaying copies of earlier frames; gain shifts the log-mel. `example()` gives features
    exactly as `normalize` would compute them from such a power spectrogram."""

    def __init__(self, renders: Sequence[np.ndarray], seed: int, noises: int = 24, noise_seconds: float = 8.0):
        rng = np.random.default_rng([seed, 6])
        self.power, self.rms, self.peak = [], [], []
        pad = np.zeros(480, np.float32)
        for speech in renders:
            audio = speech.astype(np.float32) / 32768.0
            if rng.random() < 0.5:
                audio = _resample(audio, float(rng.uniform(0.88, 1.12)))
            power = mel_power(np.concatenate([pad, audio, pad]))[:, :int(MAX_SECONDS * 100)]   # bounds a batch
            self.power.append(power.astype(np.float32))
            loud = np.abs(audio) > 0.05 * max(1e-6, float(np.abs(audio).max()))
            self.rms.append(float(np.sqrt(np.mean(audio[loud] ** 2))))
            self.peak.append(max(1e-6, float(np.abs(audio).max())))
        self.noise = [mel_power(background(rng, int(noise_seconds * RATE))).astype(np.float32) for _ in range(noises)]
        self.centres = _mel_setup()["centres"]

    def _noise(self, rng: np.random.Generator, frames: int) -> np.ndarray:
        clip = self.noise[int(rng.integers(len(self.noise)))]
        start = int(rng.integers(0, clip.shape[1] - frames)) if clip.shape[1] > frames else 0
        out = clip[:, start:start + frames]
        return out if out.shape[1] == frames else np.pad(out, ((0, 0), (0, frames - out.shape[1])), mode="wrap")

    def example(self, i: int, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
        """Features of one augmented view of render `i` (at most MAX_SECONDS long)."""
        power = self.power[i]
        if rng.random() < 0.4 * strength:                           # microphone / loudspeaker colour
            f = self.centres
            low, high = rng.uniform(40, 350), rng.uniform(3000, 7800)
            gain = 1 / np.sqrt(1 + (low / np.maximum(f, 1.0)) ** 4) / np.sqrt(1 + (f / high) ** 4)
            gain *= (np.maximum(f, 100.0) / 1000.0) ** rng.uniform(-0.3, 0.3)
            power = power * (gain ** 2)[:, None]
        room = int(MAX_SECONDS * 100) - power.shape[1]
        lead, tail = int(rng.uniform(0.05, 0.5) * 100), int(rng.uniform(0.1, 0.6) * 100)
        if lead + tail > room:
            scale = max(0, room) / max(1, lead + tail)
            lead, tail = int(lead * scale), int(tail * scale)
        power = np.pad(power, ((0, 0), (lead, tail)))
        if rng.random() < 0.3 * strength:                           # a small room
            rt60 = rng.uniform(0.1, 0.5)
            k = np.arange(1, int(rt60 * 100) + 1)
            weights = np.exp(-13.8 * k / (rt60 * 100))
            weights *= rng.uniform(0.1, 0.5) ** 2 / weights.sum()
            wet = power.copy()
            for lag, w in zip(k, weights):
                wet[:, lag:] += w * power[:, :-lag]
            power = wet
        gain = 10 ** rng.uniform(-1.7, -0.05) / self.peak[i]
        snr = rng.uniform(45 - 45 * strength, 45) if rng.random() < 0.85 else 80.0
        noise = self._noise(rng, power.shape[1]) * (self.rms[i] ** 2) * 10 ** (-snr / 10)
        return normalize((power + noise) * gain ** 2)

    def background_only(self, rng: np.random.Generator) -> np.ndarray:
        frames = int(rng.uniform(0.4, MAX_SECONDS) * 100)
        return normalize(self._noise(rng, frames) * 10 ** (2 * rng.uniform(-3.5, -1.0)))


def progress_printer(prefix: str = "") -> Callable[[str], None]:
    def emit(message: str) -> None:
        print(prefix + message, file=sys.stderr, flush=True)
    return emit
