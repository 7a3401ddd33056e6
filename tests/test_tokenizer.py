"""The offline GPT-2 tokenizer must give exactly GPT-2's ids."""

from micourse.standins.synthetic import NAMES
from micourse.tokenizer import gpt2_tokenizer


def test_known_ids():
    tok = gpt2_tokenizer()
    assert tok("The capital of France is")["input_ids"] == [464, 3139, 286, 4881, 318]
    assert tok(" Paris")["input_ids"] == [6342]
    assert tok("Hello world")["input_ids"] == [15496, 995]
    assert tok.eos_token_id == 50256 and tok.bos_token_id == 50256


def test_roundtrip_with_odd_text():
    tok = gpt2_tokenizer()
    text = "  Leading spaces, CAPITALS, numbers 1234567 and émojis 🙂\n\ttabs"
    assert tok.decode(tok(text)["input_ids"]) == text


def test_synthetic_names_are_single_tokens():
    tok = gpt2_tokenizer()
    for name in NAMES:
        assert len(tok(" " + name)["input_ids"]) == 1, name
