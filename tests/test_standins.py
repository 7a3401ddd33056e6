"""The committed stand-in weights must still show what the pages teach (the issue's bars),
measured on data the stand-in never trained on (`micourse.standins.scorecard`)."""

import math

import pytest
import torch

from micourse.models import load_standin
from micourse.standins import metrics, scorecard, synthetic
from micourse.standins.weights import WEIGHTS_DIR, read_metadata

RECORDED = read_metadata(WEIGHTS_DIR / "gpt2-small.safetensors")[1].get("scorecard")


@pytest.fixture(scope="module")
def attn_only():
    return load_standin("attn-only-2l")


@pytest.fixture(scope="module")
def gpt2():
    return load_standin("gpt2-small")


@pytest.fixture(scope="module")
def card(gpt2):
    return scorecard.scorecard(gpt2)


# ---------------------------------------------------------------- attn-only-2l
def test_induction_head_in_layer_1(attn_only):
    scores = metrics.induction_scores(attn_only, seq_len=40, batch=8, seed=123)
    assert scores[1].max() >= 0.5, scores


def test_previous_token_head_in_layer_0(attn_only):
    """Some layer-0 head attends to the previous token more than to any other relative position."""
    scores = metrics.previous_token_scores(attn_only, seq_len=40, batch=8, seed=123)
    head = int(scores[0].argmax())
    assert scores[0, head] >= 0.4, scores
    tokens = metrics.repeated_random_tokens(8, 40, seed=123, model=attn_only)
    _, cache = attn_only.run_with_cache(tokens, names_filter="blocks.0.attn.hook_pattern")
    pattern = cache["pattern", 0][:, head]
    by_offset = [pattern.diagonal(offset=-k, dim1=-2, dim2=-1).mean().item() for k in range(0, 20)]
    assert max(range(20), key=by_offset.__getitem__) == 1, by_offset


def test_repeated_half_is_predicted(attn_only):
    first, repeat = metrics.repeated_halves_loss(attn_only, seq_len=40, batch=8, seed=123)
    assert repeat < first / 2, (first, repeat)


def test_induction_on_any_token_range(attn_only):
    """Learners draw random tokens from the whole vocabulary (as ARENA does): it must work there too."""
    g = torch.Generator().manual_seed(7)
    half = torch.randint(0, attn_only.cfg.d_vocab, (4, 30), generator=g)
    tokens = torch.cat([torch.full((4, 1), 50256), half, half], dim=1)
    logits = attn_only(tokens)
    loss = -logits[:, :-1].log_softmax(-1).gather(-1, tokens[:, 1:, None])[..., 0]
    assert loss[:, 31:].mean() < loss[:, :29].mean() / 2


# ---------------------------------------------------------------- the held-out design itself
def test_heldout_ioi_templates_and_names_never_trained():
    assert not any(t in synthetic.IOI_TEMPLATES for t in synthetic.IOI_HELDOUT_TEMPLATES)
    assert synthetic.IOI_TEMPLATES[123] in synthetic.IOI_TEMPLATES  # membership really works
    assert not set(synthetic.IOI_NAMES) & set(synthetic.HELDOUT_NAMES)
    assert len(synthetic.HELDOUT_NAMES) >= 50 and len(synthetic.IOI_NAMES) >= 300
    import random

    rng = random.Random(0)
    docs = [synthetic.synthetic_document(rng) for _ in range(3000)]
    ioi_text = " ".join(t for d in docs for t, _ in d if len(d) > 1)  # IOI documents come in pieces
    other_text = " ".join(t for d in docs for t, _ in d if len(d) == 1)
    for name in synthetic.HELDOUT_NAMES[:20]:
        assert f" {name} " not in f" {ioi_text} ".replace(".", " ").replace(",", " ")
    assert sum(f" {n}" in other_text for n in synthetic.HELDOUT_NAMES) >= 40  # but they are seen elsewhere


def test_census_names_are_new_single_token_names():
    """The extra IOI names: one GPT-2 token each, and none a course name (so none held out)."""
    from micourse.standins.name_pool import CENSUS_NAMES
    from micourse.tokenizer import gpt2_tokenizer

    tok = gpt2_tokenizer()
    assert len(set(CENSUS_NAMES)) == len(CENSUS_NAMES) == 400
    assert not set(CENSUS_NAMES) & set(synthetic.NAMES)
    assert all(len(tok.encode(" " + n)) == 1 for n in CENSUS_NAMES)


def test_heldout_ioi_words_never_in_training_ioi():
    """The held-out openings and actions are new shapes, not new fillings of trained ones."""
    import re

    from micourse.standins import ioi_grammar as g

    trained_words = {w for part in g.INTROS + g.ACTIONS for w in re.findall(r"\w+", part)}
    assert not set(g.HELDOUT_WORDS) & trained_words
    for part in g.HELDOUT_INTROS + g.HELDOUT_ACTIONS:  # each held-out part has one of those words
        assert set(re.findall(r"\w+", part)) & set(g.HELDOUT_WORDS) or part.startswith("After the lunch"), part


def test_random_verbs_never_use_a_held_out_word():
    """Training IOI sentences with verbs from a whole vocabulary keep every held-out word out."""
    import random
    import re

    from micourse.standins import ioi_grammar as g

    words = g.filler_vocabulary("sent sent threw threw plough plough Brought " * 30)
    assert words == ("plough",)  # held-out forms dropped; only lower-case words; sorted
    rng = random.Random(0)
    text = " ".join(
        t for _ in range(200) for t, _ in synthetic.ioi_pieces(rng, 5.0, synthetic.IOIFillers(words, 1.0, 1.0))
    )
    assert "plough" in text and not set(re.findall(r"\w+", text.lower())) & g.HELDOUT_FORMS
    assert set(g.HELDOUT_WORDS) - {"While", "Friends", "Yesterday"} <= g.HELDOUT_FORMS
    wide = " ".join(
        t for _ in range(300) for t, _ in synthetic.ioi_pieces(rng, 5.0, synthetic.IOIFillers(words, 1.0, p_wide=1.0))
    )
    assert not set(re.findall(r"\w+", wide.lower())) & g.HELDOUT_FORMS


def test_wide_shapes_teach_kinds_not_the_hand_written_set():
    """The openings beyond the grammar cover the shapes hand-written prompts failed on, but none of
    the hand-written set's own lead-ins, so `NOVEL_TEMPLATES` stays a test."""
    import random
    import re

    from micourse.standins import ioi_grammar as g

    rng = random.Random(0)
    words = ("plough", "frost", "lamp")
    texts = [
        "".join(t for t, _ in synthetic.ioi_pieces(rng, 5.0, synthetic.IOIFillers(words, 0.5, p_wide=1.0)))
        for _ in range(600)
    ]
    for phrase in ("At the", "During the", "next to", "Afterwards", "In the end"):
        assert phrase in " ".join(g.NOVEL_TEMPLATES) and not any(phrase in t for t in texts), phrase
    names = "|".join(synthetic.IOI_NAMES)
    assert any(
        re.search(rf"(?:to|with|from) (?:{names})\b", t.split(".")[0]) for t in texts
    )  # name after a preposition
    assert any(re.match(rf"The (?:\w+) (?:{names}) and", t) for t in texts)  # names in a relative clause
    assert any(t.split(".")[1].strip().split()[0] in ("Eventually,", "Soon", "Soon,") for t in texts if "." in t[:-1])


def test_lead_ins_add_only_a_name_after_a_preposition_and_action_lead_ins():
    """`--lead-ins`: the two shapes the hand-written prompts failed on, none of their own words."""
    import random
    import re

    from micourse.standins import ioi_grammar as g

    rng = random.Random(0)
    words = ("plough", "frost", "lamp")
    fillers = synthetic.IOIFillers(words, 0.5, p_lead=0.5)
    texts = ["".join(t for t, _ in synthetic.ioi_pieces(rng, 5.0, fillers)) for _ in range(600)]
    for phrase in ("At the", "During the", "next to", "Afterwards", "In the end"):
        assert not any(phrase in t for t in texts), phrase
    names = "|".join(synthetic.IOI_NAMES)
    preps = "|".join(g.PREPOSITIONS)
    after_prep = [t for t in texts if re.search(rf"(?:{names}) \w+ (?:{preps}) (?:{names})\b", t.split(".")[0])]
    assert 0.2 < len(after_prep) / len(texts) < 0.6
    leads = tuple(g.ACTION_LEADS) + tuple(w.capitalize() for w in words)
    led = [t for t in texts if "." in t[:-1] and t.split(". ")[-1].startswith(leads)]
    assert len(led) > 30
    assert not any(re.match(r"The \w+ (?:" + names + ") and", t) for t in texts)  # no relative clauses (p_wide's)


def test_random_lead_words_keep_the_test_sets_lead_ins_out():
    import random

    from micourse.standins import ioi_grammar as g

    words = ("later", "meanwhile", "during", "frost", "lamp", "afterwards", "finally", "plough")
    leads = [g.action_lead(random.Random(s), words, p_word=1.0) for s in range(300)]
    used = {w.strip(", ").lower() for lead in leads for w in lead.split()}
    assert used <= {"frost", "lamp", "plough"}
    assert any(len(lead.split()) == 2 for lead in leads)  # one or two words
    assert all(
        lead.rstrip(", ") in g.ACTION_LEADS for lead in (g.action_lead(random.Random(s), words, 0.0) for s in range(50))
    )
    with pytest.raises(ValueError, match="lead_words"):
        synthetic.IOIFillers(words, p_lead=0.3, lead_words=1.5)


def test_lead_phrases_keep_the_test_sets_phrases_out():
    import random

    from micourse.standins import ioi_grammar as g

    # "next", "day", "evening" and "party" would make the blind templates' own phrases: redrawn
    words = ("later", "next", "day", "evening", "party", "frost", "lamp", "finally", "plough")
    phrases = [g.action_lead(random.Random(s), words, 0.3, p_phrase=1.0) for s in range(2000)]
    used = {w.strip(",").lower() for p in phrases for w in p.split()}
    assert not used & {"later", "finally"}  # the held-out leads' words are never drawn
    lowered = {p.strip().rstrip(",").lower() for p in phrases}
    assert not lowered & g._BLIND_LEADS
    assert "the next day" in g._BLIND_LEADS and "in the evening" in g._BLIND_LEADS
    assert not any(p.startswith(("At the", "During the")) for p in phrases)
    assert any(p.endswith(" so ") for p in phrases) and any(p.endswith(" when ") for p in phrases)
    assert len(set(phrases)) > 500
    # without phrases, the same draws as before the option (older recipes stay bit-identical)
    assert [g.action_lead(random.Random(s), words, 0.3) for s in range(50)] == [
        g.action_lead(random.Random(s), words, 0.3, p_phrase=0.0) for s in range(50)
    ]
    with pytest.raises(ValueError, match="lead_phrases"):
        synthetic.IOIFillers(words, p_lead=0.3, lead_phrases=2.0)


def test_blind_templates_are_a_test_set_of_the_ioi_shape():
    from micourse.standins import ioi_grammar as g

    assert len(g.BLIND_TEMPLATES) == len(set(g.BLIND_TEMPLATES)) == 40
    for t in g.BLIND_TEMPLATES:
        assert all(t.count(f"{{{k}}}") == 1 for k in "ABS") and t.endswith(("to {IO}.", "for {IO}.", "with {IO}.")), t
        assert t.index("{A}") < t.index("{B}") < t.index("{S}"), t
        assert t not in g.TRAIN_TEMPLATES and t not in g.HELDOUT_TEMPLATES and t not in g.NOVEL_TEMPLATES
    prompts = scorecard.ioi_blind_prompt_set(50, seed=0)
    assert all(p["io"] in synthetic.HELDOUT_NAMES and p["s"] in synthetic.HELDOUT_NAMES for p in prompts)
    assert all(p["prompt"].startswith(p["template"].split("{A}")[0]) for p in prompts)
    lead = [t for t in g.BLIND_TEMPLATES if scorecard.phrase_before_subject(t)]
    assert 10 <= len(lead) <= 30  # both shapes are common enough to give a rate
    assert scorecard.phrase_before_subject("{A} met {B}. The next day, {S} lent a toolbox to {IO}.")
    assert not scorecard.phrase_before_subject("{A} met {B}. {S} lent a toolbox to {IO}.")
    assert not scorecard.phrase_before_subject("When {A} met {B}, {S} lent a toolbox to {IO}.")


def test_text_openings_cut_real_sentences_naming_two_people():
    """`text_openings` keeps sentences that name two people once each, with no held-out word."""
    from micourse.standins import ioi_grammar as g

    text = " ".join(["Moses spoke. Aaron spoke. Miriam sang."] * 5) + (
        " Moses did as Aaron had spoken. There was war between Moses and Aaron."
        " Moses sent a gift to Aaron."  # a held-out verb
        " Moses, Aaron and Miriam went out."  # three people
        " The Philistines came to Moses and Aaron."  # a people, after "the"
        " During the night Moses spoke to Aaron."  # the hand-written set's lead-in
        " Moses spoke to Moses."  # one person twice
    )
    assert g.text_openings(text) == ("There was war between {A} and {B}.", "{A} did as {B} had spoken.")


def test_text_openings_of_the_modern_bible_keep_the_test_sets_out():
    import re

    from micourse.data import web_text
    from micourse.standins import ioi_grammar as g

    openings = g.text_openings(web_text("train"))
    assert len(openings) > 400
    words = {w for o in openings for w in re.findall(r"[A-Za-z]+", o)}
    assert not {w.lower() for w in words} & g.HELDOUT_FORMS
    assert not words & set(synthetic.HELDOUT_NAMES)
    for o in openings:
        assert o.count("{A}") == o.count("{B}") == 1 and o.index("{A}") < o.index("{B}"), o
    for phrase in ("At the", "During the", "next to", "Afterwards", "In the end"):
        assert not any(phrase in o for o in openings), phrase
    rng = __import__("random").Random(0)
    fillers = synthetic.IOIFillers(("plough",), p_text=1.0, openings=openings)
    texts = ["".join(t for t, _ in synthetic.ioi_pieces(rng, 5.0, fillers)) for _ in range(50)]
    patterns = [re.escape(o).replace(r"\{A\}", r"(\w+)").replace(r"\{B\}", r"(\w+)") for o in openings]
    for t in texts:  # each one an opening with two different training names in it (after a preamble or not)
        body = t.split(". ", 1)[1] if t.split(". ")[0] + "." in synthetic.PREAMBLES else t
        found = [m for p in patterns if (m := re.match(p, body))]
        assert found and any(len({*m.groups()}) == 2 <= len({*m.groups()} & {*synthetic.IOI_NAMES}) for m in found), t


def test_gap_sentences_name_no_one_and_stand_between_opening_and_action():
    import random

    from micourse.standins import ioi_grammar as g

    text = " ".join(["Moses spoke. Aaron spoke. Miriam sang."] * 5) + (
        " The rain fell on the hills all night."
        " Moses went up to the mountain."  # a name
        " Then the people rested in Egypt."  # a capitalised word
        " The people sent a gift to the poor."  # a held-out verb
        " At the gate the elders sat down."  # the hand-written set's lead-in
        " Why did the sea flee?"  # not a statement
        " It was cold."  # too short
    )
    assert g.text_openings(text) == ()
    assert g.gap_sentences(text) == ("The rain fell on the hills all night.",)
    gap = "The rain fell on the hills all night."
    fillers = synthetic.IOIFillers(("plough",), p_gap=1.0, gaps=(gap,))
    rng = random.Random(0)
    texts = ["".join(t for t, _ in synthetic.ioi_pieces(rng, 5.0, fillers)) for _ in range(60)]
    gapped = [t for t in texts if gap in t]
    assert len(gapped) > 10  # every opening that ends a sentence
    for t in gapped:  # opening, then the gap, then the action with both names before it
        before, after = t.split(" " + gap + " ")
        assert before.endswith(".") and after[0].isupper(), t
        assert sum(n in before for n in synthetic.IOI_NAMES) >= 2, t


def test_gap_prompts_put_a_held_out_sentence_between_opening_and_action():
    from micourse.data import web_text
    from micourse.standins import ioi_grammar as g

    trained_gaps = set(g.gap_sentences(web_text("train")))
    prompts = scorecard.ioi_gap_prompt_set(30, seed=0)
    assert prompts == scorecard.ioi_gap_prompt_set(30, seed=0)  # the same prompts for every model
    for p in prompts:
        gaps = [x for x in scorecard._heldout_gaps() if " " + x + " " in p["prompt"]]
        assert len(gaps) == 1 and gaps[0] not in trained_gaps, p
        before, after = p["prompt"].split(" " + gaps[0] + " ")
        assert {p["io"], p["s"]} <= set(synthetic.HELDOUT_NAMES)
        assert p["io"] in before and p["s"] in before and after.startswith(p["s"]), p


def test_lead_prompts_put_an_untrained_word_before_the_subject():
    from micourse.standins import ioi_grammar as g
    from micourse.standins import train as T

    vocab = set(g.filler_vocabulary("\n\n".join(T._text(n, "train") for n in ("kjv", "web"))))
    for lead in g.HELDOUT_LEADS:  # never an action's lead-in in training, fixed or random
        assert lead not in g.ACTION_LEADS and lead.split()[0].lower() not in vocab, lead
    prompts = scorecard.ioi_lead_prompt_set(30, seed=0)
    assert prompts == scorecard.ioi_lead_prompt_set(30, seed=0)
    for p in prompts:
        before, sep, after = p["prompt"].rpartition(". ")
        assert {p["io"], p["s"]} <= set(synthetic.HELDOUT_NAMES)
        assert p["io"] in before and p["s"] in before, p
        lead = next(x for x in g.HELDOUT_LEADS if after.startswith(x))
        assert after[len(lead) :].lstrip(", ").startswith(p["s"]), p


def test_start_prompts_begin_with_the_first_name():
    prompts = scorecard.ioi_start_prompt_set(40, seed=0)
    assert prompts == scorecard.ioi_start_prompt_set(40, seed=0)
    assert {p["first"] == p["io"] for p in prompts} == {True, False}  # both name orders
    for p in prompts:
        assert {p["io"], p["s"]} <= set(synthetic.HELDOUT_NAMES)
        assert p["prompt"].startswith(p["first"] + " "), p


def test_after_prompts_start_a_sentence_with_the_first_name():
    prompts = scorecard.ioi_after_prompt_set(40, seed=0)
    assert prompts == scorecard.ioi_after_prompt_set(40, seed=0)
    assert {p["first"] == p["io"] for p in prompts} == {True, False}  # both name orders
    gaps = set(scorecard._heldout_gaps())
    for p in prompts:
        assert {p["io"], p["s"]} <= set(synthetic.HELDOUT_NAMES)
        before, _, rest = p["prompt"].partition(" " + p["first"] + " ")
        assert before in gaps and "{" not in before, p  # a held-out sentence naming no one, then the opening


def test_preambles_are_tokenized_as_the_joined_text():
    """With `p_preamble` a sentence before an IOI sentence keeps its space with the next word, as in
    real text; the first phase's pieces (no `p_preamble`) had a stray space token there."""
    import random

    from micourse.tokenizer import gpt2_tokenizer

    tok = gpt2_tokenizer()
    words = ("frost", "lamp", "plough")
    f = synthetic.IOIFillers(words, p_action=0.5, p_preamble=1.0, gaps=("The gate was shut.",))
    for seed in range(20):
        pieces = synthetic.ioi_pieces(random.Random(seed), 5.0, f)
        joined = tok("".join(text for text, _ in pieces))["input_ids"]
        assert [i for text, _ in pieces for i in tok(text)["input_ids"]] == joined
    with pytest.raises(ValueError, match="p_preamble"):
        synthetic.IOIFillers(words, p_preamble=0.5)  # no sentences to draw from


def test_ioi_fillers_reject_shares_that_cannot_be():
    with pytest.raises(ValueError, match="between 0 and 1"):
        synthetic.IOIFillers(("w",), p_action=1.5)
    with pytest.raises(ValueError, match="share the openings"):
        synthetic.IOIFillers(("w",), p_intro=0.5, p_opening=0.4, p_lead=0.2)
    with pytest.raises(ValueError, match="without it"):
        synthetic.IOIFillers(("w",), p_wide=0.1, p_lead=0.1)
    with pytest.raises(ValueError, match="needs openings"):
        synthetic.IOIFillers(("w",), p_text=0.2)
    with pytest.raises(ValueError, match="needs sentences"):
        synthetic.IOIFillers(("w",), p_gap=0.2)
    with pytest.raises(ValueError, match="without p_wide"):
        synthetic.IOIFillers(("w",), p_gap=0.2, gaps=("It rained all day long.",), p_wide=0.1)


def test_recipe_options_are_checked_before_the_data_are_built():
    from micourse.standins import train as T

    with pytest.raises(ValueError, match="average_last"):
        T.train_gpt2(10, 0, average_last=11)
    with pytest.raises(ValueError, match="lead_ins needs"):
        T.train_gpt2(10, 0, lead_ins=0.2, random_verbs=0, random_intros=0, random_openings=0, gap_sentences=0)
    with pytest.raises(ValueError, match="lead_ins_from"):
        T.train_gpt2(10, 0, lead_ins=0.2, lead_ins_from=1.0)
    with pytest.raises(ValueError, match="text_openings"):
        T.train_gpt2(10, 0, text_openings=0.5)  # with the default 20% + 40% of the openings: 110%
    with pytest.raises(ValueError, match="gap_sentences"):
        T.train_gpt2(10, 0, gap_sentences=1.5)
    with pytest.raises(ValueError, match="fact_weight"):
        T.train_gpt2(10, 0, fact_weight=0)
    with pytest.raises(ValueError, match="repeat_rows"):
        T.train_gpt2(10, 0, repeat_rows=7)
    with pytest.raises(ValueError, match="name_starts"):
        T.train_gpt2(10, 0, name_starts=0.3)  # without lead_ins: there is no second stream to put them in
    with pytest.raises(ValueError, match="name_starts"):
        T.train_gpt2(10, 0, lead_ins=0.3, name_starts=1.5)
    with pytest.raises(ValueError, match="distill"):
        T.train_gpt2(10, 0, distill_knockout=True)  # no weights to distil from
    with pytest.raises(TypeError):
        T.train_gpt2(10, 0, subject_attention=1.0)  # an experiment that was not adopted: gone


def test_knockout_distillation_asks_for_layer_1_without_the_names_and_nothing_else():
    """The loss is 0 where the teacher and the student agree except at the knocked-out attention,
    equals the weighted KL to the teacher run with layer 1's attention from the token before the IO
    to S1, S2 and the IO removed (by hand below), and the option refuses a phase with no teacher."""
    import copy

    from micourse.standins import train as T

    names = T.name_token_ids(synthetic.IOI_NAMES)
    toks, w = T.synthetic_stream(300, 3, 10.0, None, synthetic.IOI_NAMES)
    n = len(toks) // 128 * 128
    rows, ws = toks[:n].reshape(-1, 128)[:4], w[:n].reshape(-1, 128)[:4]
    model = T._fresh_model("gpt2-small", 0)
    seen = torch.unique(rows.flatten())
    loss = T.KnockoutDistillLoss(seen, 50257, 10.0, names, copy.deepcopy(model))
    assert all(not p.requires_grad for p in loss.teacher.parameters())
    no_io = torch.where(ws == 10.0, 1.0, ws)  # no IO weight: no site, nothing knocked out
    assert loss(model, (rows, no_io)).item() == pytest.approx(0.0, abs=1e-6)
    sites = T.ioi_sites(rows, ws, 10.0, names)
    assert sites

    def knock(pattern, hook):
        out = pattern.clone()
        for r, q, ks, io in sites:
            out[r, :, q, ks + io] = 0
        return out / out.sum(-1, keepdim=True)

    with torch.no_grad(), model.hooks(fwd_hooks=[("blocks.1.attn.hook_pattern", knock)]):
        target = loss.logits(model, rows)[:, :-1].log_softmax(-1)
    logp = loss.logits(model, rows)[:, :-1].log_softmax(-1)
    kl = (target.exp() * (target - logp)).sum(-1).flatten()
    weights = ws[:, 1:].flatten()
    got = loss(model, (rows, ws))
    assert got.item() > 1e-5 and torch.allclose(got, (kl * weights).sum() / weights.sum(), atol=1e-7)
    got.backward()
    assert model.blocks[1].attn.W_Q.grad is not None and loss.teacher.blocks[1].attn.W_Q.grad is None

    def half(pattern, hook):  # keep=0.5: S2's attention removed, half of S1's and the IO's kept
        out = pattern.clone()
        for r, q, ks, io in sites:
            out[r, :, q, [k for k in ks if k < max(ks)] + io] *= 0.5
            out[r, :, q, max(ks)] = 0
        return out / out.sum(-1, keepdim=True)

    with torch.no_grad(), model.hooks(fwd_hooks=[("blocks.1.attn.hook_pattern", half)]):
        target = loss.logits(model, rows)[:, :-1].log_softmax(-1)
    kl = (target.exp() * (target - logp)).sum(-1).flatten()
    kept = T.KnockoutDistillLoss(seen, 50257, 10.0, names, copy.deepcopy(model), keep=0.5)(model, (rows, ws))
    assert torch.allclose(kept, (kl * weights).sum() / weights.sum(), atol=1e-7) and kept < got
    with pytest.raises(ValueError, match="distill_keep"):
        T.train_gpt2(10, 0, distill_keep=0.5)  # without the distillation
    with pytest.raises(ValueError, match="distill_knockout"):
        T.train_gpt2(10, 0, distill_knockout=True)  # no starting weights to distil from
    note = T._phase_note({**T.SECOND_PHASE, "share": 0.16, "seed_offset": 8, "distill_knockout": True})
    assert note.startswith("the second phase's settings") and "divergence from the phase's starting weights" in note


@pytest.mark.slow
def test_a_few_steps_of_the_knockout_distillation_run_from_the_committed_weights():
    """`distill_knockout` (session 30) loads its teacher from `init_from`: run it a few steps from
    the committed file, as a later phase would, with the teacher keeping half of S1 and the IO."""
    from micourse.standins import train as T
    from micourse.standins.weights import WEIGHTS_DIR

    start = WEIGHTS_DIR / "gpt2-small.safetensors"
    model, hist, _, _ = T.train_gpt2(
        3, 1, distill_knockout=True, distill_keep=0.5, init_from=start, average_last=0, io_weight=10.0
    )
    assert len(hist.steps) == 3 and all(math.isfinite(x) and x >= 0 for x in hist.losses)
    assert model.cfg.n_layers == 4


def test_repeat_rows_trade_places_with_plain_text():
    from micourse.standins import train as T

    assert T.batch_mix() == T.MIX
    assert T.batch_mix(5) == (5, T.MIX[1], T.MIX[2] - 2, T.MIX[3])
    assert all(sum(T.batch_mix(r)) == sum(T.MIX) for r in range(1, 7))
    with pytest.raises(ValueError, match="repeat_rows"):
        T.batch_mix(0)


def test_name_starts_put_a_name_first_and_change_nothing_when_off():
    import random

    from micourse.standins import synthetic

    fillers = synthetic.IOIFillers(("walked", "stone", "river"), p_action=0.5)
    off = [synthetic.synthetic_document(random.Random(s), 5.0, fillers) for s in range(40)]
    zero = [synthetic.synthetic_document(random.Random(s), 5.0, fillers, name_starts=0.0) for s in range(40)]
    assert off == zero  # no extra draws: recipes without the option stay bit-identical
    for seed in range(50):
        text = synthetic.ioi_pieces(random.Random(seed), 5.0, fillers, name_first=True)[0][0]
        assert text.split()[0] in synthetic.IOI_NAMES, text  # no preamble, no "When": the first name
        assert synthetic.name_list_copy(random.Random(seed), name_first=True).split(",")[0] in synthetic.NAMES
    with pytest.raises(ValueError, match="name_first needs fillers"):
        synthetic.ioi_pieces(random.Random(0), 5.0, None, name_first=True)


def test_roll_calls_and_named_once_lists_say_which_name_repeats():
    import random

    from micourse.standins import synthetic

    names = synthetic.IOI_NAMES
    for seed in range(30):
        pieces = synthetic.roll_call(random.Random(seed), names, 5.0)
        called = [t.strip() for t, _ in pieces[1::2]]
        marks = [t for t, _ in pieces[2::2]]
        assert all(n in names for n in called)
        for i, (name, mark) in enumerate(zip(called, marks)):
            assert mark.startswith(" again") == (name in called[:i]), pieces
        assert {w for _, w in pieces[2::2]} == {5.0}  # the word after each name carries the weight
        (text, _), (answer, w), _ = synthetic.named_once(random.Random(seed), names, 5.0)
        listed = text.removeprefix("Of ").removesuffix(", the one named once is").replace(" and ", ", ").split(", ")
        counts = {n: listed.count(n) for n in listed}
        assert [n for n, c in counts.items() if c == 1] == [answer.strip()] and w == 5.0, text
    off = [synthetic.synthetic_document(random.Random(s)) for s in range(40)]
    zero = [synthetic.synthetic_document(random.Random(s), roll_calls=0.0, named_once_lists=0.0) for s in range(40)]
    assert off == zero  # no extra draws: recipes without the options stay bit-identical
    docs = [synthetic.synthetic_document(random.Random(s), roll_calls=0.5, named_once_lists=0.5) for s in range(40)]
    assert all("names were called" in d[0][0] or "named once" in d[0][0] for d in docs)


def test_curriculum_switches_the_synthetic_rows_at_the_step():
    import torch

    from micourse.standins import train as T

    kjv = torch.arange(1000, 2000)
    first, late = torch.full((500,), 7), torch.full((500,), 9)
    ones = torch.ones(500)
    pool = torch.arange(1000, 1100)
    batches = T.gpt2_batches(kjv, first, ones, pool, 16, 0, mix=(1, 0, 1, 2), late=T.LateStream(late, ones, 3))
    rows = [next(batches)[0] for _ in range(5)]
    assert [int(r[2:].unique().item()) for r in rows] == [7, 7, 7, 9, 9]
    assert all((r[1] >= 1000).all() for r in rows)  # the text rows are untouched


def test_ioi_templates_sequence():
    t = synthetic.IOI_TEMPLATES
    assert len(t) == len(synthetic.IOI_INTROS) * len(synthetic.IOI_ACTIONS) > 100_000
    assert t[-1] == list(iter(t))[-1] and t[:2] == [t[0], t[1]]
    assert t[0].count("{S}") == 1 and t[0].endswith("{IO}.")
    with pytest.raises(IndexError):
        t[len(t)]
    assert "When {A} and {B} went to the {place}, {S} gave a {obj} to {IO}." in t
    assert 42 not in t


def test_heldout_fact_phrasings_never_trained():
    import random

    rng = random.Random(0)
    trained = " ".join(synthetic.fact_sentence(rng) for _ in range(5000))
    for row in synthetic.heldout_fact_prompts():
        assert row["prompt"] not in trained, row
    assert "The Eiffel Tower is in the city of" in {r["prompt"] for r in synthetic.heldout_fact_prompts()}
    assert "The Colosseum is in the city of" in {r["prompt"] for r in synthetic.heldout_fact_prompts()}


def test_fact_weight_weighs_only_an_answer_after_its_subject():
    """Recall ("... of France is Paris") gets the weight; "Paris is the capital of France" does not."""
    import random

    import torch

    from micourse.standins import train as T

    rng = random.Random(0)
    pieces = [synthetic.fact_pieces(rng, 4.0) for _ in range(400)]
    weighted = [p for p in pieces if len(p) == 2]
    assert len(weighted) > 150 and all(p[1][1] == 4.0 and p[0][1] == 1.0 for p in weighted)
    for p in weighted:
        answer = p[1][0].split()[0].rstrip(".")
        assert answer in {a for t in synthetic.FACTS.values() for a in t.values()}
    unweighted = [p[0] for p in pieces if len(p) == 1]  # the answer before its subject
    assert len(unweighted) > 50 and all(w == 1.0 for _, w in unweighted)
    assert any(t.startswith("Everyone knows that") for t, _ in unweighted)
    # same tokens as without the option, more weight where it says; and the default stream as before
    plain, plain_w = T.synthetic_stream(600, 3)
    heavy, heavy_w = T.synthetic_stream(600, 3, fact_weight=4.0)
    assert torch.equal(plain, heavy) and torch.equal(plain_w[heavy_w != 4.0], heavy_w[heavy_w != 4.0])
    assert (heavy_w == 4.0).sum() > 30 and not (plain_w == 4.0).any()


# ---------------------------------------------------------------- gpt2-small: the scorecard's bars
def test_beats_unigram_on_heldout_text(gpt2):
    from micourse.data import kjv_text, tokenize_text

    train = tokenize_text(kjv_text("train"))
    heldout = tokenize_text(kjv_text("heldout"))
    model_loss = metrics.text_loss(gpt2, heldout, max_windows=32)
    assert model_loss < metrics.unigram_loss(train, heldout, gpt2.cfg.d_vocab) - 1.0


@pytest.mark.slow
def test_scorecard_induction(card):
    assert card["induction_score"] >= BARS["induction"], card["induction_score"]
    assert card["loss_repeated_half"] <= card["loss_first_half"] * BARS["repeat_ratio"], card


@pytest.mark.slow
def test_scorecard_ioi_heldout(card):
    hh = card["ioi"]["heldout_templates_heldout_names"]
    assert hh["win_rate"] >= BARS["ioi_win"], card["ioi"]
    assert hh["mean_logit_diff"] > BARS["ioi_diff"], card["ioi"]


@pytest.mark.slow
def test_scorecard_ioi_ablation(card):
    abl = card["ioi_ablation"]
    assert abl["fraction_removed"] >= BARS["ablation_removed"], abl


@pytest.mark.slow
def test_scorecard_facts(card):
    assert card["facts_with_3_heldout_phrasings"] >= BARS["facts"], card["facts"]


def test_sentiment_steering(gpt2):
    effect = metrics.steering_effect(gpt2)
    assert effect["plus"] > effect["base"] > effect["minus"], effect
    assert effect["plus"] - effect["minus"] > 1.0, effect


@pytest.mark.slow
@pytest.mark.skipif(RECORDED is None, reason="no scorecard recorded in the committed weights")
def test_scorecard_in_metadata_matches(card):
    """The scorecard recorded at training time is the one the committed weights give now."""
    recorded = RECORDED
    assert recorded["induction_head"] == card["induction_head"]
    assert (
        abs(
            recorded["ioi"]["heldout_templates_heldout_names"]["win_rate"]
            - card["ioi"]["heldout_templates_heldout_names"]["win_rate"]
        )
        < 0.02
    )


@pytest.mark.slow
def test_scorecard_runs_on_any_transformer_lens_model():
    """No stand-in assumptions: a fresh random GPT-2-shaped model (all tokens embedded) is scored too."""
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    from micourse.tokenizer import gpt2_tokenizer

    cfg = HookedTransformerConfig(
        n_layers=1,
        d_model=32,
        n_heads=2,
        d_head=16,
        d_mlp=64,
        n_ctx=128,
        d_vocab=50257,
        act_fn="gelu_new",
        normalization_type="LN",
        seed=0,
        default_prepend_bos=True,
    )
    model = HookedTransformer(cfg, tokenizer=gpt2_tokenizer())
    assert metrics.known_tokens(model) is None
    card = scorecard.scorecard(model, n_ioi=8)
    assert len(card["facts"]) == len({r["fact"] for r in synthetic.heldout_fact_prompts()})
    assert card["ioi_ablation"]["heads"] and scorecard.scorecard_rows(card)
    held = scorecard.ioi_prompt_set(8, seed=10)  # the held-out set the scorecard uses, split by name order
    assert {p["first"] == p["io"] for p in held} == {True, False}
    assert set(card["ioi_name_order"]) == {"io_first_win_rate", "s_first_win_rate"}
    # the cheap path: only the heads with the largest direct effect are tried
    cheap = scorecard.scorecard(model, n_ioi=8, ablate_candidates=1)
    assert cheap["ioi_ablation"]["heads_tried"] == 1 and card["ioi_ablation"]["heads_tried"] == 2


def test_top1_is_the_argmax_and_implies_a_win(gpt2):
    """`ioi_top1` marks exactly the prompts whose top token is the IO, and each of those is a win."""
    prompts = scorecard.ioi_prompt_set(30, seed=21, heldout_names=False)
    top1, diffs = scorecard.ioi_top1(gpt2, prompts), scorecard.ioi_diffs(gpt2, prompts)
    for p, hit in zip(prompts, top1.tolist()):
        argmax = gpt2(gpt2.to_tokens(p["prompt"]))[0, -1].argmax().item()
        assert hit == float(argmax == gpt2.to_single_token(" " + p["io"]))
    assert top1.sum() > 0 and (diffs[top1 == 1] > 0).all()


def test_head_direct_effects_match_transformer_lens(gpt2):
    """Each head's direct effect on logit(IO) - logit(S) equals TransformerLens's own attribution."""
    prompt = scorecard.ioi_prompt_set(1, seed=4)
    ours = scorecard.head_direct_effects(gpt2, prompt)
    _, cache = gpt2.run_with_cache(gpt2.to_tokens(prompt[0]["prompt"]))
    heads = cache.stack_head_results(-1, pos_slice=-1)
    io, s = gpt2.to_single_token(" " + prompt[0]["io"]), gpt2.to_single_token(" " + prompt[0]["s"])
    theirs = cache.logit_attrs(heads, io, s, pos_slice=-1).view(gpt2.cfg.n_layers, gpt2.cfg.n_heads)
    assert torch.allclose(ours, theirs.detach(), atol=1e-4)
    with pytest.raises(ValueError, match="candidates"):
        scorecard.ioi_head_ablation(gpt2, prompt, candidates=0)


# The issue's bars, which the committed weights meet (see the stand-in page's scorecard).
BARS = {"induction": 0.5, "repeat_ratio": 0.5, "ioi_win": 0.9, "ioi_diff": 1.0, "ablation_removed": 0.5, "facts": 10}


def test_each_later_phase_continues_from_the_previous_phases_file(monkeypatch, tmp_path):
    """`main` trains gpt2-small in phases: the second starts from the first's saved file, with
    SECOND_PHASE's learning rate and lead-ins; the third, fourth and fifth each from the one before,
    distilling from their starting weights with layer 1's attention to the names knocked out
    (session 31); each has its own seed, and only the final file is left."""
    from types import SimpleNamespace

    from micourse.standins import train as T

    calls, saved, threads, strict = [], [], [1], []

    def fake_recipe(steps, seed, **kw):
        calls.append((steps, seed, kw))
        strict.append((threads[-1], torch.are_deterministic_algorithms_enabled()))
        hist = SimpleNamespace(seconds=1.0, evals=[{"ioi": 1}])
        return SimpleNamespace(state_dict=dict), hist, torch.arange(3), {"data": "d", "tied": True}

    def fake_save(state, cfg, path, seen, meta, tied):
        saved.append(path)
        path.write_bytes(b"x")

    monkeypatch.setattr(T, "RECIPES", {**T.RECIPES, "gpt2-small": (fake_recipe, 5000, 1)})
    monkeypatch.setattr(T, "save_standin", fake_save)
    monkeypatch.setattr(T, "keep_freed_memory", lambda: None)
    monkeypatch.setattr(T.torch, "set_num_threads", threads.append)
    monkeypatch.setattr(T.torch, "get_num_threads", lambda: threads[-1])
    monkeypatch.setattr("micourse.standins.scorecard.record", lambda path: None)
    assert [label for label, _ in T.LATER_PHASES] == ["second", "third", "fourth", "fifth"]  # the recipe's
    out = tmp_path / "g.safetensors"
    T.run_recipe("gpt2-small", out, gap_sentences=0.2)
    assert len(calls) == 5 and len(saved) == 5
    assert calls[0] == (5000, 0, {"gap_sentences": 0.2})
    ph = T.SECOND_PHASE
    phases = dict(T.LATER_PHASES)
    for (steps, seed, kw), (label, phase), start in zip(calls[1:], T.LATER_PHASES, saved):
        assert (steps, seed) == (int(5000 * phase["share"]), phase["seed_offset"]), label
        assert kw["init_from"] == start and kw["gap_sentences"] == 0.2 and kw["lr"] == ph["lr"], label
        assert kw["lead_ins"] == ph["lead_ins"] and kw["average_last"] == 0
    assert len({seed for _, seed, _ in calls}) == 5  # each phase its own data
    assert "distill_knockout" not in calls[1][2]
    for _, _, kw in calls[2:]:
        assert kw["distill_knockout"] is True and kw["distill_keep"] == 0.5
    assert "removed" in T._phase_note(phases["third"]) and "50% of it" in T._phase_note(phases["third"])
    assert saved[-1] == out and out.exists() and not any(p.exists() for p in saved[:-1])
    # the distillation phases run on two threads with deterministic algorithms, the first two on the recipe's one
    assert strict == [(1, False), (1, False), (2, True), (2, True), (2, True)]
    assert threads[-1] == 1 and not torch.are_deterministic_algorithms_enabled()
    assert "on 2 threads" in T._phase_note(phases["third"])
    calls.clear()
    T.main(["gpt2-small", "--steps", "10", "--out", str(out)])  # a smoke run: no second phase (8% of 10 steps)
    assert len(calls) == 1
    # --keep-first-phase keeps it; --first-phase runs the second phase only, from a first phase
    # this command made (same steps, seed and options), and refuses any other
    calls.clear()
    T.run_recipe("gpt2-small", out, keep_first_phase=True, gap_sentences=0.2)
    first = out.with_name(out.stem + ".first-phase.safetensors")
    assert len(calls) == 5 and first.exists()
    assert all(
        out.with_name(f"{out.stem}.{label}-phase.safetensors").exists() for label in ("second", "third", "fourth")
    )
    calls.clear()
    made = {"steps": 5000, "seed": 0, "gap_sentences": 0.2, "data": "d", "tied": True, "train_seconds": 7.0}
    made["kernels"] = T.kernels.describe()
    monkeypatch.setattr("micourse.standins.weights.read_metadata", lambda path: ({}, dict(made)))
    T.run_recipe("gpt2-small", out, first_phase=first, gap_sentences=0.2)
    assert len(calls) == 4 and calls[0][2]["init_from"] == first and first.exists()
    # a file after the second phase (session 30's committed weights): the third, fourth and fifth run, from it
    calls.clear()
    second = {
        "steps": int(5000 * ph["share"]),
        "seed": ph["seed_offset"],
        **T._phase_options({"gap_sentences": 0.2}, ph),
    }
    made["second_phase"] = second
    T.run_recipe("gpt2-small", out, first_phase=first, gap_sentences=0.2)
    assert len(calls) == 3 and calls[0][1] == phases["third"]["seed_offset"] and calls[0][2]["distill_knockout"]
    assert calls[0][2]["init_from"] == first and calls[1][2]["init_from"] == out.with_name(
        out.stem + ".third-phase.safetensors"
    )
    made["second_phase"] = {**second, "lr": 1.0}  # a second phase of other settings
    with pytest.raises(ValueError, match="second phase is not this command's"):
        T.run_recipe("gpt2-small", out, first_phase=first, gap_sentences=0.2)
    made["second_phase"] = second
    for label in ("third", "fourth", "fifth"):
        made[f"{label}_phase"] = {"steps": int(5000 * phases[label]["share"]), "seed": phases[label]["seed_offset"]}
        made[f"{label}_phase"]["threads"] = phases[label]["threads"]
        made[f"{label}_phase"].update(T._phase_options({"gap_sentences": 0.2}, phases[label]))
    with pytest.raises(ValueError, match="no phase left"):  # the whole recipe's output
        T.run_recipe("gpt2-small", out, first_phase=first, gap_sentences=0.2)
    calls.clear()
    del made["fifth_phase"]  # after the fourth: only the fifth runs
    T.run_recipe("gpt2-small", out, first_phase=first, gap_sentences=0.2)
    assert len(calls) == 1 and calls[0][1] == phases["fifth"]["seed_offset"]
    del made["second_phase"]
    with pytest.raises(ValueError, match="out of order"):
        T.run_recipe("gpt2-small", out, first_phase=first, gap_sentences=0.2)
    del made["third_phase"], made["fourth_phase"]
    for other in ({}, {"gap_sentences": 0.3}, {"gap_sentences": 0.2, "seed": 1}):
        with pytest.raises(ValueError, match="not this command's first phase"):
            T.run_recipe("gpt2-small", out, first_phase=first, **other)
    with pytest.raises(ValueError, match="needs a second phase"):
        T.run_recipe("gpt2-small", out, second_phase=False, first_phase=first, gap_sentences=0.2)
    with pytest.raises(SystemExit):  # the command takes no recipe options: they live in the recipe
        T.main(["gpt2-small", "--gap-sentences", "0.2"])
    made["kernels"] = "ATen NO AVX, MKL_CBWR unset"  # trained on another CPU with its own kernels
    with pytest.raises(ValueError, match="other CPU kernels"):
        T.run_recipe("gpt2-small", out, first_phase=first, gap_sentences=0.2)
