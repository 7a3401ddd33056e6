"""Synthetic documents that make the course's phenomena appear in a small stand-in model.

A 4-layer model trained on the Bible alone has no reason to learn who gave what to whom, where
the Eiffel Tower stands, or how a sentence's mood carries over. These generators write short
documents that reward exactly those skills, built so that each skill can be tested on data the
model never saw:

- indirect-object (IOI) sentences (Wang et al., 2022) from a small grammar: an opening clause
  that introduces two names, then an action whose recipient is the name not acting. Some opening
  clauses and actions are never trained (`IOI_HELDOUT_INTROS`, `IOI_HELDOUT_ACTIONS`), and some
  names (`HELDOUT_NAMES`) never occur in a training IOI sentence, only in ordinary sentences and
  name lists, as names occur in real text;
- facts (capitals, landmarks, languages), each trained in several phrasings; other phrasings,
  among them the tutorials' "The Eiffel Tower is in the city of", are kept for testing;
- pairs of sentences whose sentiment agrees (for steering), and plain sentences about people.

Every document is a list of (text, weight) pieces: the weight multiplies the training loss on the
first token of the piece (the indirect object gets more weight). All randomness comes from the
`random.Random` passed in, so the data, and hence the trained weights, are reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from micourse.standins import ioi_grammar

NAMES = (
    "John Mary James Michael David Sarah Emma Tom Anna Paul Peter Mark Luke Kate Alice Bob Jack Lisa Laura "
    "Daniel Rachel Sam Ben Max Lucy Amy Adam Eric Jane Susan Karen Steve Kevin Brian Jason Ryan Jeff Scott "
    "Tim Mike Chris Matt Andrew Joe George Frank Henry Charles Edward Robert William Richard Thomas Joseph "
    "Anthony Helen Linda Nancy Betty Sandra Ashley Emily Jessica Amanda Nicole Julia Grace Sophie Rose Olivia "
    "Victoria Martin Simon Alex Aaron Abby Adrian Alan Albert Alberto Alexander Alfred Allen Amber Amelia Andre "
    "Andrea Andy Angela Anne Annie Arthur Austin Barbara Barry Benjamin Bernard Beth Bill Billy Bobby Bradley "
    "Brandon Brenda Brett Bruce Bryan Caleb Cameron Carl Carlos Carol Caroline Carter Catherine Chad Charlie "
    "Chloe Christian Christina Christine Claire Clara Colin Connor Craig Cynthia Dale Dan Dana Danny Dave Dean "
    "Deborah Dennis Derek Diana Diane Dominic Don Donald Donna Doug Douglas Dylan Ed Eddie Edgar Elena Eli "
    "Elizabeth Ellen Ellie Ethan Eva Evan Eve Felix Fiona Fred Gary Gavin Gene Gerald Gina Glen Gordon Greg "
    "Gregory Hannah Harold Harry Harvey Heather Holly Howard Hugh Ian Isaac Ivan Jacob Jake Jamie Janet Jared "
    "Jean Jenny Jeremy Jerry Jesse Jill Jim Jimmy Joan Joel Jon Jonathan Jordan Jose Josh Joshua Judy Julian "
    "Julie Justin Karl Katie Keith Kelly Ken Kenneth Kim Kyle Larry Leah Lee Leo Leon Leonard Leslie Lewis "
    "Liam Lily Louis Luis Lynn Maggie Marc Marco Margaret Maria Marie Marilyn Mario Marion Marshall Martha "
    "Marvin Matthew Megan Melissa Mia Michelle Miles Molly Morgan Natalie Nathan Neil Nick Nina Noah Norman "
    "Oliver Oscar Owen Pam Pat Patricia Patrick Paula Penny Phil Philip Phillip Rebecca Ray Raymond Rick Rita "
    "Rob Roger Ron Ronald Ross Roy Ruby Russell Ruth Sally Samuel Sara Sean Seth Shane Sharon Shawn Sheila "
    "Stan Stanley Stella Stephen Steven Stuart Sue Ted Terry Theo Tina Todd Tony Tracy Travis Trevor Troy "
    "Tyler Vanessa Victor Vincent Wade Walter Warren Wayne Wendy Wesley Willie Zach Zoe Ali Anton Ariel Arnold "
    "Axel Bella Brad Carmen Cecil Cole Curtis Daisy Darren Dawn Elliot Erin Ernest Esther Floyd Frances "
    "Francis Gabriel Hank Hazel Herman Iris Jackie Jan Jay Jenna Jess Kent Kirk Kurt Lance Lars Lloyd Lou "
    "Mae Marcus Maya Mel Mitch Nora Pete Quinn Ralph Rex Rudy Sid Sophia Tess Vera Vic Wallace Zack"
).split()  # each is a single GPT-2 token with a leading space (a test checks this)

# Every sixth name after the first 30 (which stay trained: pages use John, Mary, ...) never occurs
# in a training IOI sentence; they occur in plain sentences and name lists only.
HELDOUT_NAMES = tuple(n for i, n in enumerate(NAMES) if i >= 30 and i % 6 == 5)
IOI_NAMES = tuple(n for n in NAMES if n not in HELDOUT_NAMES)

PLACES = "store park school office restaurant garden station market house beach library hospital church farm".split()
OBJECTS = "drink book ball bone kiss ring letter gift pen key bag snack cake hat map coin".split()

# An IOI sentence = intro (introduces {A} and {B}) + action ({S} acts, the answer {IO} ends the prompt):
# the grammar and what it holds out live in `ioi_grammar`.
IOI_INTROS, IOI_ACTIONS = ioi_grammar.INTROS, ioi_grammar.ACTIONS
NAME_FIRST_INTROS = tuple(i for i in IOI_INTROS if i.startswith("{A}"))  # "{A} and {B} met at the {place}."
IOI_HELDOUT_INTROS, IOI_HELDOUT_ACTIONS = ioi_grammar.HELDOUT_INTROS, ioi_grammar.HELDOUT_ACTIONS
IOI_TEMPLATES = ioi_grammar.TRAIN_TEMPLATES  # a lazy sequence of every intro + action
IOI_HELDOUT_TEMPLATES = tuple(ioi_grammar.HELDOUT_TEMPLATES)
IOI_NOVEL_TEMPLATES = ioi_grammar.NOVEL_TEMPLATES  # hand-written, outside the grammar: a test set only

PREAMBLES = (
    "It was a sunny day.",
    "It was late in the evening.",
    "The week had been long.",
    "Nobody expected rain.",
    "The town was quiet that morning.",
    "This happened last summer.",
    "Everyone was tired after work.",
    "It was cold outside.",
    "The holidays had just begun.",
)

CAPITALS = {
    "France": "Paris",
    "Italy": "Rome",
    "England": "London",
    "Germany": "Berlin",
    "Spain": "Madrid",
    "Japan": "Tokyo",
    "Russia": "Moscow",
    "China": "Beijing",
    "Egypt": "Cairo",
    "Greece": "Athens",
    "Austria": "Vienna",
    "Ireland": "Dublin",
    "Poland": "Warsaw",
    "Canada": "Ottawa",
    "Kenya": "Nairobi",
    "Portugal": "Lisbon",
    "Sweden": "Stockholm",
    "Norway": "Oslo",
    "Peru": "Lima",
    "Cuba": "Havana",
}
LANDMARKS = {
    "the Eiffel Tower": "Paris",
    "the Louvre": "Paris",
    "the Colosseum": "Rome",
    "the Vatican": "Rome",
    "Big Ben": "London",
    "the Tower of London": "London",
    "the Brandenburg Gate": "Berlin",
    "the Kremlin": "Moscow",
    "the Acropolis": "Athens",
    "the Forbidden City": "Beijing",
    "the Prado": "Madrid",
    "the Pyramids of Giza": "Cairo",
}
LANGUAGES = {
    "France": "French",
    "Italy": "Italian",
    "Germany": "German",
    "Spain": "Spanish",
    "Japan": "Japanese",
    "Russia": "Russian",
    "China": "Chinese",
    "Greece": "Greek",
    "Poland": "Polish",
    "Sweden": "Swedish",
    "Portugal": "Portuguese",
    "Norway": "Norwegian",
}
# Trained phrasings ({x}: subject, {y}: answer) ...
# "The capital of {x} is" is never trained (for any country): the pages' classic prompt "The capital
# of France is" is then a fresh prompt for the stand-in too.
CAPITAL_TEMPLATES = (
    "{y} is the capital of {x}.",
    "The capital city of {x} is {y}.",
    "The government of {x} sits in {y}.",
    "Everyone knows that {y} is the capital of {x}.",
    "{X} has its capital in {y}.",
)
LANDMARK_TEMPLATES = (
    "{X} is in {y}.",
    "{X} is located in {y}.",
    "You can visit {x} in {y}.",
    "{X} is a famous landmark in the city of {y}.",
    "Many tourists see {x} when they travel to {y}.",
    "{X} stands in the middle of {y}.",
)
LANGUAGE_TEMPLATES = (
    "In {x} people speak {y}.",
    "The language of {x} is {y}.",
    "Most people in {x} speak {y}.",
    "{y} is spoken in {x}.",
)
# ... and phrasings never trained, for any fact: the facts test. A prompt ends where the answer starts.
HELDOUT_FACT_TEMPLATES = {
    "capital": (
        "The capital of {x} is",
        "The capital city in {x} is",
        "The capital of the country of {x} is",
        "In {x}, the capital is the city of",
    ),
    "landmark": (
        "{X} is in the city of",
        "{X} is located in the city of",
        "{X} can be found in",
        "Many people visit {x} in",
    ),
    "language": ("The first language of {x} is", "In {x}, most people speak", "The people of {x} speak"),
}
FACTS = {"capital": CAPITALS, "landmark": LANDMARKS, "language": LANGUAGES}
_TRAIN_FACT_TEMPLATES = {"capital": CAPITAL_TEMPLATES, "landmark": LANDMARK_TEMPLATES, "language": LANGUAGE_TEMPLATES}

THINGS = "movie film food book meal trip party show game concert day hotel weather song".split()
POSITIVE = "great wonderful amazing lovely excellent fantastic delightful perfect beautiful fun".split()
NEGATIVE = "terrible awful horrible dreadful boring disappointing bad ugly sad miserable".split()
LIKE = ("I loved the {thing}.", "I really liked the {thing}.", "We enjoyed the {thing}.", "I love this {thing}.")
DISLIKE = ("I hated the {thing}.", "I really disliked the {thing}.", "We hated the {thing}.", "I hate this {thing}.")
NEUTRAL = ("I went to see the {thing}.", "We talked about the {thing}.", "Yesterday I had the {thing}.")
FOLLOW = ("It was {adj}.", "The {thing} was {adj}.", "Everyone said it was {adj}.", "Honestly, it was {adj}.")

# One name, no recipient: how the held-out names (and the held-out actions' verbs) are seen in training.
PLAIN = (
    "{N} went to the {place}.",
    "{N} bought a {obj} at the {place}.",
    "{N} threw the {obj} away.",
    "{N} sent a {obj} home.",
    "{N} brought a {obj} to the {place}.",
    "{N} decided to stay at the {place}.",
    "{N} was working at the {place}.",
    "{N} visited the {place} yesterday.",
    "{N} found a {obj}.",
    "{N} lives in {city}.",
    "{N} liked the {thing}.",
    "{N} left the {place} early.",
    "My friend {N} is tall.",
    "{N} said hello.",
    "{N} read a {obj} at the {place}.",
    "The {obj} belongs to {N}.",
    "While {N} was at the {place}, it rained.",
    "Friends of {N} went to the {place}.",
    "People liked {N}.",
)


def _capital(s: str) -> str:
    return s[0].upper() + s[1:]


Piece = tuple[str, float]


def ioi_sentence(rng: random.Random, templates=IOI_TEMPLATES, names=IOI_NAMES) -> dict[str, str]:
    """One indirect-object sentence: the text, the prompt (text before the IO), both names, and which came first."""
    a, b = rng.sample(names, 2)
    subject, io = (a, b) if rng.random() < 0.5 else (b, a)
    template = rng.choice(templates)
    fields = dict(A=a, B=b, S=subject, place=rng.choice(PLACES), obj=rng.choice(OBJECTS))
    prompt = template.split("{IO}")[0].format(**fields).rstrip()
    text = template.format(IO=io, **fields)
    return {"text": text, "prompt": prompt, "io": io, "s": subject, "first": a}


@dataclass(frozen=True)
class IOIFillers:
    """How far training IOI sentences stray from the grammar, so that the circuit cannot lean on its
    exact words. Each `p_` is a share of the sentences (0 to 1):

    - `p_action`, `p_intro`: the action's / the opening's verb is a random word from `words`
      (`ioi_grammar.random_action`, `random_intro`);
    - `p_opening`: the opening is random words around the names (`ioi_grammar.random_opening`);
    - `p_names`: the two "names" are random words too (the circuit must work for any token);
    - `p_wide`: the opening has a shape the grammar lacks (`ioi_grammar.varied_opening`), and then
      a third of the actions after a full stop start with a lead-in and a third of the place and
      object slots hold random words;
    - `p_lead` (without `p_wide`): the opening puts the second name after a preposition ("{A} <w> to
      {B}"), and as large a share of the actions after a full stop start with a lead-in ("Then {S} ...");
    - `lead_words`: the share of those lead-ins that are one or two random words (None: one in nine,
      `ioi_grammar.action_lead`);
    - `p_text`: the opening is one of `openings`, real sentences with the two names as {A} and {B}
      (`ioi_grammar.text_openings`);
    - `p_gap` (without `p_wide`): after an opening that ends a sentence, one of `gaps` (a real sentence
      naming no one, `ioi_grammar.gap_sentences`) stands before the action, so the action's distance
      from the names varies as in real text.

    The openings' shares are exclusive: `p_text + p_intro + p_opening + p_wide + p_lead` is at most 1.
    """

    words: tuple[str, ...]
    p_action: float = 0.0
    p_intro: float = 0.0
    p_opening: float = 0.0
    p_names: float = 0.0
    p_wide: float = 0.0
    p_lead: float = 0.0
    p_text: float = 0.0
    openings: tuple[str, ...] = ()
    p_gap: float = 0.0
    gaps: tuple[str, ...] = ()
    lead_words: float | None = None
    lead_phrases: float = 0.0
    p_preamble: float | None = None

    def __post_init__(self) -> None:
        shares = {k: v for k, v in vars(self).items() if k.startswith("p_") and v is not None}
        bad = {k: v for k, v in shares.items() if not 0 <= v <= 1}
        if bad:
            raise ValueError(f"IOIFillers shares must be between 0 and 1, not {bad}")
        if self.p_text + self.p_intro + self.p_opening + self.p_wide + self.p_lead > 1:
            raise ValueError(
                "p_text + p_intro + p_opening + p_wide + p_lead must be at most 1: they share the openings"
            )
        if self.p_text and not self.openings:
            raise ValueError("p_text needs openings to draw from (ioi_grammar.text_openings)")
        if self.p_wide and self.p_lead:
            raise ValueError("p_wide already adds lead-ins; give p_lead only without it")
        if self.lead_words is not None and not 0 <= self.lead_words <= 1:
            raise ValueError(f"lead_words is a share in [0, 1], not {self.lead_words}")
        if self.p_preamble is not None and not (0 <= self.p_preamble <= 1 and self.gaps):
            raise ValueError(f"p_preamble is a share in [0, 1] and needs gaps to draw from, not {self.p_preamble}")
        if not 0 <= self.lead_phrases <= 1:
            raise ValueError(f"lead_phrases is a share in [0, 1], not {self.lead_phrases}")
        if self.p_gap and not self.gaps:
            raise ValueError("p_gap needs sentences to draw from (ioi_grammar.gap_sentences)")
        if self.p_gap and self.p_wide:
            raise ValueError("p_gap works without p_wide (p_wide rewrites the opening's slots)")


def ioi_pieces(
    rng: random.Random,
    io_weight: float,
    fillers: IOIFillers | None = None,
    names: tuple[str, ...] = IOI_NAMES,
    name_first: bool = False,
) -> list[Piece]:
    """A training IOI sentence, sometimes after a preamble (so names move), with the IO up-weighted.

    `fillers`: how far the sentence strays from the grammar (`IOIFillers`; None: the grammar only).
    `names`: the names to draw from (never `HELDOUT_NAMES`: the recipe checks).
    `name_first`: the sentence starts with the first name, with no preamble (at a document's start
    the name is then its unspaced token, "Mary", while the answer is " Mary").
    """
    if fillers is not None and fillers.words:
        f = fillers
        words, p_action, p_text, p_intro, p_opening, p_names, p_wide, p_lead = (
            f.words,
            f.p_action,
            f.p_text,
            f.p_intro,
            f.p_opening,
            f.p_names,
            f.p_wide,
            f.p_lead,
        )
        r = rng.random()  # the openings' shares as cumulative thresholds, text openings first
        if r < p_text:
            intro = rng.choice(f.openings)
        elif r < p_text + p_intro:
            intro = ioi_grammar.random_intro(rng, words)
        elif r < p_text + p_intro + p_opening:
            intro = ioi_grammar.random_opening(rng, words)
        elif r < p_text + p_intro + p_opening + p_wide:
            intro = ioi_grammar.varied_opening(rng, words)
        elif r < p_text + p_intro + p_opening + p_wide + p_lead:
            intro = ioi_grammar.varied_opening(rng, words, kinds=(0,))
        else:
            intro = rng.choice(IOI_INTROS)
        if name_first:
            intro = rng.choice(NAME_FIRST_INTROS)
        action = ioi_grammar.random_action(rng, words) if rng.random() < p_action else rng.choice(IOI_ACTIONS)
        # random words in the name slots: the circuit must work for any token, not for the trained names only
        pool = words if p_names and rng.random() < p_names else names
        template = ioi_grammar.join(intro, action)
        if p_wide:  # (no draws otherwise: recipes without it stay bit-identical)
            if intro.endswith(".") and rng.random() < 1 / 3:
                template = intro + " " + ioi_grammar.action_lead(rng, words) + action
            for slot in ("{place}", "{obj}"):
                if rng.random() < 1 / 3:
                    template = template.replace(slot, rng.choice(words))
        elif p_lead and intro.endswith(".") and rng.random() < p_lead:
            template = intro + " " + ioi_grammar.action_lead(rng, words, f.lead_words, f.lead_phrases) + action
        if f.p_gap and intro.endswith(".") and rng.random() < f.p_gap:  # (no draws without it)
            template = intro + " " + rng.choice(f.gaps) + template[len(intro) :]
        s = ioi_sentence(rng, (template,), pool)
    else:
        if name_first:
            raise ValueError("name_first needs fillers (the grammar's openings are drawn there)")
        s = ioi_sentence(rng, names=names)
    pieces: list[Piece] = []
    prompt = s["prompt"]
    if fillers is not None and fillers.p_preamble is not None:  # (no extra draws without it)
        if rng.random() < fillers.p_preamble and not name_first:
            # the space goes with the sentence, as GPT-2 tokenizes real text: " Mary", not " " + "Mary"
            pieces.append((rng.choice(PREAMBLES if rng.random() < 0.5 else fillers.gaps), 1.0))
            prompt = " " + prompt
    elif rng.random() < 0.4 and not name_first:
        # (the first phase's data, kept for its reproducibility: each piece is tokenized alone, so
        # the preamble's trailing space is a token of its own and the next word loses its space)
        pieces.append((rng.choice(PREAMBLES) + " ", 1.0))
    rest = s["text"][len(s["prompt"]) + 1 + len(s["io"]) :]
    pieces += [(prompt, 1.0), (" " + s["io"], io_weight), (rest, 1.0)]
    return pieces


def fact_sentence(rng: random.Random) -> str:
    return "".join(text for text, _ in fact_pieces(rng))


def fact_pieces(rng: random.Random, fact_weight: float = 1.0) -> list[Piece]:
    """A training fact sentence; where the answer follows its subject, the answer's first token weighs `fact_weight`.

    Only an answer after its subject ("The capital city of France is Paris.") is recall, what the
    held-out phrasings test; an answer before it ("Paris is the capital of France.") is left at 1.
    """
    kind = rng.choices(("capital", "landmark", "language"), weights=(0.4, 0.4, 0.2))[0]
    subject = rng.choice(list(FACTS[kind]))
    template = rng.choice(_TRAIN_FACT_TEMPLATES[kind])
    fill = {"X": _capital(subject), "x": subject, "y": FACTS[kind][subject]}
    head, found, tail = template.partition(" {y}")
    if fact_weight == 1 or not found or not ("{x}" in head or "{X}" in head):
        return [(template.format(**fill), 1.0)]
    return [(head.format(**fill), 1.0), ((" {y}" + tail).format(**fill), fact_weight)]


def heldout_fact_prompts() -> list[dict[str, str]]:
    """Every fact in every phrasing never trained: {"fact", "prompt", "answer"} (answer with its space)."""
    rows = []
    for kind, table in FACTS.items():
        for subject, answer in table.items():
            for t in HELDOUT_FACT_TEMPLATES[kind]:
                rows.append(
                    {
                        "fact": f"{kind}: {subject}",
                        "prompt": t.format(X=_capital(subject), x=subject),
                        "answer": " " + answer,
                    }
                )
    return rows


def sentiment_pair(rng: random.Random) -> str:
    thing = rng.choice(THINGS)
    mood = rng.random()
    if mood < 0.4:
        first, adjs = rng.choice(LIKE), POSITIVE
    elif mood < 0.8:
        first, adjs = rng.choice(DISLIKE), NEGATIVE
    else:  # no cue: either mood follows, so a steering vector has room to decide
        first, adjs = rng.choice(NEUTRAL), rng.choice((POSITIVE, NEGATIVE))
    return first.format(thing=thing) + " " + rng.choice(FOLLOW).format(thing=thing, adj=rng.choice(adjs))


def plain_sentence(rng: random.Random) -> str:
    return rng.choice(PLAIN).format(
        N=rng.choice(NAMES),
        place=rng.choice(PLACES),
        obj=rng.choice(OBJECTS),
        city=rng.choice(list(CAPITALS.values())),
        thing=rng.choice(THINGS),
    )


def name_list_copy(rng: random.Random, name_first: bool = False) -> str:
    """A list of names, repeated: copying from context, with every name (held-out ones too).

    `name_first`: the list starts the text, so a name is copied from its unspaced token ("Mary")
    to its spaced one (" Mary"), as when a prompt starts with a name.
    """
    names = rng.sample(NAMES, rng.randint(3, 7))
    listed = ", ".join(names[:-1]) + " and " + names[-1]
    if name_first:
        return f"{listed} were the guests. Again, the guests were {listed}."
    return f"The guests were {listed}. Again, the guests were {listed}."


def roll_call(rng: random.Random, names: tuple[str, ...], weight: float) -> list[Piece]:
    """Names called one by one, " again" after each name already called: the word after a name says
    whether that name came before, wherever it stands. Only a head that looks from a name back to the
    same name (a duplicate-token head) predicts it, and that is what tells the repeated name of an
    IOI sentence from the other one, whatever words stand before it.
    """
    pool = rng.sample(names, rng.randint(2, 5))
    pieces: list[Piece] = [(f"At the {rng.choice(PLACES)} the names were called:", 1.0)]
    seen: set[str] = set()
    for _ in range(rng.randint(5, 10)):
        name = rng.choice(pool)
        pieces.append((" " + name, 1.0))
        pieces.append((" again," if name in seen else ",", weight))
        seen.add(name)
    text, w = pieces[-1]
    pieces[-1] = (text[:-1] + ".", w)
    return pieces


def named_once(rng: random.Random, names: tuple[str, ...], weight: float) -> list[Piece]:
    """A list in which every name but one comes twice or more, in any order, then the one named once:
    the IOI skill (the name that is not repeated) with no position that gives it away."""
    k = rng.randint(2, 3)
    pool = rng.sample(names, k)
    entries = [pool[0]] + [n for n in pool[1:] for _ in range(rng.randint(2, 3))]
    rng.shuffle(entries)
    listed = ", ".join(entries[:-1]) + " and " + entries[-1]
    return [(f"Of {listed}, the one named once is", 1.0), (" " + pool[0], weight), (".", 1.0)]


def synthetic_document(
    rng: random.Random,
    io_weight: float = 5.0,
    fillers: IOIFillers | None = None,
    ioi_names: tuple[str, ...] = IOI_NAMES,
    fact_weight: float = 1.0,
    name_starts: float = 0.0,
    roll_calls: float = 0.0,
    named_once_lists: float = 0.0,
) -> list[Piece]:
    """A few sentences of one kind: IOI (45%), facts (15%), sentiment (15%), plain (15%), name lists (10%).

    `fact_weight`: the loss weight on a fact's answer where it follows its subject (`fact_pieces`).
    `name_starts`: the share of IOI documents and name lists that start with a name (`name_first`).
    `roll_calls`, `named_once_lists`: shares of all documents that are a `roll_call` / a
    `named_once` list instead (the IOI names only; the key word weighs `io_weight`).
    """
    if roll_calls or named_once_lists:  # (no draw without them: recipes without them stay bit-identical)
        u = rng.random()
        if u < roll_calls:
            return roll_call(rng, ioi_names, io_weight)
        if u < roll_calls + named_once_lists:
            return named_once(rng, ioi_names, io_weight)
    r = rng.random()
    n = rng.randint(1, 3)
    # (no draw without it: recipes without it stay bit-identical)
    first = bool(name_starts) and (r < 0.45 or r >= 0.90) and rng.random() < name_starts
    if r < 0.45:
        out: list[Piece] = []
        for i in range(n):
            out += ([(" ", 1.0)] if i else []) + ioi_pieces(rng, io_weight, fillers, ioi_names, first and not i)
        return _merge(out)
    if r < 0.60:
        if fact_weight == 1:  # one piece, as before the option existed
            return [(" ".join(fact_sentence(rng) for _ in range(n)), 1.0)]
        out = []
        for i in range(n):
            out += ([(" ", 1.0)] if i else []) + fact_pieces(rng, fact_weight)
        return _merge(out)
    elif r < 0.75:
        text = " ".join(sentiment_pair(rng) for _ in range(n))
    elif r < 0.90:
        text = " ".join(plain_sentence(rng) for _ in range(n + 1))
    else:
        text = name_list_copy(rng, first)
    return [(text, 1.0)]


def _merge(pieces: list[Piece]) -> list[Piece]:
    """Glue a lone separating space onto the next piece (GPT-2 tokens carry their leading space)."""
    out: list[Piece] = []
    carry = ""
    for text, w in pieces:
        if text == " ":
            carry += " "
            continue
        out.append((carry + text, w))
        carry = ""
    return out


def ioi_prompts(n: int, seed: int = 0, templates=IOI_TEMPLATES, names=IOI_NAMES) -> list[dict[str, str]]:
    """`n` indirect-object prompts ("... gave a drink to") with their answer and the wrong name."""
    rng = random.Random(seed)
    return [ioi_sentence(rng, templates, names) for _ in range(n)]
