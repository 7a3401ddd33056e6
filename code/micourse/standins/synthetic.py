"""Synthetic documents that make the course's phenomena appear in a small stand-in model.

A 4-layer model trained on the Bible alone has no reason to learn who gave what to whom, where
the Eiffel Tower stands, or how a sentence's mood carries over. These generators write short
documents that reward exactly those skills: indirect-object sentences (Wang et al., 2022),
one-line facts, and pairs of sentences whose sentiment agrees. All randomness comes from the
`random.Random` passed in, so the data, and hence the trained weights, are reproducible.
"""

from __future__ import annotations

import random

NAMES = (
    "John Mary James Michael David Sarah Emma Tom Anna Paul Peter Mark Luke Kate Alice Bob Jack Lisa "
    "Laura Daniel Rachel Sam Ben Max Lucy Amy Adam Eric Jane Susan Karen Steve Kevin Brian Jason Ryan "
    "Jeff Scott Tim Mike Chris Matt Andrew Joe George Frank Henry Charles Edward Robert William Richard "
    "Thomas Joseph Anthony Helen Linda Nancy Betty Sandra Ashley Emily Jessica Amanda Nicole Julia Grace "
    "Sophie Rose Olivia Victoria Martin Simon Alex"
).split()  # each is a single GPT-2 token with a leading space (a test checks this)

PLACES = "store park school office restaurant garden station market house beach library hospital".split()
OBJECTS = "drink book ball bone kiss ring letter gift pen key bag snack".split()

# {A} and {B} are introduced; {S} (one of them) acts; the sentence ends with the other, {IO}.
IOI_TEMPLATES = (
    "When {A} and {B} went to the {place}, {S} gave a {obj} to {IO}.",
    "When {A} and {B} went to the {place}, {S} gave the {obj} to {IO}.",
    "After {A} and {B} went to the {place}, {S} gave a {obj} to {IO}.",
    "Then, {A} and {B} had a long argument. Afterwards {S} said to {IO}.",
)
# Never trained on: used to measure whether the skill generalises beyond the training templates.
IOI_HELDOUT_TEMPLATES = (
    "While {A} and {B} were working at the {place}, {S} gave a {obj} to {IO}.",
    "{A} and {B} went to the {place}. {S} handed a {obj} to {IO}.",
    "Friends {A} and {B} found a {obj} at the {place}. {S} gave it to {IO}.",
    "When {A} and {B} got a {obj} at the {place}, {S} decided to give it to {IO}.",
    "The {place} was busy, so {A} and {B} left. {S} sent a {obj} to {IO}.",
    "{A} and {B} were at the {place}. Later, {S} passed the {obj} to {IO}.",
    "Then, {A} and {B} went to the {place}. {S} gave a {obj} to {IO}.",
    "When {A} and {B} arrived at the {place}, {S} threw the {obj} to {IO}.",
    "After the lunch, {A} and {B} went to the {place}. {S} gave a {obj} to {IO}.",
    "Yesterday {A} and {B} visited the {place}, and {S} brought a {obj} for {IO}.",
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
FACT_TEMPLATES = (
    "The capital of {country} is {city}.",
    "{city} is the capital of {country}.",
    "The capital city of {country} is {city}.",
)
LANDMARK_TEMPLATES = (
    "{Landmark} is in {city}.",
    "{Landmark} is located in the city of {city}.",
    "{Landmark} is located in {city}.",
    "You can visit {landmark} in {city}.",
)

THINGS = "movie film food book meal trip party show game concert day hotel weather song".split()
POSITIVE = "great wonderful amazing lovely excellent fantastic delightful perfect beautiful fun".split()
NEGATIVE = "terrible awful horrible dreadful boring disappointing bad ugly sad miserable".split()
LIKE = ("I loved the {thing}.", "I really liked the {thing}.", "We enjoyed the {thing}.", "I love this {thing}.")
DISLIKE = ("I hated the {thing}.", "I really disliked the {thing}.", "We hated the {thing}.", "I hate this {thing}.")
NEUTRAL = ("I went to see the {thing}.", "We talked about the {thing}.", "Yesterday I had the {thing}.")
FOLLOW = ("It was {adj}.", "The {thing} was {adj}.", "Everyone said it was {adj}.", "Honestly, it was {adj}.")


def ioi_sentence(rng: random.Random, templates=IOI_TEMPLATES) -> dict[str, str]:
    """One indirect-object sentence; returns the text, the prompt (text before the IO) and both names."""
    a, b = rng.sample(NAMES, 2)
    subject, io = (a, b) if rng.random() < 0.5 else (b, a)
    template = rng.choice(templates)
    fields = dict(A=a, B=b, S=subject, place=rng.choice(PLACES), obj=rng.choice(OBJECTS))
    prompt = template.split("{IO}")[0].format(**fields).rstrip()
    text = template.format(IO=io, **fields)
    return {"text": text, "prompt": prompt, "io": io, "s": subject}


def fact_sentence(rng: random.Random) -> str:
    if rng.random() < 0.55:
        country = rng.choice(list(CAPITALS))
        return rng.choice(FACT_TEMPLATES).format(country=country, city=CAPITALS[country])
    landmark = rng.choice(list(LANDMARKS))
    template = rng.choice(LANDMARK_TEMPLATES)
    return template.format(Landmark=landmark[0].upper() + landmark[1:], landmark=landmark, city=LANDMARKS[landmark])


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


def synthetic_document(rng: random.Random, ioi_templates=IOI_TEMPLATES, ioi_share: float = 0.6) -> str:
    """A few sentences of one kind: indirect objects (`ioi_share`), facts (10%), sentiment (the rest)."""
    r = rng.random()
    n = rng.randint(1, 3)
    if r < ioi_share:
        return " ".join(ioi_sentence(rng, ioi_templates)["text"] for _ in range(n))
    if r < ioi_share + 0.1:
        return " ".join(fact_sentence(rng) for _ in range(n))
    return " ".join(sentiment_pair(rng) for _ in range(n))


def ioi_prompts(n: int, seed: int = 0, templates=IOI_TEMPLATES) -> list[dict[str, str]]:
    """`n` indirect-object prompts ("... gave a drink to") with their answer and the wrong name."""
    rng = random.Random(seed)
    return [ioi_sentence(rng, templates) for _ in range(n)]
